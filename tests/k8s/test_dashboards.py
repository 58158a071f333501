"""Grafana dashboards: stable uids, a datasource variable on every query, SQL on real tables."""

from __future__ import annotations

import json
import re
from pathlib import Path

import pytest

from tests.k8s.chart import ROOT

DASHBOARDS = sorted((ROOT / "dashboards").glob("*.json"))
MIGRATIONS = sorted((ROOT / "services" / "inthegrid" / "platform" / "migrations").glob("*.sql"))
EXPECTED_UIDS = {"inthegrid-market", "inthegrid-pipeline", "inthegrid-operator"}


def load(path: Path) -> dict:
    return json.loads(path.read_text())


def test_uids_are_stable_and_match_file_names() -> None:
    uids = {load(p)["uid"] for p in DASHBOARDS}
    assert uids == EXPECTED_UIDS  # links and bookmarks use these: never change them
    for path in DASHBOARDS:
        assert load(path)["uid"] == path.stem


@pytest.mark.parametrize("path", DASHBOARDS, ids=lambda p: p.name)
def test_every_query_uses_a_datasource_variable(path: Path) -> None:
    board = load(path)
    variables = {v["name"]: v for v in board["templating"]["list"] if v["type"] == "datasource"}
    assert variables["datasource"]["query"] == "prometheus"
    panels = [p for p in board["panels"] if p["type"] != "row"]
    assert panels
    ids = [p["id"] for p in board["panels"]]
    assert len(ids) == len(set(ids))
    for panel in panels:
        for target in panel["targets"]:
            uid = target["datasource"]["uid"]
            assert uid in ("${datasource}", "${database}"), (panel["title"], uid)
            assert uid.strip("${}") in variables, panel["title"]


def test_the_issue_s_views_are_there() -> None:
    titles = " | ".join(p["title"].lower() for path in DASHBOARDS for p in load(path)["panels"])
    for view in (
        "prices by zone",
        "spread matrix",
        "heatmap",
        "open opportunities",
        "net spread",
        "profit by border",
        "detection latency",
        "throughput",
        "consumer lag",
        "database write rate",
        "errors",
        "reconciles",
        "reconcile errors",
    ):
        assert view in titles, view


def test_sql_queries_read_tables_and_columns_that_exist() -> None:
    schema = "\n".join(p.read_text() for p in MIGRATIONS)
    tables = set(re.findall(r"CREATE TABLE IF NOT EXISTS (\w+)", schema))
    for path in DASHBOARDS:
        for panel in load(path)["panels"]:
            for target in panel.get("targets", []):
                sql = target.get("rawSql")
                if not sql:
                    continue
                used = set(re.findall(r"\b(?:FROM|JOIN)\s+(\w+)", sql)) - {"latest"}
                assert used and used <= tables, (panel["title"], used - tables)
                for column in ("price_eur_mwh", "net_eur_mwh", "profit_eur", "pair_a", "delivery_start"):
                    if column in sql:
                        assert re.search(rf"\b{column}\b", schema), column
