"""Gateway: REST, Server-Sent Events and WebSocket over the live bus state and the database.

Live answers (latest prices, spreads, open opportunities) come from memory that JetStream consumers
keep current; history comes from PostgreSQL. ``create_app`` builds the FastAPI app,
``run_gateway`` serves it with uvicorn, and mounts the dashboard (its own package) when installed.

Layout: ``rest/`` the request/response endpoints (routers, shared dependencies, response shapes),
``stream/`` the push side (SSE and WebSocket fan-out and endpoints), ``live/`` the in-memory state
and the bus consumers that feed it, ``storage/`` the PostgreSQL queries, ``middleware/`` API keys,
rate limits and request metrics; ``app``, ``server`` and ``services`` assemble them.
"""
