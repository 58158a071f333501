"""The images as the chart runs them: every command starts, as uid 10001 on a read-only root
filesystem with no capabilities, at the chart's appVersion; the slim variants carry only their
extras and name the missing one instead of a traceback."""

from __future__ import annotations

import argparse
from pathlib import Path

import pytest
import yaml

from inthegrid.cli import build_parser
from tests.e2e import docker

ROOT = Path(__file__).parents[2]
APP_UID = "10001"


def subcommand_names() -> list[str]:
    (sub,) = (a for a in build_parser()._actions if isinstance(a, argparse._SubParsersAction))
    return sorted(sub.choices)


def test_version_matches_the_charts_app_version(any_image: str) -> None:
    chart = yaml.safe_load((ROOT / "charts" / "inthegrid" / "Chart.yaml").read_text())
    result = docker.run(any_image, "--version")
    assert result.status == 0, result.err
    assert result.out.strip() == f"inthegrid {chart['appVersion']}"


@pytest.mark.parametrize("command", subcommand_names())
def test_every_command_starts(full_image: str, command: str) -> None:
    result = docker.run(full_image, command, "--help")
    assert result.status == 0, result.err
    assert result.out.startswith(f"usage: inthegrid {command}")
    assert "example:" in result.out or "examples:" in result.out


def test_the_image_runs_as_uid_10001_by_default(any_image: str) -> None:
    config = docker.image_config(any_image)
    assert config is not None
    assert config["Config"]["User"] == f"{APP_UID}:{APP_UID}"
    assert config["Config"]["Entrypoint"] == ["inthegrid"]
    # No --user: the image's own user, under the chart's restrictions.
    result = docker.shell(any_image, "id -u; id -g")
    assert result.status == 0, result.err
    assert result.out.split() == [APP_UID, APP_UID]


def test_the_root_filesystem_is_read_only_and_tmp_is_writable(full_image: str) -> None:
    script = (
        "for dir in / /app /app/data/prices /opt/inthegrid/bin /etc; do "
        '  if touch "$dir/probe" 2>/dev/null; then echo "wrote $dir"; else echo "refused $dir"; fi; '
        "done; "
        'touch /tmp/probe && echo "wrote /tmp"; echo "HOME=$HOME"'
    )
    result = docker.shell(full_image, script, options=(*docker.RESTRICTED, "--user", f"{APP_UID}:{APP_UID}"))
    assert result.status == 0, result.err
    lines = result.out.splitlines()
    assert [line for line in lines if line.startswith("wrote")] == ["wrote /tmp"]
    assert "HOME=/tmp" in lines


def test_the_full_image_imports_every_component(full_image: str) -> None:
    modules = [
        "inthegrid.feed.service",
        "inthegrid.calculator.service",
        "inthegrid.recorder.service",
        "inthegrid.gateway.server",
        "inthegrid.dashboard.app",
        "inthegrid.backtest.report",
        "inthegrid_operator.main",
    ]
    result = docker.python(full_image, f"import {', '.join(modules)}; print('ok')")
    assert result.status == 0, result.err
    assert result.out.strip() == "ok"


# Packages each slim variant must not carry (they are what made the one image 900 MB).
HEAVY = ("gradio", "plotly", "pyarrow", "kopf", "kubernetes")
SLIM = {
    "services": {
        "imports": [
            "inthegrid.feed.service",
            "inthegrid.calculator.service",
            "inthegrid.recorder.service",
            "inthegrid.gateway.server",
        ],
        "absent": HEAVY,
    },
    "operator": {
        "imports": ["inthegrid_operator.main"],
        "absent": ("gradio", "plotly", "pyarrow", "fastapi", "nats", "asyncpg", "pandas"),
    },
}


@pytest.mark.parametrize("variant", sorted(SLIM))
def test_a_slim_variant_carries_its_components_only(engine: None, variant: str) -> None:
    image = docker.VARIANTS[variant]
    if docker.image_config(image) is None:
        pytest.skip(f"image {image} not built (make image)")
    wanted, absent = SLIM[variant]["imports"], SLIM[variant]["absent"]
    code = (
        f"import importlib.util, {', '.join(wanted)}; "
        f"print(' '.join(m for m in {tuple(absent)!r} if importlib.util.find_spec(m)) or 'none')"
    )
    result = docker.python(image, code)
    assert result.status == 0, result.err
    assert result.out.strip() == "none", f"{image} carries {result.out.strip()}"


@pytest.mark.parametrize(
    ("command", "extra"),
    [(["operator"], "operator"), (["dashboard", "--port", "7999"], "dashboard")],
)
def test_a_command_missing_from_the_services_image_names_its_extra(
    services_image: str, command: list[str], extra: str
) -> None:
    result = docker.run(services_image, *command)
    assert result.status == 1
    assert f"'inthegrid[{extra}]'" in result.err
    assert "Traceback" not in result.err and len(result.err.strip().splitlines()) == 1
