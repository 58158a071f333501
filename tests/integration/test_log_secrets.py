"""Secrets never reach the logs: a full run at DEBUG level with a NATS password, a database password and an
ENTSO-E token, including the paths most likely to print them (connection retries, a refused token, a
failing upstream), and every log line searched for each secret.

The ENTSO-E API is a local stand-in that answers 503 and then 401, so the feed walks its retry and its
"token rejected" paths without the real service.
"""

from __future__ import annotations

import asyncio
import secrets
import threading
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import ClassVar

import pytest

from inthegrid.local.embedded import free_port
from tests.support import servers
from tests.support.faults import Monitor, feed_process, readyz, recorder_process, wait_for
from tests.support.processes import ServiceProcess
from tests.support.servers import EmbeddedNats, EmbeddedPostgres

NATS_USER = "inthegrid"


class PasswordNats(EmbeddedNats):
    """nats-server that requires a user and password."""

    def __init__(self, store_dir: Path, password: str) -> None:
        super().__init__(store_dir)
        self.password = password

    def _command(self) -> list[str]:
        return [*super()._command(), "--user", NATS_USER, "--pass", self.password]

    @property
    def authenticated_url(self) -> str:
        return f"nats://{NATS_USER}:{self.password}@{self.host}:{self.port}"


class _Upstream(BaseHTTPRequestHandler):
    """A stand-in ENTSO-E API: first a 503 (retried, logged with the URL), then 401 (token refused)."""

    calls = 0
    seen_tokens: ClassVar[list[str]] = []

    def do_GET(self) -> None:  # the http.server API names it
        type(self).calls += 1
        type(self).seen_tokens.append(self.path)
        status = 503 if type(self).calls == 1 else 401
        self.send_response(status)
        self.send_header("Retry-After", "0")
        self.send_header("Content-Length", "0")
        self.end_headers()

    def log_message(self, *args: object) -> None:
        pass


@pytest.fixture
def upstream() -> Iterator[str]:
    server = ThreadingHTTPServer(("127.0.0.1", 0), _Upstream)
    _Upstream.calls, _Upstream.seen_tokens = 0, []
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{server.server_port}/api"
    server.shutdown()


async def test_no_secret_appears_in_any_log(
    postgres: EmbeddedPostgres, database_url: str, upstream: str, tmp_path: Path
) -> None:
    nats_password = f"nats-{secrets.token_hex(12)}"
    db_password = f"db-{secrets.token_hex(12)}"
    entsoe_token = f"tok-{secrets.token_hex(16)}"
    # The session server trusts local connections, so it ignores the password; the services still carry it.
    secret_db_url = database_url.replace("postgres@", f"postgres:{db_password}@", 1)
    unreachable_db_url = f"postgresql://postgres:{db_password}@127.0.0.1:{free_port()}/inthegrid"
    with (
        servers.server_dir("nats-auth") as base,
        PasswordNats(base / "jetstream", nats_password) as nats_server,
    ):
        auth = {
            "INTHEGRID_NATS_USER": NATS_USER,
            "INTHEGRID_NATS_PASSWORD": nats_password,
            "INTHEGRID_LOG_LEVEL": "DEBUG",
        }
        procs: dict[str, ServiceProcess] = {
            "feed": feed_process(tmp_path, nats_server.url, env=auth),
            # The password in the URL too: some deployments put it there.
            "calculator": ServiceProcess(
                ["calculator"],
                {"INTHEGRID_NATS_URL": nats_server.authenticated_url, "INTHEGRID_LOG_LEVEL": "DEBUG"},
                tmp_path / "calculator.log",
            ),
            "recorder": recorder_process(tmp_path, nats_server.url, secret_db_url, env=auth),
            "recorder-no-database": ServiceProcess(
                ["recorder"],
                {"INTHEGRID_NATS_URL": nats_server.url, "INTHEGRID_DATABASE_URL": unreachable_db_url, **auth},
                tmp_path / "recorder-no-database.log",
            ),
            "feed-entsoe": ServiceProcess(
                ["feed"],
                {
                    "INTHEGRID_NATS_URL": nats_server.url,
                    "INTHEGRID_FEED_NAME": "entsoe",
                    "INTHEGRID_FEED_SOURCE": "entsoe",
                    "INTHEGRID_FEED_ZONES": "DE-LU,FR",
                    "INTHEGRID_ENTSOE_TOKEN": entsoe_token,
                    "INTHEGRID_ENTSOE_BASE_URL": upstream,
                    **auth,
                },
                tmp_path / "feed-entsoe.log",
            ),
            "nats-wrong-password": ServiceProcess(
                ["calculator"],
                {
                    "INTHEGRID_NATS_URL": nats_server.url,
                    "INTHEGRID_NATS_USER": NATS_USER,
                    "INTHEGRID_NATS_PASSWORD": f"{nats_password}-wrong",
                    "INTHEGRID_LOG_LEVEL": "DEBUG",
                },
                tmp_path / "nats-wrong-password.log",
            ),
        }
        port = free_port()
        procs["gateway"] = ServiceProcess(
            ["gateway"],
            {
                "INTHEGRID_NATS_URL": nats_server.url,
                "INTHEGRID_DATABASE_URL": secret_db_url,
                "INTHEGRID_HTTP_PORT": str(port),
                "INTHEGRID_DASHBOARD": "false",
                **auth,
            },
            tmp_path / "gateway.log",
            metrics_port=0,
        )
        for p in procs.values():
            p.start(wait_ready=0)
        monitor = await Monitor.connect(nats_server.authenticated_url)
        try:
            for name in ("feed", "calculator", "recorder"):
                procs[name].wait_ready(60)

            async def stored_something() -> bool:
                return await monitor.ack_floor("OPPORTUNITIES", "recorder-opportunities") > 0

            await wait_for(stored_something, 60, "opportunities stored through the authenticated bus")

            async def upstream_refused() -> bool:
                return _Upstream.calls >= 2

            await wait_for(upstream_refused, 60, "the feed to try the stand-in ENTSO-E API twice")
            assert any(entsoe_token in path for path in _Upstream.seen_tokens), "the token was not even sent"
            await asyncio.sleep(2.0)  # a few more rounds of retries on the failing paths
            assert readyz(procs["recorder-no-database"].metrics_port) == 503
        finally:
            await monitor.close()
            for p in procs.values():
                p.terminate()

    logs = {name: p.log_path.read_text(errors="replace") for name, p in procs.items()}
    assert "retrying" in logs["recorder-no-database"], logs["recorder-no-database"][-2000:]
    assert "Authorization" in logs["nats-wrong-password"], logs["nats-wrong-password"][-2000:]
    assert "401" in logs["feed-entsoe"], logs["feed-entsoe"][-2000:]
    leaks = [
        (name, label)
        for name, text in logs.items()
        for label, secret in (
            ("NATS password", nats_password),
            ("database password", db_password),
            ("ENTSO-E token", entsoe_token),
        )
        if secret in text
    ]
    assert not leaks, f"secrets in logs: {leaks}"
    print(f"searched {sum(len(t.splitlines()) for t in logs.values())} log lines of {len(logs)} processes")
