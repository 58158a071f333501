"""The e2e tier: the images `make image` built, run by a real Docker engine.

``make test-e2e`` installs and starts the engine, builds the images and then runs this folder.
Without an engine or an image the tests skip and say which step is missing (under CI a skip fails).
"""

from __future__ import annotations

import pytest

from tests.e2e import docker


@pytest.fixture(scope="session")
def engine() -> None:
    problem = docker.engine_problem()
    if problem:
        pytest.skip(problem)


def _image(variant: str) -> str:
    name = docker.VARIANTS[variant]
    if docker.image_config(name) is None:
        pytest.skip(f"image {name} not built (make image)")
    return name


@pytest.fixture(scope="session")
def full_image(engine: None) -> str:
    return _image("full")


@pytest.fixture(scope="session")
def services_image(engine: None) -> str:
    return _image("services")


@pytest.fixture(scope="session")
def operator_image(engine: None) -> str:
    return _image("operator")


@pytest.fixture(scope="session", params=sorted(docker.VARIANTS))
def any_image(request: pytest.FixtureRequest, engine: None) -> str:
    return _image(request.param)
