"""The migration files as packaged, and which database errors count as worth retrying."""

from __future__ import annotations

import asyncpg
import pytest

from inthegrid.platform.db import is_transient, load_migrations


def test_migrations_load_in_version_order_with_unique_versions() -> None:
    migrations = load_migrations()
    versions = [m.version for m in migrations]
    assert versions == sorted(versions) and len(set(versions)) == len(versions)
    assert versions[:2] == ["0001", "0002"]


def test_every_migration_is_written_to_run_twice() -> None:
    # Runner bookkeeping aside, each file must be safe to re-run (a crash between the DDL and its
    # schema_migrations row replays it): only IF NOT EXISTS forms and guarded DO blocks.
    for migration in load_migrations():
        sql = migration.sql.upper()
        assert sql.count("CREATE TABLE ") == sql.count("CREATE TABLE IF NOT EXISTS "), migration.name
        assert sql.count("CREATE INDEX ") == sql.count("CREATE INDEX IF NOT EXISTS "), migration.name
        assert "DROP " not in sql, migration.name


@pytest.mark.parametrize(
    ("exc", "transient"),
    [
        (ConnectionRefusedError(), True),
        (TimeoutError(), True),
        (asyncpg.exceptions.ConnectionDoesNotExistError("gone"), True),
        (asyncpg.exceptions.CannotConnectNowError("starting up"), True),
        (asyncpg.exceptions.AdminShutdownError("shutting down"), True),
        (asyncpg.exceptions.DeadlockDetectedError("deadlock"), True),
        (asyncpg.exceptions.TooManyConnectionsError("full"), True),
        (asyncpg.exceptions.NumericValueOutOfRangeError("overflow"), False),
        (asyncpg.exceptions.UndefinedTableError("no table"), False),
        (asyncpg.exceptions.InvalidPasswordError("wrong"), False),
        (ValueError("bug"), False),
    ],
)
def test_only_outages_and_races_are_transient(exc: BaseException, transient: bool) -> None:
    assert is_transient(exc) is transient
