"""Error counters are published at 0 before the first error, so the recording rules that rate() them
(namespace_table:inthegrid_recorder_write_errors:rate5m, namespace_kind_type:...reconcile_errors:rate10m)
answer on a healthy platform instead of returning nothing (the kind tier's Prometheus test asks)."""

from __future__ import annotations

import asyncio
from typing import Any, cast

from prometheus_client import REGISTRY

from inthegrid.platform.metrics import HealthState
from inthegrid.platform.settings import RecorderSettings
from inthegrid.recorder.consumer import StreamRecorder
from inthegrid.recorder.service import build_sinks
from inthegrid_operator.kube import PLURALS
from inthegrid_operator.metrics import RECONCILE_ERROR_TYPES


def test_the_operator_publishes_every_kind_and_error_type_at_zero() -> None:
    for kind in PLURALS:
        for error in RECONCILE_ERROR_TYPES:
            labels = {"kind": kind, "type": error}
            assert (
                REGISTRY.get_sample_value("inthegrid_operator_reconcile_errors_total", labels) is not None
            ), labels


def test_a_stream_recorder_publishes_its_tables_write_errors_at_zero() -> None:
    for sink in build_sinks(RecorderSettings()):
        StreamRecorder(
            cast(Any, None),  # neither the bus nor the pool is touched before run()
            cast(Any, None),
            sink,
            batch=100,
            flush_seconds=0.1,
            writers=1,
            stop=asyncio.Event(),
            health=HealthState(),
        )
        value = REGISTRY.get_sample_value("inthegrid_recorder_write_errors_total", {"table": sink.table})
        assert value is not None, sink.table
