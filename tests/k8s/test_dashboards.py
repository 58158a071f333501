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


# --- Conventions: layout, units, rate windows, filter variables ---------------------------------

GRID_WIDTH = 24
FILTERS = ("namespace", "feed", "zone", "rule")
# A metric name followed by its optional {selector}; recorded names (level:metric:ops) included.
SELECTOR = re.compile(r"(?P<name>\b(?:[a-z_]+:)?inthegrid_[a-z0-9_]+(?::[a-z0-9_]+)?)(?P<labels>\{[^}]*\})?")
RANGE = re.compile(r"\[([^\]]+)\]")
# The table each SQL query reads, and the variables that must filter it.
SQL_FILTERS = {"prices": ("$zone",), "opportunities": ("$rule", "$zone")}


def panels_of(board: dict) -> list[dict]:
    return [p for p in board["panels"] if p["type"] != "row"]


def prometheus_exprs(board: dict) -> list[tuple[str, str]]:
    return [(p["title"], t["expr"]) for p in panels_of(board) for t in p["targets"] if "expr" in t]


def exported_labels() -> dict[str, set[str]]:
    """{series name: its labels} for every metric the code exports, plus `namespace`, which the
    Prometheus Operator adds to every target."""
    from prometheus_client import REGISTRY

    from tests.k8s.test_metric_names import exported_names

    names = exported_names()
    collectors = REGISTRY._names_to_collectors
    return {n: {*getattr(collectors[n], "_labelnames", ()), "namespace"} for n in names}


def labels_of(name: str, exported: dict[str, set[str]]) -> set[str]:
    """A recorded name says its labels in its level (namespace_feed_zone:...); others are exported."""
    if ":" in name:
        return set(name.split(":", 1)[0].split("_"))
    assert name in exported, f"{name} is not exported"
    return exported[name]


def overlaps(panels: list[dict]) -> list[str]:
    """Pairs of panels whose gridPos rectangles share a cell, and panels outside the 24-column grid."""
    problems, boxes = [], []
    for panel in panels:
        g = panel["gridPos"]
        if g["w"] <= 0 or g["h"] <= 0 or g["x"] < 0 or g["y"] < 0 or g["x"] + g["w"] > GRID_WIDTH:
            problems.append(f"'{panel['title']}' lies outside the grid")
        boxes.append((panel["title"], g["x"], g["y"], g["x"] + g["w"], g["y"] + g["h"]))
    for i, (a, ax0, ay0, ax1, ay1) in enumerate(boxes):
        for b, bx0, by0, bx1, by1 in boxes[i + 1 :]:
            if not (ax1 <= bx0 or bx1 <= ax0 or ay1 <= by0 or by1 <= ay0):
                problems.append(f"'{a}' overlaps '{b}'")
    return problems


@pytest.mark.parametrize("path", DASHBOARDS, ids=lambda p: p.name)
def test_panels_do_not_overlap(path: Path) -> None:
    problems = overlaps(load(path)["panels"])
    assert not problems, f"{path.name}: " + "; ".join(problems)


def test_the_overlap_check_sees_a_shared_cell_and_allows_touching_edges() -> None:
    def at(title: str, x: int, y: int, w: int, h: int) -> dict:
        return {"title": title, "gridPos": {"x": x, "y": y, "w": w, "h": h}}

    assert overlaps([at("a", 0, 0, 12, 8), at("b", 11, 7, 4, 4)]) == ["'a' overlaps 'b'"]
    assert overlaps([at("a", 0, 0, 12, 8), at("b", 12, 0, 12, 8), at("c", 0, 8, 24, 1)]) == []
    assert overlaps([at("wide", 20, 0, 8, 2)]) == ["'wide' lies outside the grid"]


@pytest.mark.parametrize("path", DASHBOARDS, ids=lambda p: p.name)
def test_every_panel_has_a_unit_and_thresholds(path: Path) -> None:
    for panel in panels_of(load(path)):
        defaults = panel["fieldConfig"]["defaults"]
        # "short" is Grafana's guess when nobody chose: say seconds, ops/s, EUR/MWh... or "none".
        assert defaults.get("unit") not in (None, "", "short"), f"{panel['title']}: no unit"
        steps = defaults["thresholds"]["steps"]
        assert steps[0]["value"] is None, f"{panel['title']}: thresholds need a base step"
        values = [s["value"] for s in steps[1:]]
        assert values == sorted(values), f"{panel['title']}: thresholds out of order"
        if "EUR/MWh" in panel["title"]:
            assert defaults["unit"] == "suffix: EUR/MWh", panel["title"]


@pytest.mark.parametrize("path", DASHBOARDS, ids=lambda p: p.name)
def test_panel_queries_use_grafana_s_rate_interval(path: Path) -> None:
    """A fixed [5m] is too short for a long range and too long for a short scrape interval."""
    for title, expr in prometheus_exprs(load(path)):
        for window in RANGE.findall(expr):
            assert window in ("$__rate_interval", "$__range"), f"{title}: [{window}] in {expr}"


@pytest.mark.parametrize("path", DASHBOARDS, ids=lambda p: p.name)
def test_queries_filter_by_the_variables_of_their_labels(path: Path) -> None:
    board = load(path)
    variables = {v["name"]: v for v in board["templating"]["list"]}
    assert "namespace" in variables, "every dashboard filters by namespace"
    exported = exported_labels()
    checked = 0
    for title, expr in prometheus_exprs(board):
        for found in SELECTOR.finditer(expr):
            selector = found.group("labels") or ""
            for label in set(FILTERS) & labels_of(found.group("name"), exported):
                checked += 1
                assert label in variables, f"{title}: {found.group('name')} has {label}, no ${label} variable"
                assert f'{label}=~"${label}"' in selector, (
                    f'{title}: {found.group(0)} lacks {label}=~"${label}"'
                )
    for panel in panels_of(board):
        for target in panel["targets"]:
            sql = target.get("rawSql", "")
            for table, needed in SQL_FILTERS.items():
                if re.search(rf"\bFROM\s+{table}\b", sql):
                    for variable in needed:
                        checked += 1
                        assert f"IN ({variable})" in sql, (
                            f"{panel['title']}: {table} not filtered by {variable}"
                        )
    assert checked, "no query checked"
    # Every variable but namespace lists only values of the selected namespaces (or of the time range).
    for name, variable in variables.items():
        if variable["type"] == "query" and name != "namespace":
            text = json.dumps(variable["query"])
            assert "$namespace" in text or "$__timeFilter" in text, name
