"""`inthegrid up` and the embedded servers read their settings through pydantic-settings: validated,
with one clear line and exit status 2 for a bad value, before any server starts."""

from __future__ import annotations

from pathlib import Path

import pytest

from inthegrid.cli import main
from inthegrid.local.pg_install import timescaledb_cache_dir, wheel_bin_dir
from inthegrid.local.settings import EmbeddedSettings, UpSettings


@pytest.mark.parametrize(
    ("argv", "env", "says"),
    [
        (["up"], {"INTHEGRID_HTTP_PORT": "abc"}, "INTHEGRID_HTTP_PORT: Input should be a valid integer"),
        (["up", "--port", "70000"], {}, "INTHEGRID_HTTP_PORT: Input should be less than or equal to 65535"),
        (["up"], {"INTHEGRID_EMBEDDED_STORAGE": "mysql"}, "INTHEGRID_EMBEDDED_STORAGE: Input should be"),
    ],
    ids=["port-not-a-number", "port-out-of-range", "unknown-storage"],
)
def test_a_bad_setting_is_one_line_and_exit_2(
    argv: list[str],
    env: dict[str, str],
    says: str,
    tmp_path: Path,
    capsys: pytest.CaptureFixture[str],
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setenv("INTHEGRID_DATA_DIR", str(tmp_path / "data"))
    for key, value in env.items():
        monkeypatch.setenv(key, value)
    assert main(argv) == 2
    err = capsys.readouterr().err
    assert says in err and "Traceback" not in err, err
    assert not (tmp_path / "data").exists()  # nothing was started


def test_up_settings_come_from_the_environment_and_empty_means_unset(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("INTHEGRID_DATA_DIR", "/srv/grid")
    monkeypatch.setenv("INTHEGRID_NATS_URL", "")
    monkeypatch.setenv("INTHEGRID_DATABASE_URL", "postgresql://u:pw@db/x")
    settings = UpSettings()
    assert settings.data_dir == Path("/srv/grid") and settings.http_port == 8000
    assert settings.nats_url is None
    assert settings.database_url is not None and "pw" not in repr(settings)


def test_embedded_overrides_reach_the_install_lookup(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("INTHEGRID_TIMESCALEDB_CACHE", str(tmp_path / "tsdb"))
    monkeypatch.setenv("INTHEGRID_PG_BIN_DIR", str(tmp_path / "bin"))
    assert timescaledb_cache_dir() == tmp_path / "tsdb"
    assert wheel_bin_dir() == tmp_path / "bin"
    monkeypatch.setenv("INTHEGRID_PG_BIN_DIR", "")
    assert EmbeddedSettings().pg_bin_dir is None
    monkeypatch.delenv("INTHEGRID_TIMESCALEDB_CACHE")
    assert timescaledb_cache_dir() == Path.home() / ".cache" / "inthegrid" / "timescaledb"
