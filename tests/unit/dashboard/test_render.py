"""The dashboard's pure views: API JSON in, figures and tables out, and honest empty states."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest

from inthegrid.dashboard.history import to_iso_utc
from inthegrid.dashboard.map import ZONE_POSITIONS, border_spreads, render_border_map, zone_positions
from inthegrid.dashboard.render import (
    NO_DATA,
    OPPORTUNITY_COLUMNS,
    best_spread_per_pair,
    price_frame,
    render_latest_prices,
    render_opportunities_table,
    render_price_history,
    render_spread_matrix,
    render_status,
    zone_order,
)
from inthegrid.domain.grid import DEFAULT_GRID
from inthegrid.domain.zones import ZONE_CODES


def price(zone: str, value: float, start: str = "2026-01-01T10:00:00Z") -> dict:
    return {
        "zone": zone,
        "market": zone,
        "price": value,
        "timestamp": start,
        "delivery_start": start,
        "resolution": "PT15M",
        "market_type": "day_ahead",
    }


def spread(buy: str, sell: str, net: float | None, rule: str = "poc") -> dict:
    return {"rule": rule, "pair": sorted([buy, sell]), "buy_zone": buy, "sell_zone": sell, "net_eur_mwh": net}


def opportunity(low: str, high: str, net: float, profit: float) -> dict:
    return {
        "market_pair": f"{low}-{high}",
        "pair": sorted([low, high]),
        "low_market": low,
        "high_market": high,
        "net_opportunity": net,
        "profit_eur": profit,
        "path": [low, high],
        "rule": "poc",
        "strategy": f"Buy in {low} at €60.00, sell in {high} at €80.00",
        "revision": 1,
        "delivery_start": "2026-01-01T10:00:00Z",
    }


def annotations(fig) -> list[str]:
    return [a.text for a in fig.layout.annotations]


def test_empty_answers_say_no_data_yet() -> None:
    assert NO_DATA in annotations(render_latest_prices([]))
    assert NO_DATA in annotations(render_price_history({"FR": []}))
    assert any(NO_DATA in t for t in annotations(render_spread_matrix([], [])))
    table = render_opportunities_table([])
    assert list(table.columns) == OPPORTUNITY_COLUMNS and table.empty


def test_latest_prices_one_bar_per_zone_and_height_grows_with_zones() -> None:
    five = render_latest_prices([price(z, 50 + i) for i, z in enumerate(["DE-LU", "FR", "NL", "BE", "AT"])])
    assert sorted(five.data[0].y) == ["AT", "BE", "DE-LU", "FR", "NL"]
    many = render_latest_prices([price(f"Z{i:02d}", float(i)) for i in range(45)])
    assert len(many.data[0].y) == 45
    assert many.layout.height > five.layout.height >= 260


def test_opportunities_table_best_net_first_with_poc_strategy_text() -> None:
    table = render_opportunities_table(
        [opportunity("DE-LU", "FR", 5.0, 1.25), opportunity("NL", "BE", 17.5, 4.375)]
    )
    assert list(table["pair"]) == ["BE/NL", "DE-LU/FR"]
    first = table.iloc[0]
    assert first["direction"] == "NL → BE"
    assert first["path"] == "NL → BE"
    assert first["net €/MWh"] == 17.5 and first["profit € (capturable)"] == 4.38
    assert first["strategy"] == "Buy in NL at €60.00, sell in BE at €80.00"


def test_opportunities_table_says_a_coupled_value_is_congestion_not_profit() -> None:
    item = opportunity("DE-LU", "FR", 17.5, 0.0) | {
        "profit_eur": None,
        "congestion_value_eur": 5.0,
        "capture": "congestion_income",
        "weakest_hop": ["DE-LU", "FR"],
        "flow_based_approximation": True,
    }
    row = render_opportunities_table([item]).iloc[0]
    assert row["profit € (capturable)"] is None and row["congestion value € (not profit)"] == 5.0
    assert row["capture"] == "congestion_income (flow-based: pairwise approximation)"
    assert row["weakest hop"] == "DE-LU → FR"


def test_spread_matrix_places_net_at_buy_row_sell_column() -> None:
    fig = render_spread_matrix(
        [spread("DE-LU", "FR", 17.5), spread("NL", "BE", -3.0), spread("AT", "FR", None)],
        ["AT", "BE", "DE-LU", "FR", "NL"],
    )
    heat = fig.data[0]
    names = list(heat.x)
    assert names == ["AT", "BE", "DE-LU", "FR", "NL"]
    assert heat.z[names.index("DE-LU")][names.index("FR")] == 17.5
    assert heat.z[names.index("FR")][names.index("DE-LU")] is None
    assert heat.z[names.index("NL")][names.index("BE")] == -3.0
    assert heat.zmid == 0 and heat.zmax == 17.5


def test_best_spread_per_pair_picks_highest_net_or_the_chosen_rule() -> None:
    items = [spread("DE-LU", "FR", 5.0, "a"), spread("DE-LU", "FR", 9.0, "b")]
    assert best_spread_per_pair(items)[0]["rule"] == "b"
    assert best_spread_per_pair(items, rule="a")[0]["net_eur_mwh"] == 5.0


def test_price_frame_resamples_quarter_hours_to_hourly_means() -> None:
    quarter = [
        price("FR", v, f"2026-01-01T10:{m:02d}:00Z")
        for v, m in zip([10, 20, 30, 40], [0, 15, 30, 45], strict=True)
    ]
    native = price_frame({"FR": quarter})
    assert len(native) == 4
    hourly = price_frame({"FR": quarter}, resolution="hourly")
    assert len(hourly) == 1 and hourly["price"].iloc[0] == pytest.approx(25.0)


def test_border_map_colours_every_default_border_and_places_all_zones() -> None:
    borders = [
        {"zones": [b.a, b.b], "name": b.name, "capacity_mw": b.capacity_mw} for b in DEFAULT_GRID.borders
    ]
    prices = [price("DE-LU", 60.0), price("FR", 80.0)]
    rows = border_spreads(borders, prices, [spread("DE-LU", "FR", 17.5)])
    de_fr = next(r for r in rows if {r["a"], r["b"]} == {"DE-LU", "FR"})
    assert de_fr["spread"] == 20.0 and de_fr["net"] == 17.5
    assert all(r["spread"] is None for r in rows if "CH" in (r["a"], r["b"]))
    fig = render_border_map(borders, prices, [])
    assert len(fig.data) == len(borders) + 2  # one line per border, the zone markers, the colour bar
    assert set(ZONE_CODES) <= set(ZONE_POSITIONS)


def test_zones_without_positions_get_distinct_places() -> None:
    extra = [f"X{i}" for i in range(30)]
    placed = zone_positions(["FR", *extra])
    assert placed["FR"] == ZONE_POSITIONS["FR"]
    assert len({placed[z] for z in extra}) == 30


def test_status_line_states() -> None:
    now = datetime(2026, 1, 1, 12, 0, tzinfo=UTC)
    assert "Gateway unreachable at http://x" in render_status(
        "http://x", error="Gateway unreachable at http://x", now=now
    )
    assert "No data yet" in render_status("http://x", zones=0, now=now)
    live = render_status("http://x", zones=5, opportunities=1, now=now)
    assert "**5** zones" in live and "**1** open opportunity" in live and "12:00:00 UTC" in live


def test_zone_order_merges_prices_and_spread_pairs() -> None:
    assert zone_order([price("FR", 1.0)], [spread("NL", "BE", 1.0)]) == ["BE", "FR", "NL"]


@pytest.mark.parametrize(
    ("value", "expected"),
    [
        (None, None),
        ("", None),
        (1767225600.0, "2026-01-01T00:00:00Z"),
        ("2026-01-01 10:15:00", "2026-01-01T10:15:00Z"),
        ("2026-01-01T11:15:00+01:00", "2026-01-01T10:15:00Z"),
    ],
)
def test_to_iso_utc(value, expected) -> None:
    assert to_iso_utc(value) == expected


def test_border_map_shows_published_capacity_per_direction() -> None:
    from inthegrid.dashboard.map import available_capacity

    borders = [{"zones": ["ES", "FR"], "name": "", "capacity_mw": 2800.0}]
    published = [
        {"source": "FR", "target": "ES", "kind": "A61", "mw": 3006.0},
        {"source": "FR", "target": "ES", "kind": "A09", "mw": 1000.0},
        {"source": "ES", "target": "FR", "kind": "A11", "mw": 500.0},  # a flow is not a capacity
    ]
    assert available_capacity(published) == {
        ("FR", "ES"): "3006 MW (A61), 2006 MW left after the A09 schedule"
    }
    (row,) = border_spreads(borders, [], [], published)
    assert row["available"] == {
        "ES→FR": "2800 MW (static)",
        "FR→ES": "3006 MW (A61), 2006 MW left after the A09 schedule",
    }
    hover = (
        render_border_map(borders, [price("ES", 70.0), price("FR", 50.0)], [], published).data[0].hovertext[0]
    )
    assert "capacity FR→ES: 3006 MW (A61)" in hover
