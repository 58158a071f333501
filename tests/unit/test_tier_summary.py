"""scripts/tier_summary.py: the closing table of `make test`, and its verdict (a skip fails under CI)."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

SCRIPT = Path(__file__).parents[2] / "scripts" / "tier_summary.py"

PASSING = """<testsuites><testsuite name="pytest" time="12.4">
<testcase classname="a" name="one" time="1"/><testcase classname="a" name="two" time="1"/>
</testsuite></testsuites>"""
SKIPPING = """<testsuites><testsuite name="pytest" time="3.0">
<testcase classname="b" name="one" time="1"/>
<testcase classname="b" name="two" time="0"><skipped message="helm not found on PATH" type="pytest.skip"/></testcase>
<testcase classname="b" name="three" time="0"><skipped message="helm not found on PATH" type="pytest.skip"/></testcase>
</testsuite></testsuites>"""
FAILING = """<testsuites><testsuite name="pytest" time="4.0">
<testcase classname="c" name="one" time="1"><failure message="assert 1 == 2"/></testcase>
<testcase classname="c" name="two" time="1"><error message="fixture crashed"/></testcase>
<testcase classname="c" name="three" time="1"/>
</testsuite></testsuites>"""
EMPTY = """<testsuites><testsuite name="pytest" time="0.1"></testsuite></testsuites>"""


def summarise(
    tmp_path: Path, reports: dict[str, str], tiers: list[str], ci: str
) -> subprocess.CompletedProcess:
    for name, xml in reports.items():
        (tmp_path / f"{name}.xml").write_text(xml)
    return subprocess.run(
        [sys.executable, str(SCRIPT), str(tmp_path), *tiers],
        capture_output=True,
        text=True,
        env={"CI": ci, "PATH": "/usr/bin:/bin"},
        check=False,
    )


def test_a_clean_run_prints_a_row_per_tier_and_the_plain_closing_line(tmp_path: Path) -> None:
    out = summarise(tmp_path, {"unit": PASSING, "k8s": PASSING}, ["unit", "k8s"], ci="true")
    assert out.returncode == 0, out.stdout
    rows = out.stdout.splitlines()
    assert rows[1].split() == ["unit", "2", "0", "0", "12s"]
    assert "tests: 4 passed, 0 failed, 0 skipped" in rows
    assert rows[-1] == "all tiers passed with nothing skipped"


def test_a_skip_is_reported_with_its_reason_and_fails_only_under_ci(tmp_path: Path) -> None:
    reports = {"unit": PASSING, "operator": SKIPPING}
    local = summarise(tmp_path, reports, ["unit", "operator"], ci="")
    assert local.returncode == 0, local.stdout
    assert "skipped in operator (2): helm not found on PATH" in local.stdout
    ci = summarise(tmp_path, reports, ["unit", "operator"], ci="true")
    assert ci.returncode == 1
    assert "FAILED: tier operator: 2 skipped under CI=true" in ci.stdout


def test_failures_errors_a_missing_report_and_an_empty_tier_fail(tmp_path: Path) -> None:
    out = summarise(tmp_path, {"unit": FAILING, "browser": EMPTY}, ["unit", "browser", "k8s"], ci="")
    assert out.returncode == 1
    assert "FAILED: tier unit: 2 failed" in out.stdout
    assert "FAILED: tier k8s left no report" in out.stdout
    assert "FAILED: tier browser ran no test" in out.stdout
    assert "tests: 1 passed, 2 failed, 0 skipped" in out.stdout
