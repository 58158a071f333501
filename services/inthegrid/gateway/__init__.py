"""Gateway: REST, Server-Sent Events and the dashboard mount over the live bus state and the database.

Live answers (latest prices, spreads, open opportunities) come from memory that JetStream consumers
keep current; history comes from PostgreSQL. ``create_app`` builds the FastAPI app,
``run_gateway`` serves it with uvicorn.
"""
