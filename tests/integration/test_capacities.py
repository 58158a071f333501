"""Capacities on the bus: a real nats-server and calculator; a published capacity re-values the open
opportunity of its border (updated at the offered capacity, then closed when the schedule fills it)."""

from __future__ import annotations

import asyncio
from datetime import UTC, datetime, timedelta
from pathlib import Path

from inthegrid.calculator.service import run_calculator
from inthegrid.domain.capacity import BorderQuantity, CapacityKind
from inthegrid.domain.capacity_codec import encode_quantity, quantity_message_id
from inthegrid.domain.codec import encode_price
from inthegrid.domain.event_batch_codec import decode_events
from inthegrid.domain.opportunities import EventKind, OpportunityEvent
from inthegrid.domain.prices import make_price
from inthegrid.platform.bus import capacity_subject, connect_bus, price_subject, publish_all
from inthegrid.platform.metrics import HealthState
from inthegrid.platform.settings import CalculatorSettings, CommonSettings
from tests.support.faults import wait_for

RULE = Path(__file__).resolve().parents[1] / "fixtures" / "rules" / "de-ch-explicit.yaml"


async def test_published_capacities_change_the_live_valuation(nats_url: str) -> None:
    start = datetime.now(UTC).replace(minute=0, second=0, microsecond=0) + timedelta(days=1)
    settings = CalculatorSettings.model_validate(
        {"nats_url": nats_url, "rule_name": "de-ch-explicit", "rule_file": str(RULE), "metrics_port": 0}
    )
    stop = asyncio.Event()
    calculator = asyncio.create_task(run_calculator(settings, stop, HealthState()))
    bus = await connect_bus(CommonSettings(nats_url=nats_url), "test")
    seen: list[OpportunityEvent] = []

    async def collect(msg) -> None:  # type: ignore[no-untyped-def]
        seen.extend(e for _, e in decode_events(msg.data).events)

    sub = await bus.nc.subscribe("inthegrid.opportunities.>", cb=collect)
    try:
        published = datetime.now(UTC)
        prices = [
            make_price("DE-LU", start, 50.0, source="test", published_at=published),
            make_price("CH", start, 90.0, source="test", published_at=published),
        ]
        await publish_all(
            bus, [(price_subject(p.market.value, p.zone), encode_price(p), p.message_id) for p in prices]
        )

        def kinds(kind: EventKind) -> list[OpportunityEvent]:
            return [e for e in seen if e.kind is kind and e.delivery_start == start]

        async def opened() -> list[OpportunityEvent]:
            return kinds(EventKind.OPENED)

        (first,) = await wait_for(opened, 60, "the DE-LU/CH opportunity at the static capacity")
        assert first.value is not None and first.value.capacity_source == "static"

        async def publish(q: BorderQuantity) -> None:
            await publish_all(
                bus,
                [
                    (
                        capacity_subject(q.kind.value, q.source, q.target),
                        encode_quantity(q),
                        quantity_message_id(q),
                    )
                ],
            )

        hour = start + timedelta(hours=1)
        await publish(
            BorderQuantity("DE-LU", "CH", start, hour, 1192.0, CapacityKind.AUCTION_OFFERED, "test")
        )

        async def updated() -> list[OpportunityEvent]:
            return kinds(EventKind.UPDATED)

        (update,) = await wait_for(updated, 60, "the opportunity re-valued at the offered capacity")
        assert update.value is not None
        assert update.value.capacity_mw == 1192.0
        assert update.value.capacity_source == "DE-LU->CH:auction_offered"
        assert update.value.value_eur != first.value.value_eur
        await publish(BorderQuantity("DE-LU", "CH", start, hour, 1192.0, CapacityKind.SCHEDULED, "test"))

        async def closed() -> list[OpportunityEvent]:
            return kinds(EventKind.CLOSED)

        await wait_for(closed, 60, "the opportunity closed once no capacity is left")
    finally:
        await sub.unsubscribe()
        await bus.close()
        stop.set()
        await calculator


async def test_cli_publishes_real_documents_and_the_gateway_state_follows(nats_url: str, capsys) -> None:
    from inthegrid.cli import main
    from inthegrid.gateway.services import GatewayServices
    from inthegrid.platform.settings import GatewaySettings

    fixtures = RULE.parents[1] / "entsoe"
    files = [
        str(fixtures / "emaps_ES_FR_capacity_day_ahead_export.xml"),
        str(fixtures / "emaps_DK-DK1_GB_exchange_exports.xml"),
    ]
    # main() runs its own event loop: run it in a thread, as a user's shell would run it beside us.
    code = await asyncio.to_thread(main, ["capacities", *files, "--nats-url", nats_url])
    assert code == 0
    assert (
        "published 53 figures (0 already on the bus)" in capsys.readouterr().out
    )  # 9 A61 runs + 44 A11 hours
    services = GatewayServices(GatewaySettings.model_validate({"nats_url": nats_url, "dashboard": False}))
    live, feeder = services.live, services.feeder
    bus = await connect_bus(CommonSettings(nats_url=nats_url), "test")
    try:
        await feeder.start(bus, timedelta(hours=1))

        async def followed() -> int | None:
            return len(live.capacities) if len(live.capacities) == 53 else None

        await wait_for(followed, 30, "the gateway's live state to hold every published figure")
        latest = {(q.direction, q.kind.value): q.mw for q in live.capacities.latest()}
        assert latest == {("FR->ES", "A61"): 3607.0, ("DK1->GB", "A11"): 0.0}
    finally:
        await feeder.stop()
        await bus.close()
