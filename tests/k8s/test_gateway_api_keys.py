"""The gateway is closed by default when deployed: a generated API key from a Secret, kept across
upgrades, and a rate limit; both can be changed only on purpose (issues 6 and 7)."""

from __future__ import annotations

import base64
import json
import re
import subprocess
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from inthegrid.platform.settings import GatewaySettings
from tests.k8s.chart import CHART, documents, render
from tests.support.envtest import EnvTest, find_tools_bin_dir

GENERATED = "inthegrid-api-keys"  # <fullname>-api-keys for release "inthegrid"


def by_kind(docs: list[dict[str, Any]], kind: str) -> dict[str, dict[str, Any]]:
    return {d["metadata"]["name"]: d for d in docs if d["kind"] == kind}


def gateway_env(docs: list[dict[str, Any]]) -> dict[str, Any]:
    container = by_kind(docs, "Deployment")["inthegrid-gateway"]["spec"]["template"]["spec"]["containers"][0]
    return {e["name"]: e.get("value", e.get("valueFrom")) for e in container["env"]}


def decoded(secret: dict[str, Any], key: str) -> str:
    return base64.b64decode(secret["data"][key]).decode()


def test_default_gateway_reads_a_generated_api_key_from_a_secret(helm: Path) -> None:
    docs = documents(render(helm))
    env = gateway_env(docs)
    assert env["INTHEGRID_API_KEYS"] == {"secretKeyRef": {"name": GENERATED, "key": "apiKeys"}}
    key = decoded(by_kind(docs, "Secret")[GENERATED], "apiKeys")
    assert re.fullmatch(r"[A-Za-z0-9]{48}", key), key
    # The gateway's own parsing turns the Secret's text into exactly that one key.
    settings = GatewaySettings(api_keys=key)
    assert [k.get_secret_value() for k in settings.api_keys] == [key]
    # Random per install, not a constant everyone could read in the chart.
    again = decoded(by_kind(documents(render(helm)), "Secret")[GENERATED], "apiKeys")
    assert again != key


def test_default_gateway_has_a_rate_limit(helm: Path) -> None:
    limit = gateway_env(documents(render(helm)))["INTHEGRID_RATE_LIMIT_PER_MINUTE"]
    assert int(limit) > 0
    assert GatewaySettings(rate_limit_per_minute=limit).rate_limit_per_minute == int(limit)
    off = gateway_env(documents(render(helm, "--set", "gateway.rateLimitPerMinute=0")))
    assert off["INTHEGRID_RATE_LIMIT_PER_MINUTE"] == "0"


def test_api_keys_off_removes_the_key_and_its_secret(helm: Path) -> None:
    docs = documents(render(helm, "--set", "gateway.apiKeys.enabled=false"))
    assert "INTHEGRID_API_KEYS" not in gateway_env(docs)
    assert GENERATED not in by_kind(docs, "Secret")
    assert "inthegrid-database" in by_kind(docs, "Secret")  # only the key's Secret goes


def test_an_existing_secret_replaces_the_generated_one(helm: Path) -> None:
    docs = documents(render(helm, "--set", "gateway.apiKeysSecret=my-keys"))
    assert gateway_env(docs)["INTHEGRID_API_KEYS"] == {"secretKeyRef": {"name": "my-keys", "key": "apiKeys"}}
    assert GENERATED not in by_kind(docs, "Secret") and "my-keys" not in by_kind(docs, "Secret")


def test_no_gateway_no_key_secret(helm: Path) -> None:
    docs = documents(render(helm, "--set", "gateway.enabled=false"))
    assert GENERATED not in by_kind(docs, "Secret")


def test_keys_off_with_a_named_secret_is_refused(helm: Path) -> None:
    with pytest.raises(AssertionError, match="turns API keys off: drop one"):
        render(helm, "--set", "gateway.apiKeys.enabled=false", "--set", "gateway.apiKeysSecret=my-keys")


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["--set", "gateway.apiKeys.enabled=maybe"], "gateway/apiKeys/enabled"),
        (["--set", "gateway.apiKeys.bogus=1"], "additional properties 'bogus' not allowed"),
        (["--set-string", "gateway.rateLimitPerMinute=600"], "gateway/rateLimitPerMinute"),
        (["--set", "gateway.rateLimitPerMinute=-1"], "gateway/rateLimitPerMinute"),
        (["--set", "gateway.apiKeysSecret=Not_A_Name"], "gateway/apiKeysSecret"),
        (["--set-json", "gateway.apiKeysSecret=[1]"], "gateway/apiKeysSecret"),
    ],
)
def test_values_schema_rejects_bad_key_and_limit_values(helm: Path, args: list[str], message: str) -> None:
    with pytest.raises(AssertionError, match=message):
        render(helm, *args)


# --- against a real kube-apiserver: `lookup` sees the live Secret --------------------------------


@pytest.fixture(scope="module")
def cluster() -> Iterator[EnvTest]:
    bin_dir, reason = find_tools_bin_dir(("etcd", "kube-apiserver"))
    if bin_dir is None:
        pytest.skip(reason)
    with EnvTest(bin_dir, controller_manager=False) as env:
        yield env


def install_dry_run(
    cluster: EnvTest, helm: Path, release: str, *extra: str
) -> tuple[list[dict[str, Any]], str]:
    """(manifests, notes) of `helm install --dry-run=server`, which runs `lookup` against the cluster."""
    assert cluster.admin_kubeconfig is not None
    out = subprocess.run(
        [
            str(helm),
            "install",
            release,
            str(CHART),
            "--dry-run=server",
            "--namespace",
            release,
            "--kubeconfig",
            str(cluster.admin_kubeconfig),
            *extra,
        ],
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    assert out.returncode == 0, out.stderr
    manifest, _, notes = out.stdout.partition("MANIFEST:")[2].partition("NOTES:")
    return documents(manifest), notes


def test_upgrade_keeps_the_key_in_the_live_secret(cluster: EnvTest, helm: Path) -> None:
    """A key the cluster already holds (generated earlier, or edited by hand) survives a re-render."""
    cluster.kubectl("create", "namespace", "kept")
    secret = "kept-inthegrid-api-keys"
    # As an earlier install left it: owned by the release, so helm may take it over.
    owned = {
        "apiVersion": "v1",
        "kind": "Secret",
        "metadata": {
            "name": secret,
            "namespace": "kept",
            "labels": {"app.kubernetes.io/managed-by": "Helm"},
            "annotations": {"meta.helm.sh/release-name": "kept", "meta.helm.sh/release-namespace": "kept"},
        },
        "stringData": {"apiKeys": "key-1,key-2"},
    }
    cluster.kubectl("apply", "-f", "-", input=json.dumps(owned))
    docs, notes = install_dry_run(cluster, helm, "kept")
    assert decoded(by_kind(docs, "Secret")[secret], "apiKeys") == "key-1,key-2"
    assert f"kubectl -n kept get secret {secret} -o jsonpath='{{.data.apiKeys}}' | base64 -d" in notes
    assert "X-API-Key: $KEY" in notes
    assert "any user name, the API key as the password" in notes
    assert "Rate limit: 600 requests/minute" in notes


def test_notes_warn_when_keys_are_off(cluster: EnvTest, helm: Path) -> None:
    cluster.kubectl("create", "namespace", "open")
    docs, notes = install_dry_run(
        cluster,
        helm,
        "open",
        "--set",
        "gateway.apiKeys.enabled=false",
        "--set",
        "gateway.rateLimitPerMinute=0",
    )
    assert "open-inthegrid-api-keys" not in by_kind(docs, "Secret")
    assert "WARNING: API keys are off" in notes
    assert "Rate limit: off" in notes
    assert "get secret" not in notes
