"""The local launcher hands each child process only the secrets its service reads."""

from __future__ import annotations

from pathlib import Path

import pytest

from inthegrid.local.child_env import ALL_SECRETS
from inthegrid.local.launcher import Platform, UpOptions

SECRETS = {
    "INTHEGRID_API_KEYS": "api-key-1,api-key-2",
    "INTHEGRID_DASHBOARD_API_KEY": "dashboard-key",
    "INTHEGRID_ENTSOE_TOKEN": "entsoe-token",
    "INTHEGRID_ALERT_WEBHOOK_URL": "https://hooks.example/secret",
    "INTHEGRID_NATS_PASSWORD": "nats-password",
}
DATABASE = "postgresql://inthegrid:pw@127.0.0.1:5432/inthegrid"
EXPECTED = {
    "gateway": {"INTHEGRID_API_KEYS", "INTHEGRID_DATABASE_URL", "INTHEGRID_NATS_PASSWORD"},
    "recorder": {"INTHEGRID_DATABASE_URL", "INTHEGRID_NATS_PASSWORD"},
    "calculator": {"INTHEGRID_ALERT_WEBHOOK_URL", "INTHEGRID_NATS_PASSWORD"},
    "feed": {"INTHEGRID_ENTSOE_TOKEN", "INTHEGRID_NATS_PASSWORD"},
}


def test_each_child_gets_only_the_secrets_it_uses(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    for name, value in SECRETS.items():
        monkeypatch.setenv(name, value)
    monkeypatch.setenv("INTHEGRID_DATABASE_URL", DATABASE)  # from the shell too: must not leak to the feed
    platform = Platform(UpOptions(data_dir=tmp_path, nats_url="nats://127.0.0.1:4222", database_url=DATABASE))
    platform.plan_children()
    children = {child.name: child.env for child in platform.children}
    assert set(children) == set(EXPECTED)
    for name, env in children.items():
        assert {k for k in env if k in ALL_SECRETS} == EXPECTED[name], name
        values = "\n".join(env.values())
        for secret, value in {**SECRETS, "INTHEGRID_DATABASE_URL": DATABASE}.items():
            if secret not in EXPECTED[name]:
                assert value not in values, (name, secret)
    # What is not a secret still reaches everyone (one log format for the whole platform, say).
    assert all(env["INTHEGRID_NATS_URL"] == "nats://127.0.0.1:4222" for env in children.values())


def test_every_secret_setting_is_known_to_the_launcher() -> None:
    assert set(SECRETS) | {"INTHEGRID_DATABASE_URL"} == ALL_SECRETS
