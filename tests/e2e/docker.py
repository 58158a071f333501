"""Running the built images with the docker CLI, as a user would, for the e2e tier."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
from dataclasses import dataclass

# What `make image` builds (scripts/build-image.sh): IMAGE:IMAGE_TAG and its slim variants.
IMAGE = os.environ.get("IMAGE", "inthegrid")
IMAGE_TAG = os.environ.get("IMAGE_TAG", "dev")
VARIANTS = {
    "full": f"{IMAGE}:{IMAGE_TAG}",
    "services": f"{IMAGE}:{IMAGE_TAG}-services",
    "operator": f"{IMAGE}:{IMAGE_TAG}-operator",
}
# The chart's bundled NATS, built by scripts/build-nats-image.sh at tools/nats/go.mod's version.
NATS_REPOSITORY = os.environ.get("INTHEGRID_NATS_REPOSITORY", "inthegrid-nats")
# How the chart runs every pod: the image's own user, a read-only root, an emptyDir at /tmp.
RESTRICTED = ("--read-only", "--tmpfs", "/tmp:rw,nosuid,nodev,size=64m", "--cap-drop", "ALL")


@dataclass(frozen=True)
class Result:
    status: int
    out: str
    err: str


def engine_problem() -> str | None:
    """Why no container can run here, or None when the engine answers."""
    if shutil.which("docker") is None:
        return "no docker CLI (make test-e2e installs the engine: scripts/install-docker.sh)"
    probe = subprocess.run(["docker", "version", "--format", "{{.Server.Version}}"], capture_output=True)
    if probe.returncode != 0:
        return "the Docker engine does not answer (scripts/install-docker.sh starts it)"
    return None


def image_config(image: str) -> dict | None:
    probe = subprocess.run(["docker", "image", "inspect", image], capture_output=True, text=True)
    if probe.returncode != 0:
        return None
    return json.loads(probe.stdout)[0]


def run(image: str, *args: str, options: tuple[str, ...] = RESTRICTED, timeout: float = 120) -> Result:
    """`docker run --rm` the image with the chart's restrictions; returns status and output."""
    done = subprocess.run(
        ["docker", "run", "--rm", *options, image, *args], capture_output=True, text=True, timeout=timeout
    )
    return Result(done.returncode, done.stdout, done.stderr)


def shell(image: str, script: str, options: tuple[str, ...] = RESTRICTED) -> Result:
    return run(image, "-c", script, options=(*options, "--entrypoint", "sh"))


def python(image: str, code: str, options: tuple[str, ...] = RESTRICTED) -> Result:
    return run(image, "-c", code, options=(*options, "--entrypoint", "python"))
