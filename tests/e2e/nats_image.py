"""The bundled NATS image's version: tools/nats/go.mod, which must match the chart's nats.image.tag."""

from __future__ import annotations

from pathlib import Path

ROOT = Path(__file__).parents[2]
MODULE = "github.com/nats-io/nats-server/v2"


def nats_image_version() -> str:
    for line in (ROOT / "tools" / "nats" / "go.mod").read_text().splitlines():
        parts = line.split()
        if len(parts) >= 2 and parts[0] == MODULE:
            return parts[1].removeprefix("v")
    raise AssertionError(f"no {MODULE} in tools/nats/go.mod")
