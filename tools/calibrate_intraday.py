"""Write services/inthegrid/sources/intraday_calibration.json from the only real intraday prices in
the repository: the ES day-ahead and intraday-auction documents of 2025-09-29..10-02 (tests/fixtures).

.venv/bin/python tools/calibrate_intraday.py

Per auction: mean, standard deviation and lag-1 autocorrelation of (auction price - day-ahead price)
over the quarter-hours both documents cover (an hourly day-ahead price holds for its quarter-hours).
"""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np

from inthegrid.domain.prices import Market
from inthegrid.sources.entsoe.parse import parse_prices

ROOT = Path(__file__).resolve().parents[1]
FIXTURES = ROOT / "tests" / "fixtures" / "entsoe"
OUT = ROOT / "services" / "inthegrid" / "sources" / "intraday_calibration.json"


def main() -> None:
    day_ahead: dict[object, float] = {}
    for p in parse_prices((FIXTURES / "emaps_ES_day_ahead_price.xml").read_bytes()):
        for k in range(p.resolution.value // 15):
            day_ahead.setdefault(
                p.delivery_start + k * p.resolution.delta / (p.resolution.value // 15), p.eur_mwh
            )
    auctions = parse_prices((FIXTURES / "emaps_ES_intraday_price.xml").read_bytes())
    out: dict[str, object] = {
        "basis": "ES only, 2025-09-28T22:00Z..2025-10-02T22:00Z: emaps_ES_intraday_price.xml against "
        "emaps_ES_day_ahead_price.xml (tests/fixtures/entsoe); four days of one zone, so a rough guide",
    }
    for market in (Market.IDA1, Market.IDA2, Market.IDA3):
        pairs = sorted(
            (p.delivery_start, p.eur_mwh - day_ahead[p.delivery_start])
            for p in auctions
            if p.market is market and p.delivery_start in day_ahead
        )
        d = np.array([v for _, v in pairs])
        out[market.value] = {
            "periods": len(d),
            "mean_eur_mwh": round(float(d.mean()), 2),
            "std_eur_mwh": round(float(d.std()), 2),
            "lag1_autocorrelation": round(float(np.corrcoef(d[:-1], d[1:])[0, 1]), 3),
        }
    OUT.write_text(json.dumps(out, indent=2) + "\n", encoding="utf-8")
    print(json.dumps(out, indent=2))


if __name__ == "__main__":
    main()
