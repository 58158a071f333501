"""``inthegrid forecast``: train, apply and evaluate day-ahead spread forecasts (P10/P50/P90)."""

from __future__ import annotations

import argparse
import json
from pathlib import Path
from typing import Any

EXAMPLE = """examples:
  inthegrid forecast train --prices data/prices/day_ahead_prices_hourly_2020_2024_utc.csv.gz \\
      --until 2023-12-31 --out models/spreads.pkl
  inthegrid forecast predict --model models/spreads.pkl \\
      --prices data/prices/day_ahead_prices_hourly_2020_2024_utc.csv.gz --day 2024-05-01 --border DE-LU/FR
  inthegrid forecast evaluate --model models/spreads.pkl \\
      --prices data/prices/day_ahead_prices_hourly_2020_2024_utc.csv.gz --from 2024-01-01

A forecast for delivery day D uses only prices of D-1 and earlier and the calendar: what is public
at the day-ahead gate closure (12:00 CET on D-1). Spreads are the second zone minus the first (zones
sorted by code: DE-LU/FR is FR - DE-LU). Needs the optional extra: pip install 'inthegrid[forecast]'."""


def register(sub: Any) -> None:
    p = sub.add_parser(
        "forecast",
        help="day-ahead spread forecasts per border and hour (train, predict, evaluate)",
        description="Quantile forecasts (P10/P50/P90) of each border's day-ahead spread, made only "
        "with what is known before gate closure.",
        epilog=EXAMPLE,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    verbs = p.add_subparsers(dest="verb", required=True, metavar="VERB")
    train = verbs.add_parser(
        "train",
        help="fit the models and write a model file",
        epilog=EXAMPLE,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    _table_args(train)
    train.add_argument("--until", help="last training day (YYYY-MM-DD, UTC, inclusive); default: all")
    train.add_argument("--out", required=True, help="model file to write")
    train.set_defaults(handler=_train)
    predict = verbs.add_parser("predict", help="forecast one delivery day from the prices before it")
    _table_args(predict)
    predict.add_argument("--model", required=True, help="model file from 'forecast train'")
    predict.add_argument("--day", required=True, help="delivery day (YYYY-MM-DD, market time)")
    predict.add_argument("--out", help="CSV to write (default: print)")
    predict.set_defaults(handler=_predict)
    evaluate = verbs.add_parser("evaluate", help="MAE and pinball loss vs naive forecasts on held-out days")
    _table_args(evaluate)
    evaluate.add_argument("--model", required=True, help="model file from 'forecast train'")
    evaluate.add_argument("--from", dest="first", required=True, help="first test day (YYYY-MM-DD)")
    evaluate.add_argument("--to", dest="last", help="first day after the test (YYYY-MM-DD)")
    evaluate.add_argument("--out", help="JSON file to write (default: print a table)")
    evaluate.set_defaults(handler=_evaluate)


def _table_args(p: argparse.ArgumentParser) -> None:
    p.add_argument("--prices", required=True, help="price table: CSV, CSV.gz or Parquet")
    p.add_argument(
        "--border",
        action="append",
        default=[],
        metavar="A/B",
        help="border, e.g. DE-LU/FR (repeatable; default: every real border in the table/model)",
    )


def _borders(args: argparse.Namespace, frame: Any, model: Any = None) -> list[tuple[str, str]]:
    from inthegrid.analytics.frames import borders_in, parse_pairs, require_zones

    if args.border:
        chosen = parse_pairs(args.border)
        for pair in chosen:
            require_zones(frame, pair)
        return chosen
    return model.borders if model is not None else [b.key for b in borders_in(frame.columns)]


def _train(args: argparse.Namespace) -> int:
    from inthegrid.errors import ValidationError
    from inthegrid.forecast.model import SpreadForecaster, save_forecaster
    from inthegrid.sources.table import read_table

    table = read_table(args.prices).between(None, args.until)
    if table.frame.empty:
        raise ValidationError("no prices up to --until")
    forecaster = SpreadForecaster().fit(table.frame, _borders(args, table.frame))
    if not forecaster.models:
        raise ValidationError("no border has enough hours with both prices to train on (90 days)")
    save_forecaster(forecaster, args.out)
    print(f"trained {len(forecaster.models)} borders up to {forecaster.trained_until}; wrote {args.out}")
    for (a, b), rows in sorted(forecaster.training_rows.items()):
        print(f"  {a}/{b}: {rows} training hours")
    return 0


def _predict(args: argparse.Namespace) -> int:
    from datetime import date

    import pandas as pd

    from inthegrid.errors import ValidationError
    from inthegrid.forecast.model import load_forecaster
    from inthegrid.sources.table import read_table

    try:
        day = date.fromisoformat(args.day)
    except ValueError:
        raise ValidationError(f"--day {args.day!r} is not YYYY-MM-DD") from None
    model = load_forecaster(args.model)
    frame = read_table(args.prices).frame
    parts = []
    for a, b in _borders(args, frame, model):
        quantiles = model.predict_day(frame, (a, b), day).round(2)
        parts.append(
            quantiles.reset_index().assign(day=day.isoformat(), border=f"{a}/{b}", spread=f"{b} - {a}")
        )
    out = pd.concat(parts)[["day", "border", "spread", "hour", "p10", "p50", "p90"]]
    if args.out:
        out.to_csv(args.out, index=False, lineterminator="\n")
        print(f"wrote {len(out)} rows to {args.out}")
    else:
        print(out.to_string(index=False))
    return 0


def _evaluate(args: argparse.Namespace) -> int:
    from inthegrid.forecast.evaluate import evaluate_border
    from inthegrid.forecast.model import load_forecaster
    from inthegrid.sources.table import read_table

    model = load_forecaster(args.model)
    frame = read_table(args.prices).frame
    results = [
        evaluate_border(model, frame, border, args.first, args.last)
        for border in _borders(args, frame, model)
    ]
    if args.out:
        Path(args.out).write_text(json.dumps(results, indent=1) + "\n", encoding="utf-8")
        print(f"wrote {args.out}")
    else:
        print(render_scores(results))
    return 0


def render_scores(results: list[dict[str, Any]]) -> str:
    """A Markdown table: MAE of P50 and mean pinball loss of the model and each naive forecast."""
    lines = [
        "| border | test hours | mean abs spread | MAE model P50 | MAE naive day | MAE naive week | "
        "pinball model | pinball naive day | pinball naive week | pinball naive day + error quantiles | "
        "P10-P90 coverage | beats naive (MAE / pinball) |",
        "|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---|",
    ]
    for r in results:
        if not r["test_hours"]:
            lines.append(f"| {r['border']} | 0 | - | - | - | - | - | - | - | - | - | no test data |")
            continue
        s = r["scores"]
        verdict = f"{'yes' if r['beats_naive_mae'] else 'NO'} / {'yes' if r['beats_naive_pinball'] else 'NO'}"
        cells = [
            r["border"],
            str(r["test_hours"]),
            f"{r['mean_abs_spread']:.2f}",
            *(f"{s[name]['mae_p50']:.2f}" for name in ("model", "naive_day", "naive_week")),
            *(
                f"{s[name]['pinball']:.2f}"
                for name in ("model", "naive_day", "naive_week", "naive_day_quantiles")
            ),
            f"{100 * s['model']['coverage_p10_p90']:.0f} %",
            verdict,
        ]
        lines.append("| " + " | ".join(cells) + " |")
    return "\n".join(lines)
