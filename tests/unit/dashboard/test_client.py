"""The dashboard's Server-Sent Events parser follows the WHATWG field rules the gateway relies on."""

from __future__ import annotations

from collections.abc import AsyncIterator

from inthegrid.dashboard.client import ServerSentEvent, parse_sse


async def lines(*items: str) -> AsyncIterator[str]:
    for item in items:
        yield item


async def collect(*items: str) -> list[ServerSentEvent]:
    return [e async for e in parse_sse(lines(*items))]


async def test_events_carry_type_data_and_id() -> None:
    events = await collect(
        ": keep-alive",
        "",
        "id: 7",
        "event: opportunity",
        'data: {"a": 1}',
        "",
        "id: 8",
        "data: line1",
        "data: line2",
        "",
    )
    assert events == [
        ServerSentEvent("opportunity", '{"a": 1}', "7"),
        ServerSentEvent("message", "line1\nline2", "8"),
    ]


async def test_id_persists_and_incomplete_event_is_not_emitted() -> None:
    events = await collect("id: 3\r", "data: x\r", "\r", "data: y", "", "data: unterminated")
    assert [(e.data, e.id) for e in events] == [("x", "3"), ("y", "3")]
