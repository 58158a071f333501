"""promtool checks the plain rules file and runs its unit tests; every alert has a test and a runbook."""

from __future__ import annotations

import re
import subprocess
from pathlib import Path

import yaml

from tests.k8s.chart import ROOT

RULES = ROOT / "prometheus" / "rules" / "inthegrid.rules.yml"
TESTS = sorted((ROOT / "prometheus" / "tests").glob("*.test.yml"))
RUNBOOK_PREFIX = "https://github.com/inthegrid/inthegrid/blob/main/docs/runbooks/"


# level:metric:operations, https://prometheus.io/docs/practices/rules/
RECORDED_NAME = re.compile(
    r"^(?P<level>[a-z]+(?:_[a-z]+)*):(?P<metric>inthegrid_[a-z0-9_]+):(?P<ops>[a-z0-9_]+)$"
)
AGGREGATION = re.compile(
    r"\b(?P<op>sum|min|max|avg|count|group|stddev|stdvar|topk|bottomk|quantile|count_values)\s*"
    r"(?:(?P<clause>by|without)\s*\((?P<labels>[^)]*)\))?\s*\("
)


def all_rules() -> list[dict]:
    groups = yaml.safe_load(RULES.read_text())["groups"]
    return [r for g in groups for r in g["rules"]]


def alerts() -> list[dict]:
    return [r for r in all_rules() if "alert" in r]


def labels_of(text: str) -> list[str]:
    return [label.strip() for label in text.split(",") if label.strip()]


def test_promtool_check_rules(promtool: Path) -> None:
    out = subprocess.run(
        [str(promtool), "check", "rules", str(RULES)], capture_output=True, text=True, check=False
    )
    assert out.returncode == 0, out.stdout + out.stderr
    assert "SUCCESS" in out.stdout


def test_promtool_unit_tests(promtool: Path) -> None:
    out = subprocess.run(
        [str(promtool), "test", "rules", *map(str, TESTS)],
        capture_output=True,
        text=True,
        check=False,
        cwd=ROOT,
    )
    assert out.returncode == 0, out.stdout + out.stderr
    assert out.stdout.count("SUCCESS") == len(TESTS)


def test_the_alerts_the_issue_asks_for_exist() -> None:
    names = {a["alert"] for a in alerts()}
    assert names >= {
        "InTheGridComponentDown",
        "InTheGridFeedAbsent",
        "InTheGridCalculatorAbsent",
        "InTheGridGatewayErrors",
        "InTheGridGatewayLatency",
        "InTheGridFeedStale",
        "InTheGridConsumerLagGrowing",
        "InTheGridRecorderWriteErrors",
        "InTheGridNoEvaluations",
        "InTheGridOperatorReconcileErrors",
    }


def test_every_alert_has_a_firing_unit_test() -> None:
    tested = set()
    for path in TESTS:
        for case in yaml.safe_load(path.read_text())["tests"]:
            for t in case.get("alert_rule_test", []):
                if t.get("exp_alerts"):
                    tested.add(t["alertname"])
    missing = {a["alert"] for a in alerts()} - tested
    assert not missing, f"alerts without a firing promtool test: {missing}"


def test_every_alert_links_an_existing_runbook() -> None:
    for alert in alerts():
        url = alert["annotations"]["runbook_url"]
        assert url == f"{RUNBOOK_PREFIX}{alert['alert']}.md", url
        runbook = ROOT / "docs" / "runbooks" / f"{alert['alert']}.md"
        assert runbook.is_file(), runbook
        text = runbook.read_text()
        for section in ("## Meaning", "## Impact", "## Diagnosis", "## Mitigation"):
            assert section in text, f"{runbook.name}: no {section}"
        assert alert["labels"]["severity"] in ("warning", "critical")


def test_every_aggregation_keeps_namespace() -> None:
    """Two installations scraped by one Prometheus must never be summed together."""
    checked = 0
    for rule in all_rules():
        for found in AGGREGATION.finditer(rule["expr"]):
            checked += 1
            where = f"{rule.get('record') or rule.get('alert')}: {found.group(0)}"
            assert found.group("clause") == "by", f"{where}: aggregate with by (namespace, ...)"
            assert "namespace" in labels_of(found.group("labels")), where
    assert checked > 10, "the aggregation pattern found too little: the check would be empty"


def test_recorded_names_follow_level_metric_operations() -> None:
    records = [r for r in all_rules() if "record" in r]
    assert records
    for rule in records:
        name, expr = rule["record"], rule["expr"]
        parts = RECORDED_NAME.match(name)
        assert parts, f"{name}: not level:metric:operations"
        # The level names the labels the outermost aggregation keeps (le is consumed by a quantile).
        outer = next(AGGREGATION.finditer(expr))
        kept = [label for label in labels_of(outer.group("labels")) if label != "le"]
        assert parts["level"].split("_") == kept, f"{name}: level {parts['level']} but by ({', '.join(kept)})"
        # The metric is the one the expression reads; after a rate the counter's _total is dropped.
        metric = parts["metric"]
        assert re.search(rf"\b{metric}(_total|_bucket)?\b", expr), f"{name}: {metric} not in {expr}"
        if "rate" in parts["ops"]:
            assert not metric.endswith("_total"), name
            window = re.search(r"\[(\w+)\]", expr)
            assert window and parts["ops"].endswith(f"rate{window.group(1)}"), f"{name}: window of {expr}"
