"""What laying each answer item out by its response model costs (gateway/rest/shaping.py).

Builds the items of a 10,000-row price history and of a 10,000-row opportunity history (the largest
pages the endpoints serve) from stored-row mappings, as storage/history.py does, and one live price
and one live opportunity item; then the same work with pydantic validation of every item instead
(what "use the model" would cost if each answer were validated), and without shaping (the builders'
dicts as they are: the cost before). Database and HTTP excluded.

    .venv/bin/python bench/bench_response_shapes.py [--rows 10000] [--repeat 7]
"""

from __future__ import annotations

import argparse
import statistics
import time
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from typing import Any

from inthegrid.domain.economics import value_pair
from inthegrid.domain.opportunities import EventKind, OpportunityEvent
from inthegrid.domain.prices import Market, Resolution, make_price
from inthegrid.domain.rules import proof_of_concept_rule
from inthegrid.gateway.rest import views
from inthegrid.gateway.rest.schemas import OpportunityPublic, PricePublic
from inthegrid.gateway.rest.views import opportunity_item, price_item
from inthegrid.gateway.storage import history
from inthegrid.gateway.storage.history import opportunity_row_item, price_row_item

T0 = datetime(2026, 1, 15, tzinfo=UTC)


def price_rows(n: int) -> list[dict[str, Any]]:
    return [
        {
            "zone": "DE-LU",
            "market": "day_ahead",
            "resolution_minutes": 15,
            "delivery_start": T0 - timedelta(minutes=15 * i),
            "price_eur_mwh": Decimal("75.5") + i % 7,
            "source": "entsoe",
            "published_at": T0 - timedelta(days=1),
            "received_at": T0 - timedelta(days=1),
        }
        for i in range(n)
    ]


def opportunity_rows(n: int) -> list[dict[str, Any]]:
    value = value_pair(proof_of_concept_rule().pairs[("DE-LU", "FR")], 60.0, 80.0, 0.25)
    assert value is not None
    row = {
        "rule": "proof-of-concept",
        "pair_a": "DE-LU",
        "pair_b": "FR",
        "market": "day_ahead",
        "status": "open",
        "revision": 1,
        "buy_zone": value.buy_zone,
        "sell_zone": value.sell_zone,
        "buy_price": Decimal("60"),
        "sell_price": Decimal("80"),
        "spread": Decimal("20"),
        "net_eur_mwh": Decimal("17.5"),
        "cost_eur_mwh": Decimal("2.5"),
        "loss_factor": Decimal("0"),
        "path": list(value.path),
        "capacity_mw": Decimal("1"),
        "profit_eur": None,
        "period_hours": Decimal("0.25"),
        "coupled": value.coupled,
        "resolution_minutes": 15,
        "first_detected_at": T0,
        "detected_at": T0,
        "strategy": value.strategy,
    }
    return [{**row, "delivery_start": T0 - timedelta(minutes=15 * i)} for i in range(n)]


def best_ms(work: Callable[[], object], repeat: int) -> tuple[float, float]:
    times = []
    for _ in range(repeat):
        start = time.perf_counter()
        work()
        times.append((time.perf_counter() - start) * 1000)
    return min(times), statistics.median(times)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rows", type=int, default=10_000)
    parser.add_argument("--repeat", type=int, default=7)
    args = parser.parse_args()
    prices, opportunities = price_rows(args.rows), opportunity_rows(args.rows)
    price = make_price("DE-LU", T0, 75.5, resolution="PT15M", source="bench", published_at=T0)
    event = OpportunityEvent(
        EventKind.OPENED,
        "proof-of-concept",
        Market.DAY_AHEAD,
        ("DE-LU", "FR"),
        T0,
        Resolution.PT15M,
        1,
        value_pair(proof_of_concept_rule().pairs[("DE-LU", "FR")], 60.0, 80.0, 0.25),
        T0,
    )

    def price_page() -> object:
        return [price_row_item(r) for r in prices]

    def opportunity_page() -> object:
        return [opportunity_row_item(r) for r in opportunities]

    def live_prices() -> object:
        return [price_item(price) for _ in range(10_000)]

    def live_opportunities() -> object:
        return [opportunity_item(event, 1) for _ in range(10_000)]

    def validated(model: Any, build: Callable[[], object]) -> Callable[[], object]:
        return lambda: [model.model_validate(item) for item in build()]  # type: ignore[attr-defined]

    cases: list[tuple[str, Callable[[], object], int]] = [
        ("price history page", price_page, args.rows),
        ("price history page + pydantic validation", validated(PricePublic, price_page), args.rows),
        ("opportunity history page", opportunity_page, args.rows),
        (
            "opportunity history page + pydantic validation",
            validated(OpportunityPublic, opportunity_page),
            args.rows,
        ),
        ("live price item x 10,000", live_prices, 10_000),
        ("live opportunity item x 10,000", live_opportunities, 10_000),
    ]
    print(f"{'case':52} {'shaping':>8} {'best ms':>9} {'median ms':>10} {'us/item':>8}")
    for name, work, n in cases:
        for label, shape in (("on", history.shaped), ("off", _unshaped)):
            history.shaped = views.shaped = shape  # type: ignore[assignment]
            best, median = best_ms(work, args.repeat)
            print(f"{name:52} {label:>8} {best:9.1f} {median:10.1f} {best * 1000 / n:8.2f}")
        history.shaped = views.shaped = _SHAPED


_SHAPED = history.shaped


def _unshaped(model: object, values: dict[str, Any]) -> dict[str, Any]:
    return values


if __name__ == "__main__":
    main()
