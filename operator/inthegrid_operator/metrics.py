"""Prometheus metrics of the operator (labels are bounded: kind, result, error type)."""

from __future__ import annotations

import time
from collections.abc import Iterator
from contextlib import contextmanager

from prometheus_client import Counter, Histogram

from inthegrid_operator.kube import PLURALS

RECONCILES = Counter(
    "inthegrid_operator_reconciles_total",
    "Reconciliations of MarketFeeds and ArbitrageRules, by result (ok, invalid, error)",
    ["kind", "result"],
)
RECONCILE_ERRORS = Counter(
    "inthegrid_operator_reconcile_errors_total",
    "Reconciliations that failed, by type (temporary, permanent, invalid_spec)",
    ["kind", "type"],
)
# Each (kind, type) published at 0 from the start, so rate() over it answers before the first error.
RECONCILE_ERROR_TYPES = ("temporary", "permanent", "invalid_spec")
for _kind in PLURALS:
    for _type in RECONCILE_ERROR_TYPES:
        RECONCILE_ERRORS.labels(_kind, _type)
RECONCILE_DURATION = Histogram(
    "inthegrid_operator_reconcile_duration_seconds",
    "Time to reconcile one resource (render, apply children, build status)",
    ["kind"],
    buckets=(0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10),
)


@contextmanager
def timed_reconcile(kind: str) -> Iterator[None]:
    start = time.perf_counter()
    try:
        yield
    finally:
        RECONCILE_DURATION.labels(kind).observe(time.perf_counter() - start)
