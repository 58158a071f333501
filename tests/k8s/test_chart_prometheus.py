"""The chart's optional bundled Prometheus (monitoring.prometheus.bundled): off by default; when on, a
non-root server on a read-only root with the repository's rules file, service discovery confined to the
release namespace with a least-privilege Role, the targets the ServiceMonitor and PodMonitor name, and
NetworkPolicies that let it (and only what metricsFrom names besides) reach the metrics ports.

Debian's promtool is built without Kubernetes service discovery and cannot check this configuration;
the server built here loads it in the kind tier (tests/e2e/test_kind_monitoring.py)."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
import yaml

from tests.k8s.chart import CHART, NAMESPACE, ROOT, documents, render

ON = ("--set", "monitoring.prometheus.bundled.enabled=true")
NAME = "inthegrid-prometheus"
RULES = ROOT / "prometheus" / "rules" / "inthegrid.rules.yml"


def named(docs: list[dict[str, Any]], kind: str, name: str) -> dict[str, Any]:
    found = [d for d in docs if d["kind"] == kind and d["metadata"]["name"] == name]
    assert len(found) == 1, f"{kind}/{name}: {len(found)} rendered"
    return found[0]


def labels_of(doc: dict[str, Any]) -> dict[str, str]:
    return dict(doc["spec"]["template"]["metadata"]["labels"])


def matches(selector: dict[str, Any], labels: dict[str, str]) -> bool:
    if any(labels.get(k) != v for k, v in selector.get("matchLabels", {}).items()):
        return False
    return all(labels.get(e["key"]) in e["values"] for e in selector.get("matchExpressions", []))


@pytest.fixture(scope="module")
def docs(helm: Path) -> list[dict[str, Any]]:
    return documents(render(helm, *ON))


def test_off_by_default(helm: Path) -> None:
    rendered = documents(render(helm))
    assert not [d for d in rendered if "prometheus" in d["metadata"]["name"]]


def test_the_server_runs_non_root_on_a_read_only_root_with_the_repositorys_rules(
    docs: list[dict[str, Any]],
) -> None:
    deployment = named(docs, "Deployment", NAME)
    pod = deployment["spec"]["template"]["spec"]
    (container,) = pod["containers"]
    assert pod["securityContext"]["runAsNonRoot"] is True and pod["securityContext"]["runAsUser"] != 0
    assert container["securityContext"]["readOnlyRootFilesystem"] is True
    assert container["securityContext"]["allowPrivilegeEscalation"] is False
    assert container["image"].startswith("inthegrid-prometheus:")
    assert "--config.file=/etc/prometheus/prometheus.yml" in container["args"]
    mounts = {m["mountPath"]: m for m in container["volumeMounts"]}
    assert mounts["/etc/prometheus"]["readOnly"] is True
    volumes = {v["name"]: v for v in pod["volumes"]}
    assert volumes[mounts["/prometheus"]["name"]]["emptyDir"]["sizeLimit"] == "1Gi"
    config_map = named(docs, "ConfigMap", NAME)
    assert config_map["data"]["inthegrid.rules.yml"] == RULES.read_text()
    assert pod["serviceAccountName"] == NAME
    # A changed rules file or scrape config rolls the server.
    assert "checksum/config" in deployment["spec"]["template"]["metadata"]["annotations"]


def test_service_discovery_is_confined_to_the_namespace_with_a_least_privilege_role(
    docs: list[dict[str, Any]],
) -> None:
    config = yaml.safe_load(named(docs, "ConfigMap", NAME)["data"]["prometheus.yml"])
    assert config["rule_files"] == ["/etc/prometheus/inthegrid.rules.yml"]
    for job in config["scrape_configs"]:
        assert job["honor_labels"] is True  # the metrics' own `service` label stays
        for sd in job["kubernetes_sd_configs"]:
            assert sd["namespaces"] == {"names": [NAMESPACE]}
    role = named(docs, "Role", NAME)
    assert role["rules"] == [
        {"apiGroups": [""], "resources": ["pods", "services", "endpoints"], "verbs": ["get", "list", "watch"]}
    ]
    binding = named(docs, "RoleBinding", NAME)
    assert binding["roleRef"] == {"apiGroup": "rbac.authorization.k8s.io", "kind": "Role", "name": NAME}
    assert binding["subjects"] == [{"kind": "ServiceAccount", "name": NAME, "namespace": NAMESPACE}]
    assert not [d for d in docs if d["kind"].startswith("Cluster") and "prometheus" in d["metadata"]["name"]]


def test_it_scrapes_what_the_service_and_pod_monitors_name(docs: list[dict[str, Any]], helm: Path) -> None:
    config = yaml.safe_load(named(docs, "ConfigMap", NAME)["data"]["prometheus.yml"])
    keeps = {
        job["job_name"]: {
            tuple(r["source_labels"]): r["regex"] for r in job["relabel_configs"] if r.get("action") == "keep"
        }
        for job in config["scrape_configs"]
    }
    monitors = documents(render(helm, "--set", "monitoring.serviceMonitor.enabled=true"))
    service_monitor = named(monitors, "ServiceMonitor", "inthegrid")
    pod_monitor = named(monitors, "PodMonitor", "inthegrid-workloads")
    services = keeps["inthegrid-services"]
    assert service_monitor["spec"]["selector"]["matchLabels"]["inthegrid.io/metrics"] == "true"
    assert services[("__meta_kubernetes_service_label_inthegrid_io_metrics",)] == "true"
    ports = "|".join(e["port"] for e in service_monitor["spec"]["endpoints"])
    assert services[("__meta_kubernetes_endpoint_port_name",)] == ports
    workloads = keeps["inthegrid-workloads"]
    (components,) = [
        e["values"]
        for e in pod_monitor["spec"]["selector"]["matchExpressions"]
        if e["key"] == "app.kubernetes.io/component"
    ]
    assert workloads[("__meta_kubernetes_pod_label_app_kubernetes_io_component",)] == "|".join(components)
    # Every Service it keeps has a port it keeps: the operator, recorder and gateway.
    kept = [
        s
        for s in docs
        if s["kind"] == "Service" and s["metadata"]["labels"].get("inthegrid.io/metrics") == "true"
    ]
    assert {s["metadata"]["labels"]["app.kubernetes.io/component"] for s in kept} == {
        "operator",
        "recorder",
        "gateway",
    }
    assert all({p["name"] for p in s["spec"]["ports"]} & set(ports.split("|")) for s in kept)


def test_network_policies_let_it_scrape_and_reach_the_api_server(docs: list[dict[str, Any]]) -> None:
    prometheus = labels_of(named(docs, "Deployment", NAME))
    policies = {d["metadata"]["name"]: d["spec"] for d in docs if d["kind"] == "NetworkPolicy"}
    metrics_from = policies["inthegrid-metrics"]["ingress"][0]["from"]
    assert any("podSelector" in peer and matches(peer["podSelector"], prometheus) for peer in metrics_from)
    assert {
        "namespaceSelector": {"matchLabels": {"kubernetes.io/metadata.name": "monitoring"}}
    } in metrics_from
    # Ingress and egress of its own pod are both policed.
    for direction in ("Ingress", "Egress"):
        assert any(
            direction in spec["policyTypes"] and matches(spec["podSelector"], prometheus)
            for spec in policies.values()
        ), direction
    egress = policies["inthegrid-egress-prometheus"]["egress"]
    assert {p["port"] for p in egress[0]["ports"]} == {9100, 8000}  # metricsPort, gateway.httpPort
    assert {p["port"] for p in egress[1]["ports"]} == {443, 6443}


def test_the_chart_ships_the_rules_file_it_renders() -> None:
    assert (CHART / "files" / "prometheus" / "inthegrid.rules.yml").read_text() == RULES.read_text()
