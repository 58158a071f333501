"""A real kube-apiserver (+ etcd + controller manager), the CRDs, the chart's RBAC, and the operator
running under its ServiceAccount. Skips, saying how to enable, when the binaries are not built."""

from __future__ import annotations

import os
import shutil
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.operator.harness import (
    OPERATOR_NAMESPACE,
    OPERATOR_SA,
    OperatorProcess,
    install_crds,
    render_rbac,
)
from tests.support.envtest import EnvTest, find_tools_bin_dir


def _helm(bin_dir: Path) -> Path | None:
    candidate = bin_dir / "helm"
    if candidate.is_file() and os.access(candidate, os.X_OK):
        return candidate
    found = shutil.which("helm")
    return Path(found) if found else None


@pytest.fixture(scope="session")
def envtest() -> Iterator[EnvTest]:
    bin_dir, reason = find_tools_bin_dir()
    if bin_dir is None:
        pytest.skip(reason)
    with EnvTest(bin_dir) as env:
        yield env


@pytest.fixture(scope="session")
def operator_kubeconfig(envtest: EnvTest) -> Path:
    """CRDs applied, the operator's namespace, ServiceAccount and the chart's RBAC (as helm renders
    it), and a kubeconfig holding only that ServiceAccount's token."""
    assert envtest.bin_dir is not None
    helm = _helm(envtest.bin_dir)
    if helm is None:
        pytest.skip("helm not found (PATH or tools dir); to enable: scripts/build-k8s-tools.sh helm")
    install_crds(envtest)
    envtest.kubectl("create", "namespace", OPERATOR_NAMESPACE)
    envtest.kubectl("apply", "-f", "-", input=render_rbac(helm, OPERATOR_NAMESPACE, OPERATOR_SA))
    return envtest.kubeconfig_for_serviceaccount(OPERATOR_NAMESPACE, OPERATOR_SA)


@pytest.fixture(scope="session")
def operator(
    operator_kubeconfig: Path, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[OperatorProcess]:
    log = tmp_path_factory.mktemp("operator") / "operator.log"
    proc = OperatorProcess(operator_kubeconfig, log).start()
    try:
        yield proc
    finally:
        proc.stop()
