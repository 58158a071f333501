"""The Gradio dashboard: a separate HTTP client of the gateway's public REST and SSE API.

It runs alone (``inthegrid dashboard --api URL``) or mounted at the gateway's /dashboard, and in
both cases reads data only over HTTP (``client.GatewayClient``); it imports no gateway, bus or
database code (an import-linter contract in pyproject.toml checks this).
"""
