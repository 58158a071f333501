"""The version is written once (services/inthegrid/__init__.py); everything else derives from it or is
checked against it."""

from __future__ import annotations

import importlib.metadata
from pathlib import Path

import yaml

from inthegrid import __version__
from inthegrid_operator.settings import OperatorSettings

ROOT = Path(__file__).parents[2]


def test_package_chart_and_operator_agree_on_the_version() -> None:
    chart = yaml.safe_load((ROOT / "charts" / "inthegrid" / "Chart.yaml").read_text())
    assert importlib.metadata.version("inthegrid") == __version__
    assert chart["appVersion"] == __version__
    assert OperatorSettings().image.endswith(f":{__version__}")


def test_pyproject_does_not_write_a_version_of_its_own() -> None:
    text = (ROOT / "pyproject.toml").read_text()
    assert 'dynamic = ["version"]' in text and "\nversion =" not in text
