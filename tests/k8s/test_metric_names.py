"""Every metric a dashboard or a rule queries is one the code exports.

The names are collected from prometheus_client's registry after importing every module of the
services and the operator (a test scraping the running services' /metrics complements this)."""

from __future__ import annotations

import importlib
import json
import pkgutil
import re

import yaml
from prometheus_client import REGISTRY

from tests.k8s.chart import ROOT

# Not preceded by ":": the metric part of a recorded name (level:inthegrid_...:rate5m) is no query.
METRIC = re.compile(r"(?<![:\w])inthegrid_[a-z0-9_]+")
# Recorded series: level:metric:operations (https://prometheus.io/docs/practices/rules/).
RECORDED = re.compile(r"\b[a-z_]+:inthegrid_[a-z0-9_]+:[a-z0-9_]+")
PACKAGES = ("inthegrid", "inthegrid_operator")


def exported_names() -> set[str]:
    for package in PACKAGES:
        root = importlib.import_module(package)
        for info in pkgutil.walk_packages(root.__path__, f"{package}."):
            importlib.import_module(info.name)
    # _names_to_collectors holds every series name a collector emits: foo_total, foo_bucket, ...
    return {n for n in REGISTRY._names_to_collectors if n.startswith("inthegrid_")}


def rules() -> list[dict]:
    text = (ROOT / "prometheus" / "rules" / "inthegrid.rules.yml").read_text()
    return [r for g in yaml.safe_load(text)["groups"] for r in g["rules"]]


def dashboard_exprs() -> dict[str, list[str]]:
    found: dict[str, list[str]] = {}
    for path in sorted((ROOT / "dashboards").glob("*.json")):
        for panel in json.loads(path.read_text())["panels"]:
            for target in panel.get("targets", []):
                if "expr" in target:
                    found.setdefault(path.name, []).append(target["expr"])
    return found


def test_rules_and_dashboards_query_only_exported_metrics() -> None:
    exported = exported_names()
    assert "inthegrid_calculator_detection_latency_seconds_bucket" in exported  # the collection works
    queries = {f"rule {r.get('record') or r.get('alert')}": [r["expr"]] for r in rules()}
    queries |= {f"dashboard {name}": exprs for name, exprs in dashboard_exprs().items()}
    unknown = {
        f"{where}: {metric}"
        for where, exprs in queries.items()
        for expr in exprs
        for metric in METRIC.findall(expr)
        if metric not in exported
    }
    assert not unknown, "queried but not exported:\n" + "\n".join(sorted(unknown))


def test_recorded_series_used_by_dashboards_are_recorded() -> None:
    recorded = {r["record"] for r in rules() if "record" in r}
    used = {m for exprs in dashboard_exprs().values() for e in exprs for m in RECORDED.findall(e)}
    used |= {m for r in rules() for m in RECORDED.findall(r["expr"])}
    assert used, "no recording rule used: the check would be empty"
    assert used <= recorded, used - recorded
