"""`docker run --privileged` (what kind does for its nodes) reaches a running container on a host
whose capability bounding set is short, through the runc-bounded runtime that
scripts/install-docker.sh registers as dockerd's default."""

from __future__ import annotations

import subprocess
import uuid
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.e2e import docker

RUNTIME = "runc-bounded"


def host_bounding_set() -> int:
    for line in Path("/proc/self/status").read_text().splitlines():
        if line.startswith("CapBnd:"):
            return int(line.split()[1], 16)
    raise AssertionError("no CapBnd in /proc/self/status")


@pytest.fixture
def runtime(engine: None) -> None:
    default = subprocess.run(
        ["docker", "info", "--format", "{{.DefaultRuntime}}"], capture_output=True, text=True
    ).stdout.strip()
    if default != RUNTIME:
        pytest.skip(f"dockerd's default runtime is {default!r}, not {RUNTIME} (scripts/install-docker.sh)")


@pytest.fixture
def container(runtime: None, full_image: str) -> Iterator[str]:
    name = f"inthegrid-e2e-privileged-{uuid.uuid4().hex[:8]}"
    # As root, like kind's nodes (a non-root process gets no capabilities to fail on).
    options = ("--detach", "--privileged", "--user", "0", "--name", name, "--entrypoint", "sleep")
    started = subprocess.run(["docker", "run", *options, full_image, "600"], capture_output=True, text=True)
    assert started.returncode == 0, started.stderr
    yield name
    subprocess.run(["docker", "rm", "--force", name], capture_output=True)


def effective_caps(container: str, *exec_options: str) -> int:
    done = subprocess.run(
        ["docker", "exec", *exec_options, container, "grep", "CapEff", "/proc/self/status"],
        capture_output=True,
        text=True,
    )
    assert done.returncode == 0, done.stderr
    return int(done.stdout.split()[1], 16)


def test_a_privileged_container_runs_with_what_the_host_can_grant(container: str) -> None:
    state = subprocess.run(
        ["docker", "inspect", "--format", "{{.State.Status}}", container], capture_output=True, text=True
    )
    assert state.stdout.strip() == "running"
    host = host_bounding_set()
    for options in ((), ("--privileged",), ("--user", "10001")):
        caps = effective_caps(container, *options)
        assert caps & ~host == 0, f"exec {options} holds capabilities the host lacks: {caps:#x}"
    # Privileged means every capability the host has (within the engine's list): CAP_SYS_ADMIN at least.
    assert effective_caps(container, "--privileged") >> 21 & 1


def test_without_the_wrapper_the_same_run_fails_where_the_host_lacks_a_capability(
    runtime: None, full_image: str
) -> None:
    if host_bounding_set() & (1 << 24):
        pytest.skip("this host's bounding set has CAP_SYS_RESOURCE: plain runc would succeed too")
    plain = ("--rm", "--runtime", "runc", "--privileged", "--user", "0", "--entrypoint", "true")
    done = subprocess.run(["docker", "run", *plain, full_image], capture_output=True, text=True)
    assert done.returncode != 0
    assert "unable to apply caps" in done.stderr


def test_the_image_under_the_charts_restrictions_holds_no_capability(full_image: str) -> None:
    result = docker.shell(full_image, "grep CapEff /proc/self/status")
    assert result.status == 0, result.err
    assert int(result.out.split()[1], 16) == 0
