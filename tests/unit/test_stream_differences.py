"""Which stream settings a service would change: only those, so most services never need to update."""

from __future__ import annotations

from nats.js.api import DiscardPolicy, StorageType, StreamConfig

from inthegrid.platform.bus import stream_differences


def _desired(**changes: object) -> StreamConfig:
    values: dict[str, object] = {
        "name": "PRICES",
        "subjects": ["inthegrid.prices.>"],
        "storage": StorageType.FILE,
        "num_replicas": 1,
        "discard": DiscardPolicy.OLD,
        "max_age": 7 * 86400.0,
        "max_bytes": 2**30,
        "duplicate_window": 3600.0,
    }
    values.update(changes)
    return StreamConfig(**values)  # type: ignore[arg-type]


def _as_the_server_reports(config: StreamConfig) -> StreamConfig:
    # The server fills in every field the client left unset, and durations round-trip through ns.
    reported = StreamConfig.from_response(config.as_dict())
    reported.max_msgs = -1
    reported.max_msg_size = -1
    return reported


def test_the_same_settings_need_no_update() -> None:
    assert stream_differences(_as_the_server_reports(_desired()), _desired()) == []


def test_each_changed_setting_is_named() -> None:
    existing = _as_the_server_reports(_desired())
    assert stream_differences(existing, _desired(num_replicas=3)) == ["num_replicas"]
    assert stream_differences(existing, _desired(max_age=3600.0, max_bytes=2**20)) == ["max_age", "max_bytes"]
    assert stream_differences(existing, _desired(subjects=["other.>"])) == ["subjects"]


def test_a_setting_left_to_the_server_is_not_a_difference() -> None:
    existing = _as_the_server_reports(_desired(max_msgs=100))
    assert stream_differences(existing, _desired()) == []
    assert stream_differences(existing, _desired(max_msgs=50)) == ["max_msgs"]
