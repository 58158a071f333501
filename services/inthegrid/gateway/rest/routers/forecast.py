"""Tomorrow's spread forecasts (P10/P50/P90 per border and hour) from the configured model and the
stored history before the delivery day (inthegrid.forecast; INTHEGRID_FORECAST_MODEL_PATH).

pandas (about 70 MB resident) is imported by the handlers, not when the gateway starts."""

from __future__ import annotations

import asyncio
import os
import threading
from datetime import UTC, date, datetime, timedelta
from typing import TYPE_CHECKING, Annotated, Any, Literal
from zoneinfo import ZoneInfo

from fastapi import APIRouter, Depends, HTTPException, Query
from fastapi.responses import PlainTextResponse, Response
from pydantic import BaseModel, ConfigDict

from inthegrid.analytics.terms import MARKET_TZ
from inthegrid.domain.prices import Resolution
from inthegrid.domain.zones import parse_pair
from inthegrid.errors import InTheGridError
from inthegrid.gateway.rest.deps import Services, json_response, unprocessable
from inthegrid.gateway.rest.schemas import CSV_CONTENT, ErrorPublic

if TYPE_CHECKING:
    import pandas as pd

router = APIRouter(prefix="/api/forecast", tags=["forecast"])

HISTORY_DAYS = 9  # the features reach back a week (D-7) plus a day-light saving margin
ERRORS: dict[int | str, dict[str, Any]] = {
    404: {"model": ErrorPublic, "description": "no model configured, or no stored prices for the day before"},
    422: {"model": ErrorPublic},
    503: {"model": ErrorPublic},
}


class ForecastPublic(BaseModel):
    model_config = ConfigDict(
        extra="allow",
        json_schema_extra={
            "examples": [
                {
                    "border": ["DE-LU", "FR"],
                    "spread": "FR - DE-LU",
                    "day": "2026-12-04",
                    "market_time_zone": MARKET_TZ,
                    "trained_until": "2023-12-31T22:00:00+00:00",
                    "count": 24,
                    "rows": [
                        {
                            "hour": 0,
                            "delivery_start": "2026-12-03T23:00:00Z",
                            "p10": -6.4,
                            "p50": 0.4,
                            "p90": 0.4,
                        }
                    ],
                }
            ]
        },
    )
    count: int
    rows: list[dict[str, Any]]


class ForecastBordersPublic(BaseModel):
    model_config = ConfigDict(
        json_schema_extra={
            "examples": [{"trained_until": "2023-12-31T22:00:00+00:00", "borders": ["DE-LU/FR"]}]
        }
    )
    trained_until: str
    borders: list[str]


class _ModelCache:
    """The model file, loaded once and again when it changes on disk (a retrained model)."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._key: tuple[str, float] | None = None
        self._model: Any = None

    def get(self, path: str) -> Any:
        from inthegrid.forecast.model import load_forecaster

        try:
            key = (path, os.stat(path).st_mtime)
        except OSError:
            key = (path, -1.0)
        with self._lock:
            if key != self._key:
                self._model = load_forecaster(path)
                self._key = key
            return self._model


_CACHE = _ModelCache()


async def configured_model(services: Services) -> Any:
    path = services.settings.forecast_model_path
    if not path:
        raise HTTPException(404, detail="no forecast model configured (set INTHEGRID_FORECAST_MODEL_PATH)")
    try:
        return await asyncio.to_thread(_CACHE.get, path)
    except InTheGridError as exc:
        raise HTTPException(503, detail=f"forecast model unavailable: {exc}") from None


Model = Annotated[Any, Depends(configured_model)]


def hourly_index(quarters: pd.DataFrame) -> pd.DataFrame:
    """Quarter-hour prices as the hourly index the model was trained on: the mean of an hour's four
    quarter-hours (domain.md section 5), only for hours that have all four."""
    hours = quarters.index.floor("h")
    complete = quarters.groupby(hours).count() == 4
    return quarters.groupby(hours).mean().where(complete)


def _tomorrow() -> date:
    return (datetime.now(ZoneInfo(MARKET_TZ)) + timedelta(days=1)).date()


@router.get(
    "/borders", response_model=ForecastBordersPublic, responses=ERRORS, summary="Borders the model forecasts"
)
async def forecast_borders(model: Model) -> Response:
    return json_response(
        {"trained_until": model.trained_until, "borders": [f"{a}/{b}" for a, b in model.borders]}
    )


@router.get(
    "/spreads",
    response_model=ForecastPublic,
    responses={200: CSV_CONTENT, **ERRORS},
    summary="Day-ahead spread forecast of a border per hour (P10/P50/P90), before the auction",
    description="Quantiles of the spread (second zone minus first, EUR/MWh) for each market-time hour "
    "of the delivery day, made only from stored prices of the days before it and the calendar: what "
    "is known at the day-ahead gate closure (12:00 CET the day before). The day defaults to "
    "tomorrow; a day after tomorrow cannot be forecast (the day before it has no prices yet).",
)
async def spread_forecast(
    services: Services,
    model: Model,
    border: Annotated[
        str,
        Query(description="border, e.g. DE-LU/FR", openapi_examples={"DE-LU/FR": {"value": "DE-LU/FR"}}),
    ],
    day: Annotated[
        date | None,
        Query(
            description="delivery day (market time), default tomorrow",
            openapi_examples={"day": {"value": "2026-01-16"}},
        ),
    ] = None,
    format: Annotated[Literal["json", "csv"], Query(description="csv for a spreadsheet")] = "json",
) -> Response:
    import pandas as pd

    from inthegrid.gateway.storage.price_frame import price_frame

    try:
        pair = parse_pair(border)
    except InTheGridError as exc:
        raise unprocessable("border", str(exc), border) from None
    if pair not in model.models:
        have = ", ".join(f"{a}/{b}" for a, b in model.borders) or "none"
        raise unprocessable("border", f"the model has no border {pair[0]}/{pair[1]} (it has: {have})", border)
    tomorrow = _tomorrow()
    day = day or tomorrow
    if day > tomorrow:
        raise unprocessable("day", f"days after {tomorrow} cannot be forecast yet", day.isoformat())
    if day < date(1900, 1, 1):
        raise unprocessable("day", "day is too early", day.isoformat())
    start = pd.Timestamp(day).tz_localize(MARKET_TZ).tz_convert("UTC").to_pydatetime()
    history, resolution = await price_frame(services.db, pair, start - timedelta(days=HISTORY_DAYS), start)
    if resolution is Resolution.PT15M:
        history = hourly_index(history)
    previous = history.loc[history.index >= start - timedelta(days=1)] if len(history) else history
    if previous.reindex(columns=list(pair)).dropna().empty:
        raise HTTPException(
            404, detail=f"no stored prices of {pair[0]} and {pair[1]} for the day before {day}"
        )
    quantiles = await asyncio.to_thread(model.predict_day, history.reindex(columns=list(pair)), pair, day)
    hours = pd.date_range(
        pd.Timestamp(day).tz_localize(MARKET_TZ),
        pd.Timestamp(day + timedelta(days=1)).tz_localize(MARKET_TZ),
        freq="h",
        inclusive="left",
    )
    rows = [
        {
            "hour": int(moment.hour),
            "delivery_start": moment.tz_convert(UTC).strftime("%Y-%m-%dT%H:%M:%SZ"),
            **{k: round(float(v), 2) for k, v in quantiles.loc[moment.hour].items()},
        }
        for moment in hours
    ]
    if format == "csv":
        text = pd.DataFrame(rows).to_csv(index=False, lineterminator="\n")
        return PlainTextResponse(
            text,
            media_type="text/csv",
            headers={"content-disposition": f'attachment; filename="forecast-{day}.csv"'},
        )
    return json_response(
        {
            "border": list(pair),
            "spread": f"{pair[1]} - {pair[0]}",
            "day": day.isoformat(),
            "market_time_zone": MARKET_TZ,
            "trained_until": model.trained_until,
            "generated_at": datetime.now(UTC).strftime("%Y-%m-%dT%H:%M:%SZ"),
            "count": len(rows),
            "rows": rows,
        }
    )
