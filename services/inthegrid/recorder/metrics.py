"""The recorder's Prometheus metrics (labels bounded: a handful of table names)."""

from __future__ import annotations

from prometheus_client import Counter, Histogram

from inthegrid.platform.metrics import LATENCY_BUCKETS

ROWS_WRITTEN = Counter(
    "inthegrid_recorder_rows_written_total",
    "Rows inserted or updated (a redelivered duplicate writes nothing and is not counted)",
    ["table"],
)
WRITE_ERRORS = Counter(
    "inthegrid_recorder_write_errors_total",
    "Batch writes that failed (each is retried or dead-lettered)",
    ["table"],
)
BATCH_SECONDS = Histogram(
    "inthegrid_recorder_batch_duration_seconds",
    "Time to write one batch: COPY, upsert and commit",
    ["table"],
    buckets=LATENCY_BUCKETS,
)
BATCH_ROWS = Histogram(
    "inthegrid_recorder_batch_rows",
    "Messages per written batch",
    ["table"],
    buckets=(1, 5, 10, 50, 100, 250, 500, 1000, 2000, 5000, 10000, 50000),
)
