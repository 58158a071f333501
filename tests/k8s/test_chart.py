"""The Helm chart: lint, golden rendering, values schema, and what each values variant renders."""

from __future__ import annotations

import filecmp
import os
import shutil
import subprocess
from pathlib import Path

import pytest
import yaml

from inthegrid.platform.bus import CAPACITIES_STREAM_MAX_BYTES
from inthegrid.platform.settings import CommonSettings
from tests.k8s.chart import (
    CHART,
    NAMESPACE,
    ROOT,
    VARIANTS,
    documents,
    redact_secrets,
    render,
    run_helm,
)

GOLDEN = Path(__file__).parent / "golden" / "default.yaml"
# The services' settings that reserve JetStream file storage when they create their streams.
STREAM_BYTE_SETTINGS = ("prices_stream_max_bytes", "opportunities_stream_max_bytes", "deadletter_max_bytes")


def by_kind(docs: list[dict], kind: str) -> dict[str, dict]:
    return {d["metadata"]["name"]: d for d in docs if d["kind"] == kind}


def env_of(deployment: dict) -> dict[str, object]:
    container = deployment["spec"]["template"]["spec"]["containers"][0]
    return {e["name"]: e.get("value", e.get("valueFrom")) for e in container["env"]}


def test_helm_lint_passes_for_every_variant(helm: Path) -> None:
    for name, args in VARIANTS.items():
        out = run_helm(helm, "lint", str(CHART), "--strict", *args)
        assert "0 chart(s) failed" in out, f"{name}: {out}"


def test_default_rendering_matches_golden_file(helm: Path) -> None:
    """Regenerate with UPDATE_GOLDEN=1 after a deliberate change, and review the diff."""
    docs = redact_secrets(documents(render(helm)))
    text = yaml.safe_dump_all(docs, sort_keys=True)
    if os.environ.get("UPDATE_GOLDEN") == "1":
        GOLDEN.write_text(text)
    assert GOLDEN.exists(), "no golden file: run with UPDATE_GOLDEN=1"
    assert text == GOLDEN.read_text(), "rendering changed: review, then UPDATE_GOLDEN=1"


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["--set", "bogus=1"], "additional properties 'bogus' not allowed"),
        # The ENTSO-E token never goes through values (they are stored in the release).
        (["--set", "entsoe.token=abc"], "additional properties 'token' not allowed"),
        (["--set", "nats.replicas=2"], "nats/replicas"),
        (["--set", "logLevel=LOUD"], "logLevel"),
        (["--set", "gateway.httpPort=0"], "gateway/httpPort"),
        (["--set", "nats.external.url=http://nats:4222"], "nats/external/url"),
        (["--set-json", 'samples.marketFeeds=[{"name":"Bad_Name","spec":{}}]'], "samples/marketFeeds"),
        (["--set", "gateway.service.nodePort=40000"], "gateway/service/nodePort"),
        # JetStream would refuse the services' streams (tests/integration/test_bus_storage.py).
        (["--set", "nats.jetstream.storageSize=1Gi"], "nats.jetstream.storageSize 1Gi is too small"),
        (["--set", "nats.jetstream.storageSize=2047Mi"], "nats.jetstream.storageSize 2047Mi is too small"),
    ],
)
def test_values_schema_rejects_bad_values(helm: Path, args: list[str], message: str) -> None:
    with pytest.raises(AssertionError, match=message):
        render(helm, *args)


def test_the_smallest_jetstream_volume_holds_every_stream_at_its_byte_limit(helm: Path) -> None:
    """The chart's floor for nats.jetstream.storageSize (2Gi) and its message follow the services' own
    stream limits: the defaults of INTHEGRID_*_STREAM_MAX_BYTES and the capacities stream's constant."""
    fields = CommonSettings.model_fields
    limits = [fields[name].default for name in STREAM_BYTE_SETTINGS] + [CAPACITIES_STREAM_MAX_BYTES]
    total_mib = sum(limits) // 2**20
    assert total_mib <= 2048
    with pytest.raises(AssertionError, match=f"keep up to {total_mib:,} MiB"):
        render(helm, "--set", "nats.jetstream.storageSize=1Gi")
    rendered = render(helm, "--set", "nats.jetstream.storageSize=2Gi")
    assert "max_file_store: 2G" in rendered


def test_every_values_key_is_documented() -> None:
    """Every key has a `# --` comment (helm-docs style) in the comment block right above it, or
    lies inside a key that has one (a documented object documents its fields)."""
    lines = (CHART / "values.yaml").read_text().splitlines()
    stack: list[tuple[int, bool]] = []  # (indent, documented) of the enclosing keys
    undocumented = []
    for i, line in enumerate(lines):
        stripped = line.strip()
        if not stripped or stripped.startswith("#") or stripped.startswith("-") or ":" not in stripped:
            continue
        indent = len(line) - len(line.lstrip())
        while stack and stack[-1][0] >= indent:
            stack.pop()
        j, comments = i - 1, []
        while j >= 0 and lines[j].strip().startswith("#"):
            comments.append(lines[j].strip())
            j -= 1
        documented = any(c.startswith("# --") for c in comments) or any(d for _, d in stack)
        value = stripped.split(":", 1)[1].strip()
        if not documented and value not in ("", "|", ">"):
            undocumented.append(f"{i + 1}: {stripped}")
        stack.append((indent, documented))
    assert not undocumented, "values without a `# --` comment:\n" + "\n".join(undocumented)


def test_default_install_bundles_nats_and_timescaledb(helm: Path) -> None:
    docs = documents(render(helm))
    sts = by_kind(docs, "StatefulSet")
    assert set(sts) == {"inthegrid-nats", "inthegrid-timescaledb"}
    assert sts["inthegrid-nats"]["spec"]["replicas"] == 1
    assert sts["inthegrid-timescaledb"]["spec"]["replicas"] == 1
    image = sts["inthegrid-timescaledb"]["spec"]["template"]["spec"]["containers"][0]["image"]
    assert image.startswith("timescale/timescaledb-ha:pg")
    recorder = env_of(by_kind(docs, "Deployment")["inthegrid-recorder"])
    assert recorder["INTHEGRID_NATS_URL"] == "nats://inthegrid-nats:4222"
    assert recorder["INTHEGRID_DATABASE_URL"] == {
        "secretKeyRef": {"name": "inthegrid-database", "key": "url"}
    }
    secret = by_kind(docs, "Secret")["inthegrid-database"]
    assert set(secret["data"]) == {"password", "replication-password", "url"}


def test_three_node_jetstream_and_a_database_replica_are_a_values_change(helm: Path) -> None:
    docs = documents(render(helm, *VARIANTS["clustered"]))
    sts = by_kind(docs, "StatefulSet")
    assert sts["inthegrid-nats"]["spec"]["replicas"] == 3
    assert sts["inthegrid-timescaledb"]["spec"]["replicas"] == 2
    conf = by_kind(docs, "ConfigMap")["inthegrid-nats"]["data"]["nats.conf"]
    for i in range(3):
        assert f"nats://inthegrid-nats-{i}.inthegrid-nats-headless:6222" in conf
    # Streams are replicated over the cluster by every service (INTHEGRID_STREAM_REPLICAS).
    assert env_of(by_kind(docs, "Deployment")["inthegrid-recorder"])["INTHEGRID_STREAM_REPLICAS"] == "3"
    # ... and the operator reads the same value and hands it to the feeds and calculators it creates.
    from inthegrid_operator.settings import OperatorSettings

    operator_env = env_of(by_kind(docs, "Deployment")["inthegrid-operator"])
    assert (
        OperatorSettings.model_validate(
            {"stream_replicas": operator_env["INTHEGRID_STREAM_REPLICAS"]}
        ).stream_replicas
        == 3
    )
    # Every service knows every member from the start (the operator hands its URL to feeds and calculators).
    members = ",".join(f"nats://inthegrid-nats-{i}.inthegrid-nats-headless:4222" for i in range(3))
    for name in ("inthegrid-recorder", "inthegrid-gateway", "inthegrid-operator"):
        assert env_of(by_kind(docs, "Deployment")[name])["INTHEGRID_NATS_URL"] == members
    # The database Service points at the primary only.
    svc = by_kind(docs, "Service")["inthegrid-timescaledb"]
    assert svc["spec"]["selector"]["statefulset.kubernetes.io/pod-name"] == "inthegrid-timescaledb-0"


def test_external_services_replace_the_bundled_ones(helm: Path) -> None:
    docs = documents(render(helm, *VARIANTS["external"]))
    assert by_kind(docs, "StatefulSet") == {}
    assert "inthegrid-database" not in by_kind(docs, "Secret")
    deployments = by_kind(docs, "Deployment")
    for name in ("inthegrid-recorder", "inthegrid-gateway", "inthegrid-operator"):
        env = env_of(deployments[name])
        assert env["INTHEGRID_NATS_URL"] == "nats://nats.messaging:4222"
        assert env["INTHEGRID_STREAM_REPLICAS"] == "3"
    for name in ("inthegrid-recorder", "inthegrid-gateway"):
        ref = env_of(deployments[name])["INTHEGRID_DATABASE_URL"]
        assert ref == {"secretKeyRef": {"name": "inthegrid-db-url", "key": "url"}}
    policies = by_kind(docs, "NetworkPolicy")
    assert "inthegrid-nats" not in policies and "inthegrid-timescaledb" not in policies


def test_operator_gets_the_image_it_hands_to_feeds_and_calculators(helm: Path) -> None:
    docs = documents(render(helm, "--set", "image.repository=localhost/ig", "--set", "image.tag=abc123"))
    operator = by_kind(docs, "Deployment")["inthegrid-operator"]
    env = env_of(operator)
    assert env["INTHEGRID_IMAGE"] == "localhost/ig:abc123"
    assert operator["spec"]["template"]["spec"]["containers"][0]["image"] == "localhost/ig:abc123"
    assert operator["spec"]["template"]["spec"]["containers"][0]["args"] == ["operator"]
    # The names match the operator's settings (operator/inthegrid_operator/settings.py).
    from inthegrid_operator.settings import OperatorSettings

    settings = OperatorSettings(
        **{
            k.removeprefix("INTHEGRID_").lower(): v
            for k, v in env.items()
            if k.startswith("INTHEGRID_") and isinstance(v, str)
        }
    )
    assert settings.image == "localhost/ig:abc123"
    assert settings.nats_url == "nats://inthegrid-nats:4222"
    assert settings.default_resources() == {
        "requests": {"cpu": "50m", "memory": "128Mi"},
        "limits": {"cpu": "1", "memory": "512Mi"},
    }
    unknown = (
        {k for k in env if k.startswith("INTHEGRID_")}
        - {f"INTHEGRID_{f.upper()}" for f in OperatorSettings.model_fields}
        - {
            "INTHEGRID_LOG_LEVEL",
            "INTHEGRID_LOG_FORMAT",
            "INTHEGRID_METRICS_PORT",
            "INTHEGRID_STREAM_REPLICAS",
        }
    )
    assert not unknown, f"operator env the operator does not read: {unknown}"


def test_service_env_names_are_settings_fields(helm: Path) -> None:
    """A typo in an env name would be ignored silently (extra="ignore"): check every name."""
    from inthegrid.platform.settings import GatewaySettings, RecorderSettings

    deployments = by_kind(documents(render(helm)), "Deployment")
    for name, cls in (("inthegrid-recorder", RecorderSettings), ("inthegrid-gateway", GatewaySettings)):
        fields = {f"INTHEGRID_{f.upper()}" for f in cls.model_fields}
        names = {k for k in env_of(deployments[name]) if k.startswith("INTHEGRID_")}
        assert names <= fields, f"{name}: {names - fields}"


def test_gateway_has_service_probes_and_disruption_budget(helm: Path) -> None:
    docs = documents(render(helm))
    gateway = by_kind(docs, "Deployment")["inthegrid-gateway"]
    container = gateway["spec"]["template"]["spec"]["containers"][0]
    # Liveness: the process serves; readiness: NATS and the database answer (the metrics port's /readyz).
    assert container["livenessProbe"]["httpGet"] == {"path": "/health", "port": "http"}
    assert container["readinessProbe"]["httpGet"] == {"path": "/readyz", "port": "metrics"}
    assert {"name": "metrics", "containerPort": int(env_of(gateway)["INTHEGRID_METRICS_PORT"])} in container[
        "ports"
    ]
    assert env_of(gateway)["INTHEGRID_HTTP_HOST"] == "0.0.0.0"
    assert by_kind(docs, "Service")["inthegrid-gateway"]["spec"]["ports"][0]["targetPort"] == "http"
    pdb = by_kind(docs, "PodDisruptionBudget")["inthegrid-gateway"]
    assert pdb["spec"]["minAvailable"] == 1
    assert pdb["spec"]["selector"]["matchLabels"] == gateway["spec"]["selector"]["matchLabels"]


def test_network_policies_let_only_what_must_talk(helm: Path) -> None:
    policies = by_kind(documents(render(helm)), "NetworkPolicy")
    assert policies["inthegrid-default-deny"]["spec"] == {
        "podSelector": {"matchLabels": {"app.kubernetes.io/part-of": "inthegrid"}},
        "policyTypes": ["Ingress"],
    }
    db_from = policies["inthegrid-timescaledb"]["spec"]["ingress"][0]["from"][0]["podSelector"]
    components = next(e["values"] for e in db_from["matchExpressions"] if e["key"].endswith("component"))
    assert sorted(components) == ["gateway", "recorder", "timescaledb"]  # feeds, calculators: no database
    nats_from = policies["inthegrid-nats"]["spec"]["ingress"][0]["from"][0]["podSelector"]
    components = next(e["values"] for e in nats_from["matchExpressions"] if e["key"].endswith("component"))
    assert sorted(components) == ["calculator", "feed", "gateway", "recorder"]  # not the operator


def test_egress_is_limited_to_what_each_pod_needs(helm: Path) -> None:
    policies = by_kind(documents(render(helm)), "NetworkPolicy")

    def components(name: str) -> list[str]:
        selector = policies[name]["spec"]["podSelector"]
        return sorted(
            next(e["values"] for e in selector["matchExpressions"] if e["key"].endswith("component"))
        )

    deny = policies["inthegrid-egress-default-deny"]["spec"]
    assert deny["podSelector"] == {"matchLabels": {"app.kubernetes.io/part-of": "inthegrid"}}
    assert deny["policyTypes"] == ["Egress"]
    assert deny["egress"] == [{"ports": [{"protocol": "UDP", "port": 53}, {"protocol": "TCP", "port": 53}]}]
    assert components("inthegrid-egress-nats") == ["calculator", "feed", "gateway", "recorder"]
    assert components("inthegrid-egress-database") == ["gateway", "recorder", "timescaledb"]
    assert components("inthegrid-egress-https") == ["calculator", "feed"]  # ENTSO-E, alert webhooks
    operator = policies["inthegrid-egress-operator"]["spec"]
    assert operator["podSelector"]["matchLabels"]["app.kubernetes.io/component"] == "operator"
    assert [p["port"] for p in operator["egress"][0]["ports"]] == [443, 6443]
    nats_to = policies["inthegrid-egress-nats"]["spec"]["egress"][0]["to"][0]["podSelector"]["matchLabels"]
    assert nats_to["app.kubernetes.io/component"] == "nats"
    off = by_kind(documents(render(helm, "--set", "networkPolicy.egress.enabled=false")), "NetworkPolicy")
    assert not [name for name in off if "egress" in name]


def test_services_connect_to_the_bundled_nats_as_their_own_users(helm: Path) -> None:
    docs = documents(render(helm))
    deployments = by_kind(docs, "Deployment")
    users = by_kind(docs, "Secret")["inthegrid-nats-users"]
    assert sorted(users["data"]) == [f"{u}-password" for u in ("calculator", "feed", "gateway", "recorder")]
    for name, user in (("inthegrid-gateway", "gateway"), ("inthegrid-recorder", "recorder")):
        env = env_of(deployments[name])
        assert env["INTHEGRID_NATS_USER"] == user
        assert env["INTHEGRID_NATS_PASSWORD"] == {
            "secretKeyRef": {"name": "inthegrid-nats-users", "key": f"{user}-password"}
        }
    # Feeds and calculators: the operator names the Secret in the Deployments it creates.
    assert (
        env_of(deployments["inthegrid-operator"])["INTHEGRID_NATS_USERS_SECRET_NAME"]
        == "inthegrid-nats-users"
    )
    nats = by_kind(docs, "StatefulSet")["inthegrid-nats"]["spec"]["template"]["spec"]["containers"][0]
    passwords = {
        e["name"]: e["valueFrom"]["secretKeyRef"] for e in nats["env"] if e["name"].endswith("_PASSWORD")
    }
    assert passwords["FEED_PASSWORD"] == {"name": "inthegrid-nats-users", "key": "feed-password"}
    conf = by_kind(docs, "ConfigMap")["inthegrid-nats"]["data"]["nats.conf"]
    assert "{user: feed, password: $FEED_PASSWORD" in conf
    # An external NATS brings its own credentials (INTHEGRID_NATS_USER/PASSWORD through extraEnv).
    external = documents(render(helm, *VARIANTS["external"]))
    assert "inthegrid-nats-users" not in by_kind(external, "Secret")
    assert "INTHEGRID_NATS_USER" not in env_of(by_kind(external, "Deployment")["inthegrid-gateway"])


def test_operator_is_namespace_scoped_by_default(helm: Path) -> None:
    docs = documents(render(helm))
    assert "inthegrid-inthegrid-operator" in by_kind(docs, "Role")
    assert not by_kind(docs, "ClusterRole")
    assert env_of(by_kind(docs, "Deployment")["inthegrid-operator"])["INTHEGRID_WATCH_NAMESPACE"] == NAMESPACE
    wide = documents(render(helm, "--set", "operator.clusterWide=true"))
    assert "inthegrid-inthegrid-operator" in by_kind(wide, "ClusterRole")
    assert env_of(by_kind(wide, "Deployment")["inthegrid-operator"])["INTHEGRID_WATCH_NAMESPACE"] == ""


def test_entsoe_token_has_a_secret_of_its_own_never_a_value(helm: Path) -> None:
    secret = by_kind(documents(render(helm)), "Secret")["inthegrid-entsoe"]
    assert secret["data"] == {"token": ""}  # filled by the operator of the cluster, kept across upgrades
    assert secret["metadata"]["annotations"]["helm.sh/resource-policy"] == "keep"
    existing = by_kind(documents(render(helm, "--set", "entsoe.existingSecret=mine")), "Secret")
    assert "inthegrid-entsoe" not in existing


def test_monitoring_resources_wrap_the_plain_rules_file(helm: Path) -> None:
    docs = documents(render(helm, *VARIANTS["monitoring"]))
    rule = by_kind(docs, "PrometheusRule")["inthegrid"]
    plain = yaml.safe_load((ROOT / "prometheus" / "rules" / "inthegrid.rules.yml").read_text())
    assert rule["spec"]["groups"] == plain["groups"]
    assert "inthegrid" in by_kind(docs, "ServiceMonitor")
    assert "inthegrid-workloads" in by_kind(docs, "PodMonitor")
    # Every scrape names its job inthegrid-<component>, the jobs InTheGridComponentDown watches, and
    # keeps the metrics' own `service` label (the Prometheus Operator would overwrite it otherwise).
    endpoints = by_kind(docs, "ServiceMonitor")["inthegrid"]["spec"]["endpoints"]
    endpoints += by_kind(docs, "PodMonitor")["inthegrid-workloads"]["spec"]["podMetricsEndpoints"]
    down = next(r for g in plain["groups"] for r in g["rules"] if r.get("alert") == "InTheGridComponentDown")
    assert 'up{job=~"inthegrid-.+"}' in down["expr"]
    for endpoint in endpoints:
        assert endpoint["honorLabels"] is True, endpoint
        (job,) = [r for r in endpoint["relabelings"] if r["targetLabel"] == "job"]
        assert job["sourceLabels"][0].endswith("_label_app_kubernetes_io_component"), job
        assert job["replacement"] == "inthegrid-$1", job
    assert by_kind(docs, "MarketFeed")["sim"]["spec"] == {"zones": ["DE-LU", "FR"]}
    assert "poc" in by_kind(docs, "ArbitrageRule")
    assert "inthegrid-entsoe" not in by_kind(docs, "Secret")  # the variant names its own Secret
    without = documents(render(helm))
    assert not by_kind(without, "PrometheusRule") and not by_kind(without, "ServiceMonitor")


def test_dashboards_ship_as_labelled_configmaps(helm: Path) -> None:
    maps = {n: d for n, d in by_kind(documents(render(helm)), "ConfigMap").items() if "-dashboard-" in n}
    files = sorted(p.name for p in (ROOT / "dashboards").glob("*.json"))
    assert sorted(next(iter(m["data"])) for m in maps.values()) == files
    for m in maps.values():
        assert m["metadata"]["labels"]["grafana_dashboard"] == "1"
        ((name, body),) = m["data"].items()
        assert body.strip() == (ROOT / "dashboards" / name).read_text().strip()


def test_chart_copies_equal_the_canonical_files() -> None:
    """helm reads only inside the chart: scripts/sync-chart-files.sh copies these in."""
    files = CHART / "files"
    pairs = [
        (ROOT / "prometheus" / "rules" / "inthegrid.rules.yml", files / "prometheus" / "inthegrid.rules.yml")
    ]
    canonical = sorted((ROOT / "dashboards").glob("*.json"))
    assert sorted(p.name for p in (files / "dashboards").glob("*.json")) == [p.name for p in canonical]
    pairs += [(p, files / "dashboards" / p.name) for p in canonical]
    stale = [str(b.relative_to(ROOT)) for a, b in pairs if not filecmp.cmp(a, b, shallow=False)]
    assert not stale, f"out of date (run scripts/sync-chart-files.sh): {stale}"


def test_kustomize_base_is_current(helm: Path, tmp_path: Path) -> None:
    """k8s/base is generated by scripts/render-kustomize-base.sh; rendering again changes nothing."""
    copy = tmp_path / "repo"
    for part in ("charts", "dashboards", "prometheus", "scripts", "k8s"):
        shutil.copytree(ROOT / part, copy / part, symlinks=True)
    (copy / ".venv" / "bin").mkdir(parents=True)
    (copy / ".venv" / "bin" / "python").symlink_to(ROOT / ".venv" / "bin" / "python")
    env = {**os.environ, "HELM": str(helm)}
    subprocess.run(
        [str(copy / "scripts" / "render-kustomize-base.sh")],
        env=env,
        check=True,
        capture_output=True,
        timeout=120,
    )
    cmp = filecmp.dircmp(ROOT / "k8s" / "base", copy / "k8s" / "base")
    assert not (cmp.diff_files or cmp.left_only or cmp.right_only), (
        f"k8s/base is stale (run scripts/render-kustomize-base.sh): {cmp.diff_files} "
        f"{cmp.left_only} {cmp.right_only}"
    )


def test_kustomize_dev_overlay_builds(helm: Path) -> None:
    kubectl = shutil.which("kubectl")
    if kubectl is None:
        from tests.support.envtest import find_kubectl

        found = find_kubectl()
        if found is None:
            pytest.skip("kubectl not found (scripts/build-k8s-tools.sh kubectl)")
        kubectl = str(found)
    out = subprocess.run(
        [kubectl, "kustomize", str(ROOT / "k8s" / "overlays" / "dev")],
        capture_output=True,
        text=True,
        check=True,
        timeout=60,
    ).stdout
    docs = documents(out)
    operator = by_kind(docs, "Deployment")["inthegrid-operator"]
    assert env_of(operator)["INTHEGRID_IMAGE"] == "inthegrid:dev"
    secret = next(n for n in by_kind(docs, "Secret") if n.startswith("inthegrid-database-"))
    recorder = env_of(by_kind(docs, "Deployment")["inthegrid-recorder"])
    assert recorder["INTHEGRID_DATABASE_URL"] == {"secretKeyRef": {"name": secret, "key": "url"}}
    # The dev overlay keeps API keys on, with its own development key.
    keys = next(n for n in by_kind(docs, "Secret") if n.startswith("inthegrid-api-keys-"))
    gateway = env_of(by_kind(docs, "Deployment")["inthegrid-gateway"])
    assert gateway["INTHEGRID_API_KEYS"] == {"secretKeyRef": {"name": keys, "key": "apiKeys"}}
