"""The layering in docs/architecture.md, enforced by import-linter's contracts (pyproject.toml,
``[tool.importlinter]``; `make lint` runs them too), and the size of modules."""

from __future__ import annotations

import subprocess
import sys
import tomllib
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
PACKAGE = ROOT / "services" / "inthegrid"
LINT_IMPORTS = Path(sys.executable).parent / "lint-imports"


def _contracts() -> list[dict[str, object]]:
    config = tomllib.loads((ROOT / "pyproject.toml").read_text(encoding="utf-8"))
    return list(config["tool"]["importlinter"]["contracts"])


def test_the_import_contracts_are_kept() -> None:
    done = subprocess.run(
        [str(LINT_IMPORTS), "--no-cache"], cwd=ROOT, capture_output=True, text=True, timeout=120, check=False
    )
    assert done.returncode == 0, done.stdout[-4000:] + done.stderr[-2000:]
    assert f"{len(_contracts())} kept, 0 broken" in done.stdout


def test_every_package_is_under_some_contract() -> None:
    """A new package (or module at the top) must be placed in the layering, not slip past it."""
    named: set[str] = set()
    for contract in _contracts():
        for key in ("source_modules", "forbidden_modules", "modules"):
            named.update(str(m) for m in contract.get(key, []))  # type: ignore[attr-defined]
    ours = {
        f"inthegrid.{p.stem if p.is_file() else p.name}"
        for p in PACKAGE.iterdir()
        if (p.is_dir() and (p / "__init__.py").exists()) or (p.suffix == ".py" and p.stem != "__init__")
    }
    # The error root is imported by every layer on purpose: the one module no contract restricts.
    missing = ours - named - {"inthegrid.errors"}
    assert not missing, f"add {sorted(missing)} to a [tool.importlinter] contract in pyproject.toml"
    assert "inthegrid_operator" in named


def _modules(folder: Path) -> list[Path]:
    return sorted(folder.rglob("*.py"))


def test_modules_stay_small() -> None:
    for path in [*_modules(PACKAGE), *_modules(ROOT / "operator")]:
        lines = len(path.read_text(encoding="utf-8").splitlines())
        assert lines <= 600, f"{path.relative_to(ROOT)} has {lines} lines: split it by responsibility"
