"""The calculator's pure hot path: CPU time per price in ``CalculatorState.on_price`` (valuing every
pair of the proof of concept's rule that contains the price's zone, with capture labels), for
quarter-hourly prices of five zones and for hourly CH against quarter-hourly DE-LU (mixed
resolutions). CPU time, best of seven runs, so a busy machine inflates it less than wall time.

    .venv/bin/python bench/bench_calculator_state.py
"""

from __future__ import annotations

import time
from collections.abc import Callable
from datetime import UTC, datetime, timedelta

from _common import machine, stamp

from inthegrid.calculator.state import CalculatorState
from inthegrid.domain.prices import Price, make_price
from inthegrid.domain.rules import CompiledRule, compile_rule, parse_rule_spec, proof_of_concept_rule

T0 = datetime(2026, 1, 15, tzinfo=UTC)


def _quarter_hours(zones: list[str], periods: int) -> list[Price]:
    return [
        make_price(z, T0 + timedelta(minutes=15 * i), 40.0 + (i * 7 + k * 13) % 60, resolution="PT15M",
                   source="bench", published_at=T0)
        for i in range(periods)
        for k, z in enumerate(zones)
    ]  # fmt: skip


def _mixed(hours: int) -> list[Price]:
    out = []
    for h in range(hours):
        start = T0 + timedelta(hours=h)
        out.append(make_price("CH", start, 60.0 + h % 30, source="bench", published_at=T0))
        for q in range(4):
            out.append(
                make_price("DE-LU", start + timedelta(minutes=15 * q), 40.0 + (h + q) % 50,
                           resolution="PT15M", source="bench", published_at=T0)
            )  # fmt: skip
    return out


def _cpu_us_per_price(
    rule_factory: Callable[[], CompiledRule], prices: list[Price], repeat: int = 7
) -> float:
    best = float("inf")
    for _ in range(repeat):
        state = CalculatorState(rule_factory(), horizon=timedelta(days=400))
        began = time.process_time()
        for price in prices:
            state.on_price(price, T0)
        best = min(best, (time.process_time() - began) / len(prices) * 1e6)
    return best


def main() -> None:
    print(f"{machine()}; {stamp()}")
    same = _cpu_us_per_price(proof_of_concept_rule, _quarter_hours(["DE", "FR", "NL", "BE", "AT"], 2000))
    print(f"proof-of-concept rule, 5 zones at PT15M: {same:.1f} us CPU per price")
    spec = parse_rule_spec({"pairs": [["DE-LU", "CH"]], "costModel": {"type": "border"}})
    mixed = _cpu_us_per_price(lambda: compile_rule("mixed", spec), _mixed(2000))
    print(f"DE-LU (PT15M) / CH (PT60M), border model: {mixed:.1f} us CPU per price")


if __name__ == "__main__":
    main()
