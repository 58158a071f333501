"""The e2e tier: the images `make image` built, run by a real Docker engine.

``make test-e2e`` installs and starts the engine, builds the images and then runs this folder.
Without an engine or an image the tests skip and say which step is missing (under CI a skip fails).
"""

from __future__ import annotations

import os
from collections.abc import Iterator

import pytest

from tests.e2e import docker, kind_platform
from tests.e2e import kind_cluster as kind_cluster_module


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


# The kind cluster tests (marker `kind`) create a whole cluster; they run when asked for
# (`make test-e2e-kind`, which sets INTHEGRID_E2E_KIND=1) and are otherwise deselected, not skipped.
KIND_OPT_IN = "INTHEGRID_E2E_KIND"


# The kind modules share one installation (the `platform` fixture); the one that uninstalls it runs
# after the others, then the one that installs the platform again with `skaffold run`.
LAST_MODULES = ("test_kind_uninstall.py", "test_kind_skaffold.py")


def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    if os.environ.get(KIND_OPT_IN) == "1":
        # Stable: the other modules keep their order.
        items.sort(
            key=lambda item: LAST_MODULES.index(item.path.name) + 1 if item.path.name in LAST_MODULES else 0
        )
        return
    kept = [item for item in items if item.get_closest_marker("kind") is None]
    if len(kept) != len(items):
        config.hook.pytest_deselected(items=[item for item in items if item.get_closest_marker("kind")])
        items[:] = kept


@pytest.fixture(scope="session")
def kind_cluster(
    engine: None, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[kind_cluster_module.Cluster]:
    image = kind_cluster_module.node_image()
    if docker.image_config(image) is None:
        pytest.skip(f"node image {image} not built (make kind-node)")
    cluster = kind_cluster_module.create_cluster(image, tmp_path_factory.mktemp("kind"))
    try:
        yield cluster
    finally:
        kind_cluster_module.delete_cluster(cluster.kind)


@pytest.fixture(scope="session")
def platform(kind_cluster: kind_cluster_module.Cluster) -> kind_cluster_module.Cluster:
    return kind_platform.install(kind_cluster)
