"""The gateway starts without pandas: the analytics and forecast handlers import it when first asked
(about 70 MB resident that most gateways, serving live prices and history, never need)."""

from __future__ import annotations

import subprocess
import sys


def test_starting_the_gateway_does_not_import_pandas() -> None:
    probe = (
        "import sys\n"
        "import inthegrid.gateway.server\n"
        "from inthegrid.gateway.app import create_app\n"
        "print(sorted(m for m in ('pandas', 'sklearn') if m in sys.modules))\n"
    )
    out = subprocess.run([sys.executable, "-c", probe], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "[]", out.stdout + out.stderr
