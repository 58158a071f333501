"""The divergence and forecast tabs' pure parts: dates in market time, what the text says, and
empty answers drawn as a message instead of an empty plot."""

from __future__ import annotations

import pytest

from inthegrid.dashboard.divergence import (
    day_bounds,
    render_heatmap,
    render_summary,
    render_years,
)
from inthegrid.dashboard.forecast import render_forecast, render_forecast_note, render_forecast_table


def test_days_are_market_time_days():
    # Brussels is UTC+1 in January and UTC+2 in July.
    assert day_bounds("2023-01-01", "2023-12-31") == ("2022-12-31T23:00:00Z", "2023-12-31T23:00:00Z")
    assert day_bounds(" 2023-07-01", "2023-07-01") == ("2023-06-30T22:00:00Z", "2023-07-01T22:00:00Z")
    with pytest.raises(ValueError, match="YYYY-MM-DD"):
        day_bounds("yesterday", "2023-01-01")
    with pytest.raises(ValueError, match="before the first"):
        day_bounds("2023-02-01", "2023-01-01")


def test_summary_weights_years_by_hours_and_says_congestion_income():
    years = {
        "pair": ["DE-LU", "FR"],
        "rows": [
            {"periods": 100, "converged_share": 0.5, "a_dearer_share": 0.2},
            {"periods": 300, "converged_share": 0.1, "a_dearer_share": 0.6},
        ],
    }
    negative = {
        "rows": [{"zone": "DE-LU", "year": 2023, "hours": 301.0}, {"zone": "FR", "year": 2023, "hours": 0}]
    }
    text = render_summary(years, negative)
    assert "same price in 20.0 % of 400 hours" in text  # (50 + 30) / 400
    assert "DE-LU was dearer in 50.0 %, FR in 30.0 %" in text
    assert "congestion income" in text and "not a trader's profit" in text
    assert "DE-LU 2023: 301 h" in text and "FR 2023" not in text
    assert "No hours" in render_summary({"pair": ["DE-LU", "FR"], "rows": []}, {"rows": []})


def test_years_table_labels_directions_by_zone():
    rows = [
        {
            "year": 2023,
            "periods": 10,
            "converged_share": 0.25,
            "a_dearer_share": 0.5,
            "b_dearer_share": 0.25,
            "mean_abs_spread_diverged_eur_mwh": 3.14159,
        }
    ]
    table = render_years({"pair": ["DE-LU", "FR"], "rows": rows})
    assert list(table.columns)[3:5] == ["DE-LU dearer", "FR dearer"]
    assert table.iloc[0]["Equal prices"] == "25.0 %"


def test_empty_answers_become_messages():
    empty = render_heatmap(
        {
            "pair": ["DE-LU", "FR"],
            "value": "converged_share",
            "z": [[None] * 24] * 12,
            "hours": list(range(24)),
        }
    )
    assert "No hours" in empty.layout.annotations[0].text
    assert render_forecast_table({}).empty
    assert "No forecast" in render_forecast({}).layout.annotations[0].text


def test_heatmap_shows_percent_and_forecast_note_names_the_largest_gap():
    grid = [[0.5] * 24 for _ in range(12)]
    figure = render_heatmap(
        {"pair": ["DE-LU", "FR"], "value": "converged_share", "z": grid, "hours": list(range(24))}
    )
    assert figure.data[0].z[0][0] == 50.0
    answer = {
        "border": ["DE-LU", "FR"],
        "day": "2024-05-01",
        "trained_until": "2023-12-31T22:00:00+00:00",
        "rows": [
            {"hour": 7, "delivery_start": "x", "p10": -1, "p50": 2.0, "p90": 3},
            {"hour": 20, "delivery_start": "y", "p10": -30, "p50": -17.78, "p90": 0},
        ],
    }
    note = render_forecast_note(answer)
    assert "17.78 €/MWh (DE-LU dearer) at 20:00" in note and "2023-12-31" in note
    assert len(render_forecast(answer).data) == 3


def test_forecast_client_keeps_the_key_with_a_longer_timeout():
    from inthegrid.dashboard.client import GatewayClient

    patient = GatewayClient("http://gw:8000/", api_key="k", timeout=5).with_timeout(60)
    assert (patient.base_url, patient._headers["X-API-Key"], patient._timeout) == ("http://gw:8000", "k", 60)
