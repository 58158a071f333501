"""A JetStream server whose file store cannot hold the streams' byte limits (the services reserve
1,728 MiB by default) makes a service fail with the way out, not retry as if NATS were unreachable.

The chart refuses such a volume before anything starts (tests/k8s/test_chart.py); this is what a
service says when it meets one anyway (an existing NATS, or lowered settings elsewhere)."""

from __future__ import annotations

from pathlib import Path

import pytest

from inthegrid.platform.bus import BusError, connect_bus
from inthegrid.platform.settings import CommonSettings
from tests.support.servers import EmbeddedNats


class StoreLimitedNats(EmbeddedNats):
    """nats-server whose JetStream file store holds at most ``max_file_store`` (nats.conf units)."""

    def __init__(self, store_dir: Path, max_file_store: str) -> None:
        super().__init__(store_dir)
        self.max_file_store = max_file_store

    def _command(self) -> list[str]:
        config = self.store_dir.parent / "store.conf"
        config.write_text(f"jetstream {{ max_file_store: {self.max_file_store} }}\n")
        return [*super()._command(), "-c", str(config)]


async def test_a_file_store_too_small_for_the_streams_is_named_with_its_remedy(
    _binaries: None, tmp_path: Path
) -> None:
    # 1 GB: less than the PRICES and OPPORTUNITIES streams reserve together.
    with StoreLimitedNats(tmp_path / "jetstream", "1G") as server, pytest.raises(BusError) as raised:
        await connect_bus(CommonSettings(nats_url=server.url, connect_timeout_seconds=1), "recorder")
    message = str(raised.value)
    assert "insufficient storage resources" in message
    assert "nats.jetstream.storageSize" in message and "INTHEGRID_*_STREAM_MAX_BYTES" in message


async def test_the_default_byte_limits_fit_the_charts_smallest_volume(
    _binaries: None, tmp_path: Path
) -> None:
    """The counterpart: 2 GB (the chart's minimum, nats.jetstream.storageSize 2Gi) holds every stream."""
    with StoreLimitedNats(tmp_path / "jetstream", "2G") as server:
        bus = await connect_bus(CommonSettings(nats_url=server.url, connect_timeout_seconds=5), "recorder")
        await bus.close()
