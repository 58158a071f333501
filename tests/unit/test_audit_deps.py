"""scripts/audit-deps.sh: its verdict on pip-audit's JSON, and its skip when PyPI is unreachable.

The live audit against PyPI is the script itself (run in CI); these check that a finding fails the
run with the fixed versions named, and that what could not be audited is never reported as clean.
"""

from __future__ import annotations

import json
import os
import subprocess
from pathlib import Path

import pytest

from tests.support.servers import free_port

ROOT = Path(__file__).resolve().parents[2]
SCRIPT = ROOT / "scripts" / "audit-deps.sh"
LOCK = ROOT / "requirements.lock"

# The shape `pip-audit -f json` writes (pip_audit/_format/json.py).
VULNERABLE = {
    "dependencies": [
        {"name": "fastapi", "version": "0.165.0", "vulns": []},
        {
            "name": "jinja2",
            "version": "3.1.2",
            "vulns": [
                {"id": "GHSA-h5c8-rqwp-cp95", "fix_versions": ["3.1.3"], "aliases": ["CVE-2024-22195"]},
                {"id": "PYSEC-2024-0000", "fix_versions": [], "aliases": []},
            ],
        },
    ],
    "fixes": [],
}
CLEAN = {"dependencies": [{"name": "fastapi", "version": "0.165.0", "vulns": []}], "fixes": []}
UNAUDITED = {
    "dependencies": [
        {"name": "fastapi", "version": "0.165.0", "vulns": []},
        {
            "name": "orjson",
            "skip_reason": "Dependency not found on PyPI and could not be audited: orjson (3.13.0)",
        },
    ],
    "fixes": [],
}


def run(tmp_path: Path, results: dict | None = None, **env: str) -> subprocess.CompletedProcess[str]:
    extra = dict(env)
    if results is not None:
        saved = tmp_path / "audit.json"
        saved.write_text(json.dumps(results))
        extra["AUDIT_RESULTS"] = str(saved)
    return subprocess.run(
        ["bash", str(SCRIPT), str(LOCK)],
        capture_output=True,
        text=True,
        timeout=60,
        env={**os.environ, **extra},
    )


def test_a_vulnerability_fails_and_names_the_fixed_version(tmp_path: Path) -> None:
    out = run(tmp_path, VULNERABLE)
    assert out.returncode == 1, out.stdout + out.stderr
    assert "VULNERABLE jinja2==3.1.2" in out.stdout
    assert "GHSA-h5c8-rqwp-cp95 (CVE-2024-22195): fixed in 3.1.3" in out.stdout
    assert "PYSEC-2024-0000: fixed in no fixed version yet" in out.stdout
    assert "2 known vulnerabilities in 1 packages" in out.stdout and "FAILED" in out.stdout


def test_clean_and_fully_audited_passes(tmp_path: Path) -> None:
    out = run(tmp_path, CLEAN)
    assert out.returncode == 0 and "OK: no known vulnerabilities" in out.stdout


def test_unaudited_packages_are_named_never_called_clean(tmp_path: Path) -> None:
    out = run(tmp_path, UNAUDITED)
    assert out.returncode == 0, out.stdout
    assert "NOT AUDITED (1)" in out.stdout and "orjson" in out.stdout and "OK" not in out.stdout
    assert "1 of 2 packages audited" in out.stdout
    strict = run(tmp_path, UNAUDITED, AUDIT_STRICT="1")
    assert strict.returncode == 1 and "FAILED" in strict.stdout


def test_unreachable_pypi_is_a_skip(tmp_path: Path) -> None:
    if not (ROOT / ".venv" / "bin" / "pip-audit").exists():
        pytest.skip("pip-audit is not installed in .venv (dev extra)")
    # Nothing listens on this port: the reachability probe fails at once, before pip-audit runs.
    out = run(tmp_path, AUDIT_PYPI_URL=f"http://127.0.0.1:{free_port()}", AUDIT_TIMEOUT="2")
    assert out.returncode == 0, out.stdout + out.stderr
    assert "SKIPPED: PyPI cannot be reached" in out.stdout
