"""The gateway's PostgreSQL access: a pool connected in the background (with retry), and queries that
turn an unreachable database into DatabaseUnavailableError (HTTP 503), never a stack trace."""

from __future__ import annotations

import asyncio
import logging
from typing import Any

import asyncpg

from inthegrid.errors import InTheGridError
from inthegrid.platform.db import DatabaseError, connect_pool, is_transient

log = logging.getLogger(__name__)

QUERY_TIMEOUT_SECONDS = 10.0
ACQUIRE_TIMEOUT_SECONDS = 5.0


class DatabaseUnavailableError(InTheGridError):
    """History cannot be read now; the message says why (shown to the client as a 503 detail)."""


class Database:
    def __init__(self, url: str, pool_size: int = 10) -> None:
        self._url = url
        self._pool_size = pool_size
        self.pool: asyncpg.Pool | None = None
        self.problem = "not connected yet"

    async def connect(self, stop: asyncio.Event) -> None:
        """Connect, retrying until connected or stopped; a permanent error is logged and kept."""
        while not stop.is_set():
            try:
                self.pool = await connect_pool(
                    self._url, stop=stop, timeout=float("inf"), min_size=1, max_size=self._pool_size
                )
                self.problem = ""
                log.info("connected to the database")
                return
            except DatabaseError as exc:
                self.problem = str(exc)
                log.error("database: %s", exc)
                await asyncio.sleep(5.0)

    async def close(self) -> None:
        if self.pool is not None:
            try:
                await asyncio.wait_for(self.pool.close(), 5)
            except TimeoutError:
                self.pool.terminate()
            self.pool = None

    async def fetch(self, sql: str, *args: Any) -> list[asyncpg.Record]:
        if self.pool is None:
            raise DatabaseUnavailableError(f"database unavailable: {self.problem}")
        try:
            async with self.pool.acquire(timeout=ACQUIRE_TIMEOUT_SECONDS) as conn:
                return list(await conn.fetch(sql, *args, timeout=QUERY_TIMEOUT_SECONDS))
        except asyncpg.UndefinedTableError as exc:
            raise DatabaseUnavailableError(
                f"database schema not ready (the recorder creates it): {exc}"
            ) from None
        except Exception as exc:
            if is_transient(exc) or _unreachable(exc):
                log.warning("database query failed: %s", exc)
                raise DatabaseUnavailableError(f"database unavailable: {type(exc).__name__}: {exc}") from None
            raise

    async def ping(self) -> bool:
        if self.pool is None:
            return False
        try:
            await self.fetch("SELECT 1")
            return True
        except DatabaseUnavailableError:
            return False


# Connection-level refusals that a retry later may fix (a database dropped or being restored, a
# role being rotated): the client gets a 503, not a 500.
_UNREACHABLE_SQLSTATE_CLASSES = ("08", "28", "3D", "57")


def _unreachable(exc: BaseException) -> bool:
    if isinstance(exc, asyncpg.PostgresConnectionError):
        return True
    state = getattr(exc, "sqlstate", None) or ""
    return isinstance(exc, asyncpg.PostgresError) and state[:2] in _UNREACHABLE_SQLSTATE_CLASSES
