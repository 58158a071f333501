"""Every metric a rule or a dashboard names is one the running services really export.

Unlike test_metric_names.py (which imports modules and reads prometheus_client's registry), this
scrapes /metrics of a platform started with `inthegrid up` (feed, calculator, recorder, gateway)
and of the operator reconciling the example resources against a real kube-apiserver (EnvTest,
~10 s). It also checks the naming conventions on what is really served: counters end in _total,
base units, and no label whose values grow without bound.
"""

from __future__ import annotations

import json
import re
import tempfile
import urllib.error
import urllib.request
from collections import defaultdict
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING

import pytest
import yaml
from prometheus_client.parser import text_string_to_metric_families

from tests.k8s.chart import ROOT
from tests.operator.harness import EXAMPLES, OperatorProcess, install_crds
from tests.support.envtest import EnvTest, find_tools_bin_dir
from tests.support.polling import wait_until

if TYPE_CHECKING:  # imported by pytest_plugins below, so that pytest rewrites its asserts
    from tests.support.platform import LocalPlatform

pytest_plugins = ["tests.support.platform"]

RULES_FILE = ROOT / "prometheus" / "rules" / "inthegrid.rules.yml"
DASHBOARDS = ROOT / "dashboards"
# Not preceded by ":": the metric part of a recorded name (level:inthegrid_...:rate5m) is no query.
METRIC = re.compile(r"(?<![:\w])inthegrid_[a-z0-9_]+")
TYPE_LINE = re.compile(r"^# TYPE (?P<name>\S+) (?P<type>\S+)$", re.MULTILINE)
SERVICES = ("feed", "calculator", "recorder", "gateway")
MAX_LABEL_VALUES = 200
# Labels whose values are fixed by the code (histogram buckets, quantiles), not by the data.
FIXED_LABELS = {"le", "quantile"}
# Values that name one event, instant or object: a label holding them grows with every message.
UNBOUNDED_VALUE = re.compile(
    r"\d{4}-\d{2}-\d{2}|[0-9a-f]{8}-[0-9a-f]{4}-|^\d{6,}$|^[0-9a-f]{16,}$|/\d{2,}(/|$)"
)
NON_BASE_UNITS = {
    "milliseconds",
    "microseconds",
    "ms",
    "minutes",
    "hours",
    "kilobytes",
    "megabytes",
    "percent",
}
GATEWAY_PROBES = 210  # distinct unknown paths: more than MAX_LABEL_VALUES if paths became label values


@dataclass
class Scrape:
    """What one /metrics endpoint serves."""

    url: str
    types: dict[str, str] = field(default_factory=dict)  # family name as served in # TYPE -> type
    label_values: dict[tuple[str, str], set[str]] = field(default_factory=lambda: defaultdict(set))
    series_names: set[str] = field(default_factory=set)

    @property
    def names(self) -> set[str]:
        """Every name a query could use: sample names, plus those a declared family implies even
        before its first sample (an error counter with no error yet is exported, just empty)."""
        implied: set[str] = set()
        for name, kind in self.types.items():
            if kind == "histogram":
                implied |= {f"{name}_bucket", f"{name}_sum", f"{name}_count"}
            elif kind == "summary":
                implied |= {name, f"{name}_sum", f"{name}_count"}
            else:
                implied.add(name)
        return {n for n in self.series_names | implied if n.startswith("inthegrid_")}


def http_get(url: str) -> str:
    assert url.startswith("http://127.0.0.1:"), url
    with urllib.request.urlopen(url, timeout=10) as response:  # noqa: S310 - local http only, asserted
        return str(response.read().decode())


def scrape(url: str) -> Scrape:
    text = http_get(url)
    found = Scrape(url, types={m["name"]: m["type"] for m in TYPE_LINE.finditer(text)})
    for family in text_string_to_metric_families(text):
        for sample in family.samples:
            found.series_names.add(sample.name)
            for label, value in sample.labels.items():
                found.label_values[(family.name, label)].add(value)
    assert found.types, f"{url} serves no metric families"
    return found


def referenced_names() -> dict[str, set[str]]:
    """{where: inthegrid_* names} named anywhere in a rule (expr, annotations) or a dashboard."""
    found: dict[str, set[str]] = {}
    for group in yaml.safe_load(RULES_FILE.read_text())["groups"]:
        for rule in group["rules"]:
            where = f"{RULES_FILE.name} {rule.get('record') or rule.get('alert')}"
            found[where] = set(METRIC.findall(json.dumps(rule)))
    for path in sorted(DASHBOARDS.glob("*.json")):
        # Every string of the dashboard: panel targets (also inside rows), variables, descriptions.
        found[f"dashboards/{path.name}"] = set(METRIC.findall(json.dumps(json.loads(path.read_text()))))
    return {where: names for where, names in found.items() if names}


def owner(metric: str) -> str | None:
    """The component a name says it belongs to (inthegrid_<component>_...), None for shared ones
    such as inthegrid_bus_*, inthegrid_consumer_* and inthegrid_service_up."""
    component = metric.removeprefix("inthegrid_").split("_", 1)[0]
    return component if component in (*SERVICES, "operator") else None


def probe_gateway(platform: LocalPlatform) -> list[str]:
    """Requests to distinct unknown paths, as a crawler would send: label values must not follow."""
    paths = [f"/api/no-such-thing/{i:04d}x" for i in range(GATEWAY_PROBES)]
    for path in paths:
        try:
            http_get(platform.base_url + path)
        except urllib.error.HTTPError as exc:
            assert exc.code in (401, 404), f"{path}: {exc.code}"
    return paths


@pytest.fixture(scope="module")
def gateway_probes(local_platform: LocalPlatform) -> list[str]:
    return probe_gateway(local_platform)


@pytest.fixture(scope="module")
def platform_scrapes(local_platform: LocalPlatform, gateway_probes: list[str]) -> dict[str, Scrape]:
    assert set(local_platform.metrics_urls) == set(SERVICES), local_platform.metrics_urls
    return {service: scrape(url) for service, url in local_platform.metrics_urls.items()}


@pytest.fixture(scope="module")
def operator_scrape() -> Iterator[Scrape]:
    """The operator under the admin kubeconfig (its RBAC is tested in tests/operator), after it has
    reconciled the example MarketFeed and ArbitrageRule, so its series have samples."""
    bin_dir, reason = find_tools_bin_dir()
    if bin_dir is None:
        pytest.skip(reason)
    with EnvTest(bin_dir) as env, tempfile.TemporaryDirectory(prefix="inthegrid-operator-") as tmp:
        assert env.admin_kubeconfig is not None
        install_crds(env)
        for example in ("marketfeed-proof-of-concept.yaml", "arbitragerule-proof-of-concept.yaml"):
            env.kubectl("apply", "-f", str(EXAMPLES / example))
        operator = OperatorProcess(env.admin_kubeconfig, Path(tmp) / "operator.log").start()
        try:
            wait_until(
                lambda: operator.metric("inthegrid_operator_reconciles_total", result="ok") >= 2,
                timeout=30,
                what="two reconciliations",
                retry_on=(Exception,),
                describe=operator.log_tail,
            )
            yield scrape(f"http://127.0.0.1:{operator.metrics_port}/metrics")
        finally:
            operator.stop()


def test_rules_and_dashboards_name_only_metrics_the_running_services_export(
    platform_scrapes: dict[str, Scrape], operator_scrape: Scrape
) -> None:
    exported = {service: s.names for service, s in platform_scrapes.items()}
    exported["operator"] = operator_scrape.names
    anywhere = set().union(*exported.values())
    referenced = referenced_names()
    assert len(referenced) > 10, referenced  # the rules file and the dashboards were read
    problems = []
    for where, names in sorted(referenced.items()):
        for name in sorted(names):
            component = owner(name)
            if component is not None and name not in exported[component]:
                problems.append(f"{where}: {name} is not exported by the {component}")
            elif name not in anywhere:
                problems.append(f"{where}: {name} is exported by no running service")
    assert not problems, "\n".join(problems)


def _all_scrapes(platform: dict[str, Scrape], operator: Scrape) -> dict[str, Scrape]:
    return {**platform, "operator": operator}


def test_counters_end_in_total_and_names_use_base_units(
    platform_scrapes: dict[str, Scrape], operator_scrape: Scrape
) -> None:
    problems = []
    for service, found in _all_scrapes(platform_scrapes, operator_scrape).items():
        ours = {n: t for n, t in found.types.items() if n.startswith("inthegrid_")}
        assert ours, f"{service} exports no inthegrid_* metric"
        for name, kind in sorted(ours.items()):
            if kind == "counter" and not name.endswith("_total"):
                problems.append(f"{service}: counter {name} does not end in _total")
            if kind != "counter" and name.endswith("_total"):
                problems.append(f"{service}: {kind} {name} ends in _total but is no counter")
            if NON_BASE_UNITS & set(name.split("_")):
                problems.append(f"{service}: {name} is not in base units (seconds, bytes, eur)")
            if kind == "untyped":
                problems.append(f"{service}: {name} has no type")
    assert not problems, "\n".join(problems)


def test_no_label_has_unbounded_values(
    platform_scrapes: dict[str, Scrape], operator_scrape: Scrape, gateway_probes: list[str]
) -> None:
    problems = []
    checked = 0
    for service, found in _all_scrapes(platform_scrapes, operator_scrape).items():
        for (family, label), values in sorted(found.label_values.items()):
            if not family.startswith("inthegrid_") or label in FIXED_LABELS:
                continue
            checked += 1
            if len(values) > MAX_LABEL_VALUES:
                problems.append(f"{service}: {family}{{{label}}} has {len(values)} distinct values")
            odd = sorted(v for v in values if UNBOUNDED_VALUE.search(v))
            if odd:
                problems.append(f"{service}: {family}{{{label}}} holds per-event values {odd[:5]}")
    assert checked > 10, "too few labelled series to judge"
    gateway_values = set().union(*platform_scrapes["gateway"].label_values.values())
    leaked = gateway_values & set(gateway_probes)
    assert not leaked, f"request paths became label values: {sorted(leaked)[:5]}"
    assert not problems, "\n".join(problems)


def test_the_gateway_counted_the_probe_requests_under_one_route(
    platform_scrapes: dict[str, Scrape], gateway_probes: list[str]
) -> None:
    """The probes above really reached the metrics (else the bounded-label check proves nothing)."""
    routes = platform_scrapes["gateway"].label_values[("inthegrid_gateway_requests", "route")]
    assert routes, "the gateway counted no request"
    assert len(routes) < 50, routes
    text = http_get(platform_scrapes["gateway"].url)
    counted = sum(
        sample.value
        for family in text_string_to_metric_families(text)
        if family.name == "inthegrid_gateway_requests"
        for sample in family.samples
        if sample.name.endswith("_total") and sample.labels.get("status") in ("401", "404")
    )
    assert counted >= len(gateway_probes), f"{counted} 401/404 requests counted, {len(gateway_probes)} sent"
