"""The layering in docs/architecture.md, enforced: services never import each other, the domain
does no I/O, and the operator uses only the domain and the shared settings."""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
PACKAGE = ROOT / "services" / "inthegrid"
SERVICES = ("feed", "calculator", "recorder", "gateway")
IO_MODULES = {"asyncpg", "nats", "httpx", "socket", "subprocess", "fastapi", "kopf", "kubernetes", "requests"}


def _imports(path: Path) -> set[str]:
    tree = ast.parse(path.read_text(encoding="utf-8"))
    names: set[str] = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            names.update(a.name for a in node.names)
        elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            names.add(node.module)
    return names


def _modules(folder: Path) -> list[Path]:
    return sorted(folder.rglob("*.py"))


@pytest.mark.parametrize("service", SERVICES)
def test_services_never_import_each_other(service):
    others = {f"inthegrid.{s}" for s in SERVICES if s != service}
    for path in _modules(PACKAGE / service):
        bad = {i for i in _imports(path) if any(i == o or i.startswith(o + ".") for o in others)}
        assert not bad, f"{path.relative_to(ROOT)} imports another service: {sorted(bad)}"


def test_domain_is_pure():
    for path in _modules(PACKAGE / "domain"):
        imports = _imports(path)
        bad = {i for i in imports if i.split(".")[0] in IO_MODULES}
        ours = {
            i
            for i in imports
            if i.startswith("inthegrid.") and not i.startswith(("inthegrid.domain", "inthegrid.errors"))
        }
        assert not bad and not ours, f"{path.relative_to(ROOT)} imports {sorted(bad | ours)}"


def test_operator_uses_only_domain_and_settings():
    operator = ROOT / "operator" / "inthegrid_operator"
    allowed = (
        "inthegrid.domain",
        "inthegrid.errors",
        "inthegrid.platform.settings",
        "inthegrid.platform.logs",
        "inthegrid_operator",
        "inthegrid.platform.metrics",
    )
    for path in _modules(operator):
        bad = {i for i in _imports(path) if i.startswith("inthegrid.") and not i.startswith(allowed)}
        assert not bad, f"{path.relative_to(ROOT)} imports {sorted(bad)}"


def test_modules_stay_small():
    for path in [*_modules(PACKAGE), *_modules(ROOT / "operator")]:
        lines = len(path.read_text(encoding="utf-8").splitlines())
        assert lines <= 600, f"{path.relative_to(ROOT)} has {lines} lines: split it by responsibility"
