"""Write docs/api-contract.md from the gateway's OpenAPI document (``--check``: exit 1 when stale).

.venv/bin/python scripts/generate_api_contract.py [--check]
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

from fastapi.routing import APIWebSocketRoute

from inthegrid.gateway.app import create_app
from inthegrid.gateway.rest.contract_doc import render_api_contract
from inthegrid.gateway.stream import websocket_routes
from inthegrid.platform.settings import GatewaySettings

TARGET = Path(__file__).resolve().parents[1] / "docs" / "api-contract.md"


def render() -> str:
    # The document does not depend on the environment: settings are fixed here, nothing is started.
    settings = GatewaySettings.model_validate({"dashboard": False, "api_keys": []})
    app = create_app(settings, start_services=False, mount_dashboard=False)
    websockets = [r for r in websocket_routes.router.routes if isinstance(r, APIWebSocketRoute)]
    return render_api_contract(app.openapi(), websockets)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--check", action="store_true", help="exit 1 if the committed file is stale")
    args = parser.parse_args()
    text = render()
    if args.check:
        if TARGET.read_text(encoding="utf-8") != text:
            print(f"{TARGET} is stale: run python scripts/generate_api_contract.py", file=sys.stderr)
            return 1
        return 0
    TARGET.write_text(text, encoding="utf-8")
    print(f"wrote {TARGET}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
