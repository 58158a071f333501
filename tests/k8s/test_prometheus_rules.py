"""promtool checks the plain rules file and runs its unit tests; every alert has a test and a runbook."""

from __future__ import annotations

import subprocess
from pathlib import Path

import yaml

from tests.k8s.chart import ROOT

RULES = ROOT / "prometheus" / "rules" / "inthegrid.rules.yml"
TESTS = sorted((ROOT / "prometheus" / "tests").glob("*.test.yml"))
RUNBOOK_PREFIX = "https://github.com/inthegrid/inthegrid/blob/main/docs/runbooks/"


def alerts() -> list[dict]:
    groups = yaml.safe_load(RULES.read_text())["groups"]
    return [r for g in groups for r in g["rules"] if "alert" in r]


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
