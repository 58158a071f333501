"""The calculator pairs an hourly price with each quarter-hour of its hour exactly as the backtest's
table does: the real DE-LU PT15M and CH PT60M documents (CH moved onto DE-LU's dates)."""

import re
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from inthegrid.backtest.engine import opportunities_frame, run_backtest
from inthegrid.calculator.state import CalculatorState
from inthegrid.domain.opportunities import EventKind
from inthegrid.domain.rules import compile_rule, parse_rule_spec
from inthegrid.sources.entsoe.parse import parse_prices
from inthegrid.sources.table import prices_to_table

ENTSOE = Path(__file__).parents[1] / "fixtures" / "entsoe"
DE = (ENTSOE / "openhab_DE-LU_A44_day_ahead_2025-10-31_PT15M_two_sequences.xml").read_text()
CH = (ENTSOE / "openhab_CH_A44_day_ahead_2025-11-26_27.xml").read_text()
STAMP = re.compile(r"\d{4}-\d\d-\d\dT\d\d:\d\dZ")


def _moved(document: str, by: timedelta) -> str:
    def move(match: re.Match[str]) -> str:
        when = datetime.strptime(match.group(0), "%Y-%m-%dT%H:%MZ").replace(tzinfo=UTC) + by
        return when.strftime("%Y-%m-%dT%H:%MZ")

    return STAMP.sub(move, document)


@pytest.mark.parametrize("cost_model", [{"type": "flat"}, {"type": "border"}])
def test_live_and_backtest_value_the_same_quarter_hours(cost_model):
    prices = parse_prices(DE) + parse_prices(_moved(CH, timedelta(days=-26)))  # 11-25T23Z -> 10-30T23Z
    assert {p.resolution.iso for p in prices} == {"PT15M", "PT60M"}
    rule = compile_rule("mixed", parse_rule_spec({"pairs": [["DE-LU", "CH"]], "costModel": cost_model}))
    frame = opportunities_frame(run_backtest(prices_to_table(prices), rule), time_format="%Y-%m-%dT%H:%MZ")
    expected = {row.delivery_start: float(row.net_eur_mwh) for row in frame.itertuples()}

    state = CalculatorState(rule, horizon=timedelta(days=3))
    now = datetime(2025, 11, 1, tzinfo=UTC)
    final: dict[str, float | None] = {}
    for price in prices:  # zone by zone, as a feed publishes documents
        for event in state.on_price(price, now):
            start = event.delivery_start.strftime("%Y-%m-%dT%H:%MZ")
            assert event.resolution.iso == "PT15M"
            final[start] = None if event.kind is EventKind.CLOSED else event.value.net_eur_mwh
    live = {k: v for k, v in final.items() if v is not None}
    assert len(expected) > 100  # both days, quarter-hours valued against CH's hours
    assert live == pytest.approx(expected)
