"""Analytics over the stored day-ahead history: divergence, heatmaps, congestion value, negative hours
and correlations (the same functions as ``inthegrid analyze``, inthegrid.analytics).

The analytics run on pandas, which costs the gateway about 70 MB resident: it is imported by the
handlers, on the first analysis asked for, not when the gateway starts (most never serve one)."""

from __future__ import annotations

import asyncio
from datetime import UTC, datetime, timedelta
from typing import TYPE_CHECKING, Annotated, Any, Literal

from fastapi import APIRouter, Depends, Query
from fastapi.responses import PlainTextResponse, Response
from pydantic import BaseModel, ConfigDict, Field

from inthegrid.analytics.terms import CONGESTION_NOTE, CONVERGED_EUR_MWH, GROUPINGS, MARKET_TZ
from inthegrid.domain.zones import parse_pair
from inthegrid.errors import InTheGridError
from inthegrid.gateway.rest.deps import (
    Services,
    json_response,
    optional_zones,
    requested_range,
    unprocessable,
    within_window,
)
from inthegrid.gateway.rest.schemas import CSV_CONTENT, ErrorPublic

if TYPE_CHECKING:
    import pandas as pd

router = APIRouter(prefix="/api/analytics", tags=["analytics"])

DEFAULT_DAYS = 365
MAX_DAYS = 6 * 366  # the whole 2020-2024 table and then some; bounds the work of one request
Format = Annotated[Literal["json", "csv"], Query(description="csv for a spreadsheet")]
ByYear = Annotated[bool, Query(description="one row per year (market time) as well as the total")]
ERRORS: dict[int | str, dict[str, Any]] = {422: {"model": ErrorPublic}, 503: {"model": ErrorPublic}}


class AnalysisPublic(BaseModel):
    """Every analytics answer: the range analysed, then its own fields (see the examples)."""

    model_config = ConfigDict(
        extra="allow",
        json_schema_extra={
            "examples": [
                {
                    "from": "2023-01-01T00:00:00Z",
                    "to": "2024-01-01T00:00:00Z",
                    "resolution": "PT60M",
                    "market_time_zone": MARKET_TZ,
                    "pair": ["DE-LU", "FR"],
                    "spread": "FR - DE-LU",
                    "by": "year",
                    "count": 1,
                    "rows": [{"year": 2023, "periods": 8734, "converged_share": 0.2867}],
                }
            ]
        },
    )
    from_: str | None = Field(None, alias="from")
    to: str | None = None
    resolution: str | None = None
    count: int | None = None


async def analysis_range(
    services: Services,
    requested: Annotated[tuple[datetime | None, datetime | None], Depends(requested_range)],
) -> tuple[datetime, datetime]:
    """[from, to): default the last year up to now; at most MAX_DAYS; within the plausible window."""
    start, end = requested
    end = end or datetime.now(UTC)
    try:
        start = start or end - timedelta(days=DEFAULT_DAYS)
    except OverflowError:  # 'to' in the first year of the calendar
        raise unprocessable("to", "'to' is too early", end.isoformat()) from None
    if end - start > timedelta(days=MAX_DAYS):
        raise unprocessable("from", f"the range may span at most {MAX_DAYS} days", start.isoformat())
    if start >= end:
        raise unprocessable("from", "'from' must be before 'to'", start.isoformat())
    return within_window(services.settings.time_window, start, end)


async def required_pair(
    pair: Annotated[
        str,
        Query(
            description="zone pair; the spread is the second zone minus the first (sorted by code)",
            openapi_examples={"DE-LU/FR": {"value": "DE-LU/FR"}, "alias": {"value": "DE-NL"}},
        ),
    ],
) -> tuple[str, str]:
    try:
        return parse_pair(pair)
    except InTheGridError as exc:
        raise unprocessable("pair", str(exc), pair) from None


Range = Annotated[tuple[datetime, datetime], Depends(analysis_range)]
Pair = Annotated[tuple[str, str], Depends(required_pair)]
Zones = Annotated[frozenset[str] | None, Depends(optional_zones)]


async def _load(services: Services, zones: Any, span: tuple[datetime, datetime]) -> tuple[pd.DataFrame, dict]:
    from inthegrid.gateway.storage.price_frame import price_frame

    frame, resolution = await price_frame(services.db, zones, *span)
    head = {
        "from": span[0].isoformat().replace("+00:00", "Z"),
        "to": span[1].isoformat().replace("+00:00", "Z"),
        "resolution": resolution.iso if resolution else None,
        "market_time_zone": MARKET_TZ,
    }
    return frame, head


def _hours(head: dict) -> float:
    return 0.25 if head["resolution"] == "PT15M" else 1.0


def _answer(head: dict, rows: list[dict[str, Any]], fmt: str, name: str, **extra: Any) -> Response:
    if fmt == "csv":
        import pandas as pd

        text = pd.DataFrame(rows).to_csv(index=False, lineterminator="\n") if rows else "\n"
        return PlainTextResponse(
            text,
            media_type="text/csv",
            headers={"content-disposition": f'attachment; filename="{name}.csv"'},
        )
    return json_response({**head, **extra, "count": len(rows), "rows": rows})


@router.get(
    "/divergence",
    response_model=AnalysisPublic,
    responses={200: CSV_CONTENT, **ERRORS},
    summary="How often a pair's prices are equal, and the direction and size of the spread",
    description="Share of periods with prices equal to the cent (a coupled border with spare capacity), "
    "the shares where each zone was dearer, the mean spread (second minus first zone) and the mean "
    "size of the spread when not converged; grouped by year, month, hour of day (market time), month "
    "x hour or year x month.",
)
async def pair_divergence(
    services: Services,
    pair: Pair,
    span: Range,
    by: Annotated[
        Literal[GROUPINGS],  # type: ignore[valid-type]
        Query(description="grouping (market time)", openapi_examples={"year": {"value": "year"}}),
    ] = "year",
    format: Format = "json",
) -> Response:
    from inthegrid.analytics.divergence import divergence
    from inthegrid.analytics.report import records

    frame, head = await _load(services, pair, span)
    a, b = pair
    if a in frame.columns and b in frame.columns:
        table = await asyncio.to_thread(divergence, frame, a, b, by)
        rows = records(table if by == "all" else table.reset_index())
    else:
        rows = []
    extra = {"pair": [a, b], "spread": f"{b} - {a}", "by": by, "converged_below_eur_mwh": CONVERGED_EUR_MWH}
    return _answer(head, rows, format, f"divergence-{a}-{b}", **extra)


@router.get(
    "/heatmap",
    response_model=AnalysisPublic,
    responses=ERRORS,
    summary="Month x hour-of-day grid of a pair's convergence or mean spread (for a heatmap)",
)
async def pair_heatmap(
    services: Services,
    pair: Pair,
    span: Range,
    value: Annotated[
        Literal["converged_share", "mean_spread_eur_mwh", "mean_abs_spread_diverged_eur_mwh"],
        Query(description="what each cell holds"),
    ] = "converged_share",
) -> Response:
    from inthegrid.analytics.divergence import heatmap
    from inthegrid.analytics.report import clean

    frame, head = await _load(services, pair, span)
    a, b = pair
    grid: list[list[Any]] = []
    if a in frame.columns and b in frame.columns:
        table = await asyncio.to_thread(heatmap, frame, a, b, value)
        grid = [[clean(v) for v in row] for row in table.to_numpy()]
    return json_response(
        {
            **head,
            "pair": [a, b],
            "spread": f"{b} - {a}",
            "value": value,
            "months": list(range(1, 13)),
            "hours": list(range(24)),
            "z": grid,
            "count": sum(v is not None for row in grid for v in row),
        }
    )


@router.get(
    "/congestion",
    response_model=AnalysisPublic,
    responses={200: CSV_CONTENT, **ERRORS},
    summary="Congestion value per border and direction (income of the grid operators, not profit)",
    description=CONGESTION_NOTE,
)
async def border_congestion(
    services: Services, span: Range, zones: Zones = None, by_year: ByYear = False, format: Format = "json"
) -> Response:
    from inthegrid.analytics.congestion import congestion_value
    from inthegrid.analytics.frames import borders_in
    from inthegrid.analytics.report import records

    frame, head = await _load(services, zones, span)
    borders = borders_in(frame.columns)
    table = await asyncio.to_thread(congestion_value, frame, borders, _hours(head), by_year=by_year)
    return _answer(head, records(table, 2), format, "congestion", note=CONGESTION_NOTE)


@router.get(
    "/negative-hours",
    response_model=AnalysisPublic,
    responses={200: CSV_CONTENT, **ERRORS},
    summary="Hours with negative prices per zone and year (market time)",
)
async def zone_negative_hours(
    services: Services, span: Range, zones: Zones = None, format: Format = "json"
) -> Response:
    from inthegrid.analytics.negative import negative_hours
    from inthegrid.analytics.report import clean

    frame, head = await _load(services, zones, span)
    table = negative_hours(frame, _hours(head))
    rows = [
        {"zone": zone, "year": int(year), "hours": clean(hours)}
        for year, row in table.iterrows()
        for zone, hours in row.items()
    ]
    return _answer(head, rows, format, "negative-hours")


@router.get(
    "/correlation",
    response_model=AnalysisPublic,
    responses={200: CSV_CONTENT, **ERRORS},
    summary="Correlation matrix of zone prices, and each pair's correlation by year",
)
async def zone_correlation(
    services: Services, span: Range, zones: Zones = None, format: Format = "json"
) -> Response:
    from inthegrid.analytics.correlation import correlation_by_year, correlation_matrix
    from inthegrid.analytics.report import clean, records

    frame, head = await _load(services, zones, span)
    matrix = correlation_matrix(frame)
    rows = records(await asyncio.to_thread(correlation_by_year, frame))
    return _answer(
        head,
        rows,
        format,
        "correlation",
        zones=list(matrix.columns),
        matrix=[[clean(v) for v in row] for row in matrix.to_numpy()],
    )
