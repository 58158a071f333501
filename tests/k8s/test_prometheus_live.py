"""A real Prometheus scrapes a locally running platform with the repository's rules file and
answers queries on its recording rules; on a healthy platform no alert is pending or firing.

Needs the `prometheus` binary (Debian: apt-get install prometheus); skips without it.
"""

from __future__ import annotations

import json
import shutil
import signal
import subprocess
import time
import urllib.parse
import urllib.request
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import TYPE_CHECKING, Any, TypeVar

import pytest
import yaml

from tests.k8s.chart import ROOT
from tests.support.servers import free_port

if TYPE_CHECKING:  # imported by pytest_plugins below, so that pytest rewrites its asserts
    from tests.support.platform import LocalPlatform

pytest_plugins = ["tests.support.platform"]

RULES_FILE = ROOT / "prometheus" / "rules" / "inthegrid.rules.yml"
# The records group evaluates every 30 s (its own interval) and rate() needs two scrapes of a
# counter that has grown: the first positive value can take up to two evaluations.
RULE_TIMEOUT_S = 75.0
T = TypeVar("T")


def render_config(metrics_urls: dict[str, str]) -> str:
    """One job per service (the job label says which); no target labels, which would clash with
    the metrics' own `service` label."""
    jobs = []
    for service, url in sorted(metrics_urls.items()):
        parts = urllib.parse.urlsplit(url)
        jobs.append(
            {
                "job_name": f"inthegrid-{service}",
                "metrics_path": parts.path,
                "static_configs": [{"targets": [parts.netloc]}],
            }
        )
    config = {
        "global": {"scrape_interval": "1s", "scrape_timeout": "1s", "evaluation_interval": "1s"},
        "rule_files": [str(RULES_FILE)],
        "scrape_configs": jobs,
    }
    return yaml.safe_dump(config, sort_keys=False)


class Prometheus:
    def __init__(self, binary: str, config: str, workdir: Path) -> None:
        self.port = free_port()
        self.base_url = f"http://127.0.0.1:{self.port}"
        self.config_path = workdir / "prometheus.yml"
        self.config_path.write_text(config)
        self.log_path = workdir / "prometheus.log"
        self.command = [
            binary,
            f"--config.file={self.config_path}",
            f"--storage.tsdb.path={workdir / 'tsdb'}",
            f"--web.listen-address=127.0.0.1:{self.port}",
        ]
        self.process: subprocess.Popen[bytes] | None = None

    def start(self) -> Prometheus:
        with self.log_path.open("ab") as log:
            self.process = subprocess.Popen(
                self.command, stdout=log, stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL
            )
        self.wait_for(self._ready, 30, "Prometheus /-/ready")
        return self

    def _ready(self) -> bool:
        try:
            with urllib.request.urlopen(f"{self.base_url}/-/ready", timeout=2) as response:  # noqa: S310
                return bool(response.status == 200)
        except OSError:
            return False

    def api(self, path: str, **params: str) -> Any:
        query = f"?{urllib.parse.urlencode(params)}" if params else ""
        url = f"{self.base_url}/api/v1/{path}{query}"  # base_url: http://127.0.0.1:<port>
        with urllib.request.urlopen(url, timeout=10) as response:  # noqa: S310
            body = json.loads(response.read())
        assert body["status"] == "success", body
        return body["data"]

    def query(self, promql: str) -> list[dict[str, Any]]:
        data = self.api("query", query=promql)
        assert data["resultType"] == "vector", data
        return list(data["result"])

    def wait_for(self, check: Callable[[], T | None], timeout: float, what: str) -> T:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self.process is not None and self.process.poll() is not None:
                raise AssertionError(f"prometheus exited with {self.process.returncode}:\n{self.log_tail()}")
            result = check()
            if result:
                return result
            time.sleep(0.5)
        raise AssertionError(f"timed out after {timeout:.0f}s waiting for {what}\n{self.log_tail()}")

    def stop(self) -> None:
        if self.process is not None and self.process.poll() is None:
            self.process.send_signal(signal.SIGTERM)
            try:
                self.process.wait(30)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait(10)

    def log_tail(self, chars: int = 3000) -> str:
        return self.log_path.read_text(errors="replace")[-chars:] if self.log_path.exists() else ""


@pytest.fixture(scope="module")
def prometheus(
    local_platform: LocalPlatform, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[Prometheus]:
    binary = shutil.which("prometheus")
    if binary is None:
        pytest.skip(
            "prometheus not found on PATH: install Debian's `prometheus` package (apt-get install prometheus)"
        )
    server = Prometheus(
        binary, render_config(local_platform.metrics_urls), tmp_path_factory.mktemp("prometheus")
    )
    try:
        yield server.start()
    finally:
        server.stop()


def positive_series(server: Prometheus, promql: str) -> dict[str, float] | None:
    """{labels: value} when every series of the result is positive, else None (not yet)."""
    result = server.query(promql)
    values = {json.dumps(r["metric"], sort_keys=True): float(r["value"][1]) for r in result}
    return values if values and all(v > 0 for v in values.values()) else None


def test_prometheus_scrapes_every_service(prometheus: Prometheus, local_platform: LocalPlatform) -> None:
    def all_up() -> list[dict[str, Any]] | None:
        targets = prometheus.api("targets", state="active")["activeTargets"]
        up = len(targets) == len(local_platform.metrics_urls) and all(t["health"] == "up" for t in targets)
        return targets if up else None

    targets = prometheus.wait_for(all_up, 30, "every target up")
    assert {t["labels"]["job"] for t in targets} == {f"inthegrid-{s}" for s in local_platform.metrics_urls}


def test_recording_rules_answer_with_positive_rates(
    prometheus: Prometheus, local_platform: LocalPlatform
) -> None:
    # Prices flow feed -> calculator -> recorder: every stage's recorded rate must turn positive.
    # They are waited for together: an evaluation that saw only two scrapes a second apart may
    # have caught the feed's increase but not yet the calculator's; the next one (30 s on) does.
    records = (
        "namespace_feed_zone:inthegrid_feed_prices_published:rate5m",
        "namespace_rule:inthegrid_calculator_prices_processed:rate5m",
        "namespace_rule:inthegrid_calculator_evaluations:rate5m",
        "namespace_table:inthegrid_recorder_rows_written:rate5m",
    )

    def all_positive() -> dict[str, dict[str, float]] | None:
        found = {record: positive_series(prometheus, record) for record in records}
        return {r: v for r, v in found.items() if v is not None} if all(found.values()) else None

    answers = prometheus.wait_for(all_positive, RULE_TIMEOUT_S, f"positive values of {', '.join(records)}")
    zones = {
        json.loads(labels)["zone"]
        for labels in answers["namespace_feed_zone:inthegrid_feed_prices_published:rate5m"]
    }
    latest = local_platform.get_json("/api/prices/latest")["prices"]
    assert isinstance(latest, list)
    assert zones == {p["zone"] for p in latest}, answers  # one positive rate per zone the gateway shows


def test_every_rule_evaluates_and_no_alert_is_active_on_a_healthy_platform(prometheus: Prometheus) -> None:
    prometheus.wait_for(
        lambda: positive_series(prometheus, "namespace_rule:inthegrid_calculator_evaluations:rate5m"),
        RULE_TIMEOUT_S,
        "a positive namespace_rule:inthegrid_calculator_evaluations:rate5m",
    )

    def groups() -> dict[str, dict[str, Any]]:
        return {g["name"]: g for g in prometheus.api("rules")["groups"]}

    # Alerts read the recorded series: let the alerts group evaluate twice after the records were
    # positive, so a pending InTheGridNoEvaluations from before the first rate would have cleared.
    seen = [groups()["inthegrid.alerts"]["lastEvaluation"]]

    def evaluated_twice_more() -> dict[str, dict[str, Any]] | None:
        now = groups()
        if now["inthegrid.alerts"]["lastEvaluation"] != seen[-1]:
            seen.append(now["inthegrid.alerts"]["lastEvaluation"])
        return now if len(seen) >= 3 else None

    final = prometheus.wait_for(evaluated_twice_more, 15, "two evaluations of the alerts group")
    rules = [r for g in final.values() for r in g["rules"]]
    defined = [r for g in yaml.safe_load(RULES_FILE.read_text())["groups"] for r in g["rules"]]
    assert len(rules) == len(defined), f"Prometheus loaded {len(rules)} of {len(defined)} rules"
    broken = [f"{r['name']}: {r['health']} {r.get('lastError', '')}" for r in rules if r["health"] != "ok"]
    assert not broken, "\n".join(broken)
    # Every alert: for >= 5m, so none can fire within this test; pending would show its condition
    # holds already, which on a healthy platform none must.
    active = prometheus.query("ALERTS")
    assert not active, json.dumps([a["metric"] for a in active], indent=1)
    assert all(r["state"] == "inactive" for r in rules if r["type"] == "alerting"), rules
