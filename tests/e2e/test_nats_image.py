"""The bundled NATS image built here is the version the chart names, and starts the way the chart
starts it (entrypoint nats-server, arguments only)."""

from __future__ import annotations

from pathlib import Path

import pytest
import yaml

from tests.e2e import docker
from tests.e2e.nats_image import nats_image_version

ROOT = Path(__file__).parents[2]


def test_the_nats_version_is_the_charts() -> None:
    values = yaml.safe_load((ROOT / "charts" / "inthegrid" / "values.yaml").read_text())
    # The chart names the public image's tag (e.g. 2.10.24-alpine); the server version leads it.
    assert values["nats"]["image"]["tag"].split("-")[0] == nats_image_version()


def test_the_nats_image_reports_its_version_as_uid_10001(engine: None) -> None:
    image = f"{docker.NATS_REPOSITORY}:{nats_image_version()}"
    config = docker.image_config(image)
    if config is None:
        pytest.skip(f"image {image} not built (make image)")
    assert config["Config"]["Entrypoint"] == ["nats-server"]
    assert config["Config"]["User"] == "10001:10001"
    result = docker.run(image, "--version")
    assert result.status == 0, result.err
    assert result.out.strip() == f"nats-server: v{nats_image_version()}"
