"""The gateway's Prometheus metrics (route labels are route templates, never raw paths)."""

from __future__ import annotations

from prometheus_client import Counter, Gauge, Histogram

from inthegrid.platform.metrics import LATENCY_BUCKETS

REQUESTS = Counter(
    "inthegrid_gateway_requests_total", "HTTP requests answered", ["route", "method", "status"]
)
REQUEST_SECONDS = Histogram(
    "inthegrid_gateway_request_duration_seconds",
    "Time to answer an HTTP request (SSE: the connection's life)",
    ["route"],
    buckets=LATENCY_BUCKETS,
)
SSE_CLIENTS = Gauge("inthegrid_gateway_sse_clients", "Connected Server-Sent Events clients", ["stream"])
SSE_DROPPED = Counter(
    "inthegrid_gateway_sse_dropped_events_total",
    "SSE events dropped because a client's queue was full",
    ["stream"],
)
SSE_DISCONNECTED = Counter(
    "inthegrid_gateway_sse_disconnected_total", "SSE clients ended by the gateway", ["stream", "reason"]
)
LIVE_MESSAGES = Counter(
    "inthegrid_gateway_live_messages_total", "Bus messages applied to the live state", ["stream", "outcome"]
)
