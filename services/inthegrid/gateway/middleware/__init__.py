"""ASGI middleware around every request: API keys, rate limits, security headers, request metrics."""
