"""PostgreSQL access: the pool, history queries and long-range aggregates (read-only)."""
