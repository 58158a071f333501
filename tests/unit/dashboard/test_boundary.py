"""The dashboard's boundary as a checked contract: it reaches the gateway over HTTP only, and the
gateway mounts it by name without importing it (the import-linter contracts in pyproject.toml)."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
import tomllib
from pathlib import Path
from typing import Any

import pytest

ROOT = Path(__file__).resolve().parents[3]
LINT_IMPORTS = Path(sys.executable).with_name("lint-imports")
CONTRACTS = ("dashboard-talks-http-only", "gateway-mounts-dashboard-by-name")


def contract(contract_id: str) -> dict[str, Any]:
    config = tomllib.loads((ROOT / "pyproject.toml").read_text(encoding="utf-8"))["tool"]["importlinter"]
    return next(c for c in config["contracts"] if c["id"] == contract_id)


def lint_imports(cwd: Path, *args: str, pythonpath: Path | None = None) -> subprocess.CompletedProcess[str]:
    env = dict(os.environ)
    if pythonpath is not None:
        env["PYTHONPATH"] = str(pythonpath)
    return subprocess.run(
        [str(LINT_IMPORTS), "--no-cache", "--no-logo", *args],
        cwd=cwd,
        env=env,
        capture_output=True,
        text=True,
        check=False,
    )


def test_the_boundary_contracts_are_kept() -> None:
    result = lint_imports(ROOT, *(arg for c in CONTRACTS for arg in ("--contract", c)))
    assert result.returncode == 0, result.stdout + result.stderr
    assert "2 kept, 0 broken" in result.stdout


def test_the_dashboard_contract_forbids_the_gateway_the_bus_and_the_database() -> None:
    forbidden = set(contract("dashboard-talks-http-only")["forbidden_modules"])
    assert {"inthegrid.gateway", "inthegrid.platform", "nats", "asyncpg"} <= forbidden
    # What the dashboard is built on stays allowed: the pure domain, the error root, HTTP.
    assert not forbidden & {"inthegrid.domain", "inthegrid.errors", "httpx"}


@pytest.mark.parametrize("leak", ["inthegrid.gateway", "inthegrid.platform", "nats"])
def test_a_dashboard_module_importing_past_http_breaks_the_contract(tmp_path: Path, leak: str) -> None:
    """The real dashboard package plus one module importing `leak`, checked by the contract as
    written in pyproject.toml: import-linter reports that module and fails."""
    spec = contract("dashboard-talks-http-only")
    package = tmp_path / "inthegrid"
    shutil.copytree(ROOT / "services" / "inthegrid" / "dashboard", package / "dashboard")
    (package / "__init__.py").write_text("")
    for name in spec["forbidden_modules"]:
        if name.startswith("inthegrid."):  # the graph must hold each forbidden package of ours
            (package / name.removeprefix("inthegrid.")).mkdir()
            (package / name.removeprefix("inthegrid.") / "__init__.py").write_text("")
    (package / "dashboard" / "leak.py").write_text(f"import {leak}\n")
    (tmp_path / "pyproject.toml").write_text(
        '[tool.importlinter]\nroot_packages = ["inthegrid"]\ninclude_external_packages = true\n\n'
        "[[tool.importlinter.contracts]]\n"
        + "".join(f"{key} = {_toml(value)}\n" for key, value in spec.items())
    )
    result = lint_imports(tmp_path, pythonpath=tmp_path)
    assert result.returncode == 1, result.stdout + result.stderr
    assert f"inthegrid.dashboard.leak -> {leak}" in result.stdout
    assert "0 kept, 1 broken" in result.stdout


def _toml(value: object) -> str:
    if isinstance(value, list):
        return "[" + ", ".join(_toml(v) for v in value) + "]"
    return '"' + str(value) + '"'
