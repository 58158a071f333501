"""The slim `services` image runs a feed against a real nats-server, under the chart's restrictions:
prices for every zone reach JetStream, and a stop (SIGTERM, as the kubelet sends) ends the container
cleanly. The nats-server is either this host's (the test suite's) or the bundled NATS image built
here, itself read-only as uid 10001 with JetStream on a tmpfs; both reached over the host network."""

from __future__ import annotations

import asyncio
import contextlib
import socket
import subprocess
import time
import uuid
from collections.abc import Iterator

import nats
import pytest
from nats.js.errors import NotFoundError

from inthegrid.local.embedded import free_port
from inthegrid.platform.bus import PRICE_SUBJECT_ROOT, PRICES_STREAM
from tests.e2e import docker
from tests.e2e.nats_image import nats_image_version
from tests.support import servers

ZONES = ("DE-LU", "FR", "NL")
WAIT_SECONDS = 90.0


def host_nats() -> Iterator[str]:
    reason = servers.missing_binaries()
    if reason:
        pytest.skip(f"server binaries unavailable: {reason}")
    with servers.nats_server() as server:
        yield server.url


def nats_container() -> Iterator[str]:
    image = f"{docker.NATS_REPOSITORY}:{nats_image_version()}"
    if docker.image_config(image) is None:
        pytest.skip(f"image {image} not built (make image)")
    port, monitor = free_port(), free_port()
    name = f"inthegrid-e2e-nats-{uuid.uuid4().hex[:8]}"
    options = (
        *docker.RESTRICTED,
        "--detach",
        "--name",
        name,
        "--network",
        "host",
        "--tmpfs",
        "/data:uid=10001",
    )
    server = ("-a", "127.0.0.1", "-p", str(port), "-m", str(monitor), "-js", "-sd", "/data", "-n", name)
    started = subprocess.run(["docker", "run", *options, image, *server], capture_output=True, text=True)
    assert started.returncode == 0, started.stderr
    try:
        wait_until_ready(port, name)
        yield f"nats://127.0.0.1:{port}"
    finally:
        subprocess.run(["docker", "rm", "--force", name], capture_output=True)


def wait_until_ready(port: int, container: str) -> None:
    deadline = time.monotonic() + WAIT_SECONDS
    while time.monotonic() < deadline:
        # The server greets every client with INFO; "jetstream":true once JetStream is up.
        with contextlib.suppress(OSError), socket.create_connection(("127.0.0.1", port), timeout=1) as s:
            greeting = s.recv(4096)
            if greeting.startswith(b"INFO") and b'"jetstream":true' in greeting:
                return
        time.sleep(0.1)
    logs = subprocess.run(["docker", "logs", container], capture_output=True, text=True)
    raise AssertionError(f"nats container not ready:\n{logs.stdout}{logs.stderr}")


@pytest.fixture(params=["host-nats-server", "nats-image"])
def nats_url(request: pytest.FixtureRequest, engine: None) -> Iterator[str]:
    yield from (host_nats() if request.param == "host-nats-server" else nats_container())


@pytest.fixture
def container_name() -> Iterator[str]:
    name = f"inthegrid-e2e-feed-{uuid.uuid4().hex[:8]}"
    yield name
    subprocess.run(["docker", "rm", "--force", name], capture_output=True)


async def subjects_with_prices(url: str) -> dict[str, int]:
    nc = await nats.connect(url)
    try:
        info = await nc.jetstream().stream_info(PRICES_STREAM, subjects_filter=f"{PRICE_SUBJECT_ROOT}.>")
        return dict(info.state.subjects or {})
    except NotFoundError:  # the feed has not created its stream yet
        return {}
    finally:
        await nc.close()


async def test_the_feed_in_the_services_image_publishes_every_zone(
    services_image: str, nats_url: str, container_name: str
) -> None:
    options = (
        *docker.RESTRICTED,
        "--detach",
        "--name",
        container_name,
        "--network",
        "host",
        "--env",
        f"INTHEGRID_NATS_URL={nats_url}",
        "--env",
        f"INTHEGRID_METRICS_PORT={free_port()}",
    )
    feed = ("feed", "--source", "simulator", "--zones", ",".join(ZONES), "--speed", "36000", "--tick", "0.2")
    started = subprocess.run(
        ["docker", "run", *options, services_image, *feed], capture_output=True, text=True
    )
    assert started.returncode == 0, started.stderr

    deadline = time.monotonic() + WAIT_SECONDS
    subjects: dict[str, int] = {}
    while time.monotonic() < deadline:
        subjects = await subjects_with_prices(nats_url)
        if all(any(s.endswith(f".{zone}") for s in subjects) for zone in ZONES):
            break
        await asyncio.sleep(0.2)
    logs = subprocess.run(["docker", "logs", container_name], capture_output=True, text=True)
    assert all(any(s.endswith(f".{zone}") for s in subjects) for zone in ZONES), (
        f"prices by subject: {subjects}\n{logs.stdout[-3000:]}{logs.stderr[-3000:]}"
    )

    stopped = subprocess.run(["docker", "stop", "--time", "30", container_name], capture_output=True)
    assert stopped.returncode == 0
    status = subprocess.run(
        ["docker", "inspect", "--format", "{{.State.ExitCode}}", container_name],
        capture_output=True,
        text=True,
    )
    assert status.stdout.strip() == "0", logs.stderr[-3000:]
