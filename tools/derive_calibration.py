"""Derive the simulator's calibration summary from the real 2020-2024 day-ahead price table.

Maintainer tool, not run at test time: it reads ../shared (the real table) and writes the small
summary services/inthegrid/sources/calibration.json that the simulator and its tests ship with.

    .venv/bin/python tools/derive_calibration.py [--table PATH] [--out PATH] [--no-tune]

Two parts:
1. Real statistics (pandas): per zone levels, spread of levels, quantiles, negative-price shares,
   lag-1 autocorrelation, hour-of-day profile (CET/CEST local hour) and weekday profile; per real
   border between the table's zones: share of hours with equal prices and spread quantiles. "recent"
   is 2023-2024 (the regime the simulator imitates); "by_year" keeps 2020-2024 for test bounds.
2. Model tuning: the few model parameters that have no closed form (how readily each border
   congests, how deep the solar dip goes) are adjusted by simulating a year with the model itself
   until the simulated equal-price and negative-price shares meet the real recent ones.
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

import numpy as np
import pandas as pd

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "services"))

from inthegrid.domain.grid import DEFAULT_GRID, Allocation  # noqa: E402
from inthegrid.domain.zones import zone_code  # noqa: E402

DEFAULT_TABLE = ROOT.parent / "shared" / "data" / "prices" / "day_ahead_prices_hourly_2020_2024_utc.csv"
DEFAULT_OUT = ROOT / "services" / "inthegrid" / "sources" / "calibration.json"
RECENT_YEARS = (2023, 2024)
# A year counts for a per-year figure only with this many hours: DK1/DK2 start on 2020-12-31T23:00Z
# (one hour of "2020") and stop in 2024-03, and IT_NORD covers 2022 only.
MIN_HOURS_PER_YEAR = 2000
# A zone's recent level is taken directly only with this many recent hours; otherwise it is derived
# from its neighbours (see _derived_level).
MIN_RECENT_HOURS = 2000
EQUAL_EPS = 0.005  # prices are published with 2 decimals: |diff| < 0.005 means the same price
SPREAD_QUANTILES = (5, 25, 50, 75, 95)
LEVEL_QUANTILES = (1, 5, 25, 50, 75, 95, 99)
LOCAL_TZ = "Europe/Brussels"  # CET/CEST, the clock of the SDAC delivery day
TUNING_SEEDS = (7, 8, 9, 10)

SOURCE_NOTE = {
    "file": "day_ahead_prices_hourly_2020_2024_utc.csv (hourly UTC, 2019-12-31T23:00Z to 2024-12-31T22:00Z)",
    "provenance": (
        "ENTSO-E Transparency Platform day-ahead (SDAC) prices as republished by RTE eco2mix, copied from "
        "HewlettPackard/green-dcc (AT BE CH DE_LU ES FR NL PT, MIT); DK1/DK2 from Energinet Energi Data "
        "Service Elspotprices via Mohammed-Ibadullah/MBML (MIT); IT_NORD from a GME MGP 2022 extract via "
        "asadiceccarelli/italian-wholesale (MIT). Details: /work/shared/data/SOURCES.md."
    ),
    "attribution": "Contains ENTSO-E Transparency Platform data; Energi Data Service (Energinet) and GME "
    "open data. Attribution required.",
    "derived_by": "tools/derive_calibration.py",
}


def _r(x: float, nd: int = 4) -> float | None:
    return None if x is None or not np.isfinite(x) else round(float(x), nd)


def load_table(path: Path) -> pd.DataFrame:
    table = pd.read_csv(path, index_col="timestamp_utc")
    table.index = pd.to_datetime(table.index, utc=True)
    table.columns = [zone_code(c) for c in table.columns]
    return table


def zone_stats(series: pd.Series, local: pd.DatetimeIndex) -> dict:
    years = series.index.year
    by_year = {}
    for year in sorted(set(years)):
        s = series[years == year].dropna()
        if len(s) >= MIN_HOURS_PER_YEAR:
            by_year[str(year)] = {
                "hours": len(s),
                "mean": _r(s.mean(), 2),
                "std": _r(s.std(), 2),
                "negative_share": _r((s < 0).mean()),
            }
    recent_mask = np.isin(years, RECENT_YEARS)
    s = series[recent_mask]
    out: dict = {"hours": int(series.notna().sum()), "by_year": by_year}
    if s.notna().sum() >= MIN_RECENT_HOURS:
        mean = s.mean()
        hours = pd.Series(local[recent_mask].hour, index=s.index)
        weekdays = pd.Series(local[recent_mask].day_of_week, index=s.index)
        out["recent"] = {
            "hours": int(s.notna().sum()),
            "mean": _r(mean, 2),
            "std": _r(s.std(), 2),
            "quantiles": {str(q): _r(s.quantile(q / 100), 2) for q in LEVEL_QUANTILES},
            "negative_share": _r((s.dropna() < 0).mean()),
            "lag1_autocorr": _r(s.autocorr(1)),
            "lag24_autocorr": _r(s.autocorr(24)),
            "daily_mean_std": _r(s.resample("1D").mean().std(), 2),
            # Mean price by local hour and weekday divided by the overall mean: the model multiplies
            # its level by these, so they carry the typical morning/evening peaks and midday dip.
            "hour_profile": [_r(v) for v in (s.groupby(hours).mean() / mean).reindex(range(24))],
            "weekday_profile": [_r(v) for v in (s.groupby(weekdays).mean() / mean).reindex(range(7))],
        }
    return out


def border_stats(a: pd.Series, b: pd.Series) -> dict | None:
    both = pd.concat([a, b], axis=1).dropna()
    if len(both) < MIN_HOURS_PER_YEAR:
        return None
    diff = both.iloc[:, 0] - both.iloc[:, 1]
    years = diff.index.year
    by_year = {}
    for year in sorted(set(years)):
        d = diff[years == year]
        if len(d) >= MIN_HOURS_PER_YEAR:
            by_year[str(year)] = {
                "hours": len(d),
                "equal_share": _r((d.abs() < EQUAL_EPS).mean()),
                "spread_quantiles": {str(q): _r(d.quantile(q / 100), 2) for q in SPREAD_QUANTILES},
            }
    out: dict = {"hours": len(diff), "by_year": by_year}
    recent = diff[np.isin(years, RECENT_YEARS)]
    if len(recent) >= MIN_RECENT_HOURS:
        out["recent"] = {
            "hours": len(recent),
            "equal_share": _r((recent.abs() < EQUAL_EPS).mean()),
            "spread_quantiles": {str(q): _r(recent.quantile(q / 100), 2) for q in SPREAD_QUANTILES},
            "abs_spread_mean": _r(recent.abs().mean(), 2),
        }
    return out


def _derived_level(zone: str, table: pd.DataFrame, direct: dict[str, float]) -> dict | None:
    """Recent level of a zone with too few recent hours (IT-NORD: 2022 only): its neighbours' recent
    level times the ratio of its own mean to theirs over the hours where both exist."""
    neighbours = [n for n in DEFAULT_GRID.neighbours(zone) if n in direct and n in table.columns]
    if not neighbours or table[zone].notna().sum() < MIN_HOURS_PER_YEAR:
        return None
    both = table[[zone, *neighbours]].dropna()
    ratio = both[zone].mean() / both[neighbours].mean(axis=1).mean()
    level = ratio * float(np.mean([direct[n] for n in neighbours]))
    return {
        "mean": _r(level, 2),
        "ratio_to_neighbours": _r(ratio),
        "neighbours": neighbours,
        "overlap_hours": len(both),
    }


def real_statistics(table: pd.DataFrame) -> dict:
    local = table.index.tz_convert(LOCAL_TZ)
    zones = {z: zone_stats(table[z], local) for z in table.columns}
    direct = {z: s["recent"]["mean"] for z, s in zones.items() if "recent" in s}
    for z, s in zones.items():
        if "recent" not in s:
            derived = _derived_level(z, table, direct)
            if derived:
                s["derived_level"] = derived
    borders = {}
    for border in DEFAULT_GRID.borders:
        a, b = border.key
        if a in table.columns and b in table.columns:
            stats = border_stats(table[a], table[b])
            if stats is not None:
                stats["allocation"] = border.allocation.value
                borders[f"{a}/{b}"] = stats
    return {
        "source": SOURCE_NOTE,
        "recent_years": list(RECENT_YEARS),
        "local_timezone": LOCAL_TZ,
        "equal_epsilon_eur_mwh": EQUAL_EPS,
        "zones": zones,
        "borders": borders,
    }


def tune_model(calibration: dict, rounds: int = 12, days: int = 364) -> dict:
    """Adjust congestion scales, solar depths and levels until a simulated year meets the real
    recent equal-price shares, negative-price shares and means."""
    from inthegrid.sources import simulator_model as sm

    zones = [z for z, s in calibration["zones"].items() if "recent" in s or "derived_level" in s]
    implicit = {
        k: v
        for k, v in calibration["borders"].items()
        if v["allocation"] == Allocation.IMPLICIT.value and "recent" in v
    }
    model = calibration.setdefault("model", {})
    scales = model.setdefault("congestion_scale_eur_mwh", {k: sm.DEFAULT_CONGESTION_SCALE for k in implicit})
    depths = model.setdefault(
        "solar_depth_eur_mwh",
        {z: sm.DEFAULT_SOLAR_DEPTH for z in zones if "recent" in calibration["zones"][z]},
    )
    levels = model.setdefault("level_eur_mwh", {})
    for _ in range(rounds):
        # Several seeds: the slow regime factor makes one simulated year's mean noisy (about 5 %).
        prices = np.concatenate(
            [
                sm.simulate_prices(zones, sm.TUNING_START, days * 24, 60, seed=seed, calibration=calibration)
                for seed in TUNING_SEEDS
            ]
        )
        col = {z: i for i, z in enumerate(zones)}
        for key, real in implicit.items():
            a, b = key.split("/")
            sim_eq = float(np.mean(np.abs(prices[:, col[a]] - prices[:, col[b]]) < EQUAL_EPS))
            target = real["recent"]["equal_share"]
            # More equal prices than real -> congest more readily (smaller scale), and vice versa.
            factor = np.clip(((1 - sim_eq) + 0.02) / ((1 - target) + 0.02), 0.5, 2.0) ** 1.5
            scales[key] = round(float(np.clip(scales[key] * factor, 0.05, 5000.0)), 4)
        for z in zones:
            # Coupling averages neighbours' prices: adjust each zone's own level so that its simulated
            # mean meets the real recent mean (or the neighbour-derived one).
            stats = calibration["zones"][z]
            target_mean = stats["recent"]["mean"] if "recent" in stats else stats["derived_level"]["mean"]
            current = levels.get(z, target_mean)
            levels[z] = round(float(current + 0.8 * (target_mean - prices[:, col[z]].mean())), 2)
        for z in depths:
            sim_neg = float(np.mean(prices[:, col[z]] < 0))
            target = calibration["zones"][z]["recent"]["negative_share"]
            factor = np.clip((target + 0.003) / (sim_neg + 0.003), 0.7, 1.4) ** 0.5
            depths[z] = round(float(np.clip(depths[z] * factor, 0.0, 600.0)), 3)
    model["tuned_with"] = {"zones": zones, "days": days, "seeds": list(TUNING_SEEDS), "rounds": rounds}
    return calibration


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--table", type=Path, default=DEFAULT_TABLE)
    parser.add_argument("--out", type=Path, default=DEFAULT_OUT)
    parser.add_argument("--no-tune", action="store_true", help="write the real statistics only")
    args = parser.parse_args()
    calibration = real_statistics(load_table(args.table))
    if args.out.exists():
        # Start tuning from the last tuned parameters: the loop then needs few rounds to settle.
        previous = json.loads(args.out.read_text()).get("model")
        if previous:
            calibration["model"] = previous
    if not args.no_tune:
        calibration = tune_model(calibration)
    text = json.dumps(calibration, indent=1, sort_keys=False)
    args.out.write_text(text + "\n")
    print(f"wrote {args.out} ({len(text)} bytes)")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
