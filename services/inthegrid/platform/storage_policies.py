"""TimescaleDB compression and retention policies, set from settings at every recorder start.

Policies are background jobs inside the database; setting them again with other values replaces
them, so changing ``INTHEGRID_COMPRESS_AFTER_DAYS`` / ``INTHEGRID_RETENTION_DAYS`` and restarting the
recorder is all a user does. On plain PostgreSQL there is nothing to set (and nothing is pretended).
"""

from __future__ import annotations

import logging
from datetime import timedelta

import asyncpg

log = logging.getLogger(__name__)

HYPERTABLES = ("prices", "opportunities", "opportunity_events")


async def apply_storage_policies(
    pool: asyncpg.Pool, *, compress_after_days: float, retention_days: float
) -> dict[str, str]:
    """Replace each hypertable's compression and retention policy; returns what was set per table."""
    applied: dict[str, str] = {}
    async with pool.acquire() as conn:
        storage = await conn.fetchval("SELECT value FROM schema_info WHERE key = 'storage'")
        if storage != "timescaledb":
            return applied
        # Policies (background jobs) are Timescale-License code; an Apache-only server has none.
        licence = await conn.fetchval("SELECT current_setting('timescaledb.license', true)")
        if licence == "apache":
            log.warning("TimescaleDB runs with the Apache-only licence: no compression or retention policies")
            return applied
        compressible = {
            r["hypertable_name"]
            for r in await conn.fetch(
                "SELECT hypertable_name FROM timescaledb_information.hypertables WHERE compression_enabled"
            )
        }
        for table in HYPERTABLES:
            async with conn.transaction():
                parts = []
                if table in compressible:
                    await conn.execute(
                        "SELECT remove_compression_policy($1::regclass, if_exists => true)", table
                    )
                    if compress_after_days > 0:
                        await conn.execute(
                            "SELECT add_compression_policy($1::regclass, compress_after => $2::interval)",
                            table,
                            timedelta(days=compress_after_days),
                        )
                        parts.append(f"compress after {compress_after_days:g} d")
                await conn.execute("SELECT remove_retention_policy($1::regclass, if_exists => true)", table)
                if retention_days > 0:
                    await conn.execute(
                        "SELECT add_retention_policy($1::regclass, drop_after => $2::interval)",
                        table,
                        timedelta(days=retention_days),
                    )
                    parts.append(f"drop after {retention_days:g} d")
                applied[table] = ", ".join(parts) or "keep uncompressed forever"
    log.info("storage policies: %s", "; ".join(f"{t}: {p}" for t, p in applied.items()))
    return applied
