"""PostgreSQL: a connection pool that waits for the server, and the schema migrations.

Migrations are the ``NNNN_name.sql`` files in ``platform/migrations``, applied in name order, each
in its own transaction and recorded in ``schema_migrations``; an advisory lock makes concurrent
starters (recorder and gateway replicas) take turns. Every file is also idempotent by itself.
Whether the tables became TimescaleDB hypertables or plain tables is in ``schema_info('storage')``.
"""

from __future__ import annotations

import asyncio
import logging
import random
import re
from dataclasses import dataclass
from importlib import resources

import asyncpg

from inthegrid.errors import InTheGridError

log = logging.getLogger(__name__)

MIGRATIONS_DIR = ("inthegrid.platform", "migrations")
_MIGRATION_NAME = re.compile(r"^(\d{4})_[a-z0-9_]+\.sql$")
# Any constant shared by every InTheGrid process works; this one spells "ITG" + 1.
_MIGRATION_LOCK_KEY = 0x49544701

# Errors after which the same statement may succeed later: the server is down, restarting,
# overloaded, or the transaction lost a race. Anything else is a problem with the data or SQL.
_TRANSIENT_SQLSTATE_CLASSES = ("08", "53", "57", "40")


class DatabaseError(InTheGridError):
    pass


@dataclass(frozen=True, slots=True)
class Migration:
    version: str
    name: str
    sql: str


def load_migrations() -> list[Migration]:
    """The packaged migration files in the order they must run; a badly named file is an error."""
    found: list[Migration] = []
    for entry in resources.files(MIGRATIONS_DIR[0]).joinpath(MIGRATIONS_DIR[1]).iterdir():
        if not entry.name.endswith(".sql"):
            continue
        match = _MIGRATION_NAME.match(entry.name)
        if match is None:
            raise DatabaseError(f"migration file {entry.name!r} must be named NNNN_lowercase_name.sql")
        found.append(Migration(match.group(1), entry.name, entry.read_text(encoding="utf-8")))
    found.sort(key=lambda m: m.version)
    versions = [m.version for m in found]
    if len(set(versions)) != len(versions):
        raise DatabaseError(f"two migrations share a version: {versions}")
    return found


def is_transient(exc: BaseException) -> bool:
    """True when retrying later may succeed (connection lost, server restarting, deadlock)."""
    if isinstance(exc, OSError | TimeoutError | asyncpg.InterfaceError):
        return True
    if isinstance(exc, asyncpg.PostgresError):
        state = getattr(exc, "sqlstate", None) or ""
        return state[:2] in _TRANSIENT_SQLSTATE_CLASSES
    return False


async def connect_pool(
    url: str,
    *,
    stop: asyncio.Event | None = None,
    timeout: float = 300.0,
    min_size: int = 1,
    max_size: int = 5,
) -> asyncpg.Pool:
    """A pool, retrying with capped exponential backoff until the server answers, stop or timeout."""
    delay, waited = 0.2, 0.0
    while True:
        try:
            pool = await asyncpg.create_pool(
                url, min_size=min_size, max_size=max_size, command_timeout=60, timeout=5
            )
            assert pool is not None
            return pool
        except Exception as exc:
            if not is_transient(exc):
                raise DatabaseError(f"cannot use the database: {exc}") from exc
            if waited >= timeout:
                raise DatabaseError(f"database not reachable after {waited:.0f}s: {exc}") from exc
            if stop is not None and stop.is_set():
                raise DatabaseError("stopped while waiting for the database") from exc
            log.warning("database not reachable (%s); retrying in %.1fs", exc, delay)
            await asyncio.sleep(delay)
            waited += delay
            delay = min(delay * 2, 5.0) * random.uniform(0.8, 1.2)


async def run_migrations(pool: asyncpg.Pool) -> str:
    """Apply what is missing; returns the storage kind ("timescaledb" or "postgresql")."""
    migrations = load_migrations()
    async with pool.acquire() as conn:
        await conn.execute("SELECT pg_advisory_lock($1)", _MIGRATION_LOCK_KEY)
        try:
            await conn.execute(
                "CREATE TABLE IF NOT EXISTS schema_migrations (version text PRIMARY KEY,"
                " name text NOT NULL, applied_at timestamptz NOT NULL DEFAULT now())"
            )
            applied = {r["version"] for r in await conn.fetch("SELECT version FROM schema_migrations")}
            for migration in migrations:
                if migration.version in applied:
                    continue
                async with conn.transaction():
                    await conn.execute(migration.sql)
                    await conn.execute(
                        "INSERT INTO schema_migrations (version, name) VALUES ($1, $2)",
                        migration.version,
                        migration.name,
                    )
                log.info("applied migration %s", migration.name)
            storage = await conn.fetchval("SELECT value FROM schema_info WHERE key = 'storage'")
        finally:
            await conn.execute("SELECT pg_advisory_unlock($1)", _MIGRATION_LOCK_KEY)
    storage = str(storage or "unknown")
    log.info("database schema ready; storage: %s", storage)
    return storage


async def timescaledb_available(conn: asyncpg.Connection) -> bool:
    """Whether the server offers the timescaledb extension (installed or installable)."""
    return bool(
        await conn.fetchval(
            "SELECT EXISTS (SELECT 1 FROM pg_available_extensions WHERE name = 'timescaledb')"
        )
    )
