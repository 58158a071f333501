from __future__ import annotations

from pathlib import Path

import pytest

from tests.k8s.chart import find_helm, find_promtool


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    here = Path(__file__).parent
    for item in items:
        if here in Path(str(item.fspath)).parents:
            item.add_marker(pytest.mark.k8s)


@pytest.fixture(scope="session")
def helm() -> Path:
    found = find_helm()
    if found is None:
        pytest.skip("helm not found on PATH or in the tools dir: run scripts/build-k8s-tools.sh helm")
    return found


@pytest.fixture(scope="session")
def promtool() -> Path:
    found = find_promtool()
    if found is None:
        pytest.skip("promtool not found: install Debian's `prometheus` package (apt-get install prometheus)")
    return found
