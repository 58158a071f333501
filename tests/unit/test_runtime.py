"""Running a service process: the heap built at start-up is out of the collector's reach."""

from __future__ import annotations

import subprocess
import sys

# A service run as its process runs it: ``run`` with a main that reports what the collector holds.
_SERVICE = """
import gc
from inthegrid.platform.runtime import run
from inthegrid.platform.settings import CommonSettings

async def main(stop, health):
    frozen = gc.get_freeze_count()
    tracked = len(gc.get_objects())
    print(frozen, tracked)

run("probe", CommonSettings(metrics_port=0, log_level="WARNING"), main)
"""


def test_a_service_starts_with_its_startup_heap_frozen() -> None:
    out = subprocess.run(
        [sys.executable, "-c", _SERVICE], capture_output=True, text=True, timeout=60, check=True
    )
    frozen, tracked = map(int, out.stdout.split())
    # Everything imported before the service ran is frozen; a full collection walks only the rest.
    assert frozen > 10_000
    assert tracked < frozen / 5
