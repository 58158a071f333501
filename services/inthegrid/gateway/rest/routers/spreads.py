"""Spreads: every pair of every running rule now, and the open opportunities (both from memory)."""

from __future__ import annotations

import time
from datetime import UTC, datetime, timedelta
from typing import Annotated

from fastapi import APIRouter, Depends, HTTPException, Query
from fastapi.responses import Response

from inthegrid.gateway.rest.deps import Services, dump, json_response, optional_pair
from inthegrid.gateway.rest.schemas import ErrorPublic, OpportunitiesPublic, SpreadsPublic
from inthegrid.gateway.rest.views import open_opportunities_document, spread_rows

router = APIRouter(prefix="/api/spreads", tags=["spreads"])

RuleQuery = Annotated[
    str | None,
    Query(
        max_length=253,
        description="rule name (an ArbitrageRule's name)",
        openapi_examples={"poc": {"value": "proof-of-concept"}},
    ),
]


@router.get(
    "/latest",
    response_model=SpreadsPublic,
    responses={404: {"model": ErrorPublic}},
    summary="Each pair of each running rule at the newest period both zones have",
)
async def latest_spreads(services: Services, rule: RuleQuery = None) -> Response:
    """Every pair of every running rule (rules come from the NATS KV bucket INTHEGRID_RULES), valued
    at the newest delivery period where both prices are known; pairs without both prices or without
    a route are listed with nulls and a `reason`."""
    live = services.live
    rules = list(live.rules())
    if rule is not None and rule not in rules:
        raise HTTPException(
            404, detail=f"unknown rule {rule!r}; running rules: {', '.join(rules) or '(none)'}"
        )

    def build() -> bytes:
        rows = spread_rows(live, rule)
        return dump({"count": len(rows), "rules": rules if rule is None else [rule], "data": rows})

    return json_response(live.cached(("spreads", rule), (live.price_version, live.rule_version), build))


@router.get(
    "/opportunities",
    response_model=OpportunitiesPublic,
    summary="Open opportunities seen in the last minutes, best net value first",
)
async def opportunities(
    services: Services,
    rule: RuleQuery = None,
    pair: Annotated[tuple[str, str] | None, Depends(optional_pair)] = None,
) -> Response:
    """The proof of concept's endpoint, its shape kept: open opportunities whose latest event is less
    than 5 minutes old, best net first ("last 5 minutes, profitable only"). `low_market` is the
    zone to buy in, `high_market` the zone to sell in."""
    live = services.live
    max_age = timedelta(seconds=services.settings.gateway_opportunity_max_age_seconds)
    # Ages change with the clock, so the cached answer also expires every second.
    version = (live.opportunity_version, int(time.time()))

    def build() -> bytes:
        return open_opportunities_document(live, datetime.now(UTC), max_age, rule=rule, pair=pair)

    return json_response(live.cached(("opportunities", rule, pair), version, build))
