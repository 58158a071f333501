"""The closing table of `make test`: one row per tier (passed, skipped, failed, time), the reason of
every skip, and one total line.

Exit status 1 when a tier failed, ran no test, left no report (it crashed or never ran), or, under CI=true,
skipped anything: on CI every tier's tools are installed by the project's own scripts, so a skip
there means a missing install step, and a run that passes by skipping proves nothing.

Usage: python scripts/tier_summary.py REPORT_DIR TIER [TIER ...]   (REPORT_DIR/TIER.xml, JUnit XML)
"""

from __future__ import annotations

import os
import sys
from dataclasses import dataclass, field
from pathlib import Path

import defusedxml.ElementTree as ET


@dataclass
class Tier:
    name: str
    passed: int = 0
    skipped: int = 0
    failed: int = 0
    seconds: float = 0.0
    skip_reasons: dict[str, int] = field(default_factory=dict)
    missing: bool = False


def read_tier(name: str, report: Path) -> Tier:
    tier = Tier(name)
    if not report.exists():
        tier.missing = True
        return tier
    root = ET.parse(report).getroot()
    suites = [root] if root.tag == "testsuite" else list(root.iter("testsuite"))
    for suite in suites:
        tier.seconds += float(suite.get("time", 0.0))
        for case in suite.iter("testcase"):
            outcome = {child.tag for child in case}
            if outcome & {"failure", "error"}:
                tier.failed += 1
            elif "skipped" in outcome:
                tier.skipped += 1
                reason = (case.find("skipped").get("message") or "no reason given").strip()  # type: ignore[union-attr]
                tier.skip_reasons[reason] = tier.skip_reasons.get(reason, 0) + 1
            else:
                tier.passed += 1
    return tier


def render(tiers: list[Tier]) -> str:
    lines = [f"{'tier':<12} {'passed':>7} {'skipped':>8} {'failed':>7} {'time':>9}"]
    for t in tiers:
        if t.missing:
            lines.append(f"{t.name:<12} {'no report: the tier did not run to the end':>42}")
            continue
        lines.append(f"{t.name:<12} {t.passed:>7} {t.skipped:>8} {t.failed:>7} {t.seconds:>8.0f}s")
    total = Tier("total")
    for t in tiers:
        total.passed, total.skipped, total.failed = (
            total.passed + t.passed,
            total.skipped + t.skipped,
            total.failed + t.failed,
        )
        total.seconds += t.seconds
    lines.append(
        f"{'total':<12} {total.passed:>7} {total.skipped:>8} {total.failed:>7} {total.seconds:>8.0f}s"
    )
    for t in tiers:
        for reason, count in t.skip_reasons.items():
            lines.append(f"skipped in {t.name} ({count}): {reason}")
    # The plain closing line CI reads: "N passed, N failed" (", N skipped" may follow).
    lines.append(f"tests: {total.passed} passed, {total.failed} failed, {total.skipped} skipped")
    return "\n".join(lines)


def verdict(tiers: list[Tier], ci: bool) -> list[str]:
    problems = [f"tier {t.name} left no report" for t in tiers if t.missing]
    problems += [f"tier {t.name}: {t.failed} failed" for t in tiers if t.failed]
    problems += [f"tier {t.name} ran no test" for t in tiers if not t.missing and t.passed + t.failed == 0]
    if ci:
        problems += [f"tier {t.name}: {t.skipped} skipped under CI=true" for t in tiers if t.skipped]
    return problems


def main(argv: list[str]) -> int:
    if len(argv) < 3:
        print(__doc__.strip().splitlines()[-1], file=sys.stderr)
        return 2
    folder = Path(argv[1])
    tiers = [read_tier(name, folder / f"{name}.xml") for name in argv[2:]]
    print(render(tiers))
    ci = os.environ.get("CI", "").lower() in {"1", "true", "yes"}
    problems = verdict(tiers, ci)
    for problem in problems:
        print(f"FAILED: {problem}")
    if not problems:
        print("all tiers passed" + (" with nothing skipped" if ci else ""))
    return 1 if problems else 0


if __name__ == "__main__":
    sys.exit(main(sys.argv))
