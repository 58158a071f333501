"""Batched, idempotent writes: COPY a batch into a session-local staging table, then one
INSERT ... ON CONFLICT into the real table, all in the caller's transaction.

Prices first try the fast path: one COPY straight into ``prices`` inside a savepoint, as fast as a
raw COPY. A batch holding any key already stored (a redelivery, a correction, a re-published
price) or twice (a correction in the same batch) violates the unique key; the savepoint rolls
back and the batch takes the staging + upsert path below, so the outcome is the same either way.
Two writers COPYing the same keys in opposite orders at once can deadlock; PostgreSQL aborts one and
the recorder retries it (a deadlock is transient), and the merge below makes the order of commits moot.

- prices: a key seen again with a newer ``published_at`` is a correction and replaces the row;
  the same message again (same ``published_at``) changes nothing.
- opportunity_events: append-only; (opportunity, revision) already stored is skipped.
- opportunities: one row per opportunity, merged so that events arriving twice or out of order
  (and batches committing out of order, as the recorder's concurrent writers do) never move an
  opportunity backwards: the same events give the same row in any order.
Within one batch a key may occur more than once; ``DISTINCT ON`` keeps the one that wins.
"""

from __future__ import annotations

from collections.abc import Sequence

import asyncpg

from inthegrid.recorder.rows import EVENT_COLUMNS, PRICE_COLUMNS, VALUE_COLUMNS, EventRow, PriceRow

_PRICE_KEY = "zone, market, resolution_minutes, delivery_start, source"
_OPPORTUNITY_KEY = "rule, pair_a, pair_b, market, delivery_start"
_VALUE_COLUMNS = (*VALUE_COLUMNS, "strategy")

_STAGE_PRICES = "recorder_stage_prices"
_STAGE_EVENTS = "recorder_stage_events"

# Temp tables live per connection; ON COMMIT DELETE ROWS empties them after every batch.
_CREATE_STAGES = (
    f"CREATE TEMP TABLE IF NOT EXISTS {_STAGE_PRICES} (LIKE prices INCLUDING DEFAULTS) ON COMMIT DELETE ROWS",
    f"CREATE TEMP TABLE IF NOT EXISTS {_STAGE_EVENTS} (LIKE opportunity_events INCLUDING DEFAULTS) "
    "ON COMMIT DELETE ROWS",
)

_cols = ", ".join(PRICE_COLUMNS)
UPSERT_PRICES = f"""
INSERT INTO prices ({_cols})
SELECT DISTINCT ON ({_PRICE_KEY}) {_cols}
FROM {_STAGE_PRICES}
ORDER BY {_PRICE_KEY}, published_at DESC, stream_seq DESC
ON CONFLICT ({_PRICE_KEY}) DO UPDATE SET
    price_eur_mwh = EXCLUDED.price_eur_mwh,
    published_at = EXCLUDED.published_at,
    received_at = EXCLUDED.received_at,
    stream_seq = EXCLUDED.stream_seq
WHERE EXCLUDED.published_at > prices.published_at
"""

_ecols = ", ".join(EVENT_COLUMNS)
INSERT_EVENTS = f"""
INSERT INTO opportunity_events ({_ecols})
SELECT DISTINCT ON ({_OPPORTUNITY_KEY}, revision) {_ecols}
FROM {_STAGE_EVENTS}
ORDER BY {_OPPORTUNITY_KEY}, revision
ON CONFLICT DO NOTHING
"""

_vcols = ", ".join(_VALUE_COLUMNS)
_v_vcols = ", ".join(f"v.{c}" for c in _VALUE_COLUMNS)
_n_key = ", ".join(f"n.{c.strip()}" for c in _OPPORTUNITY_KEY.split(","))
_NEWER = "EXCLUDED.revision > opportunities.revision"
# values_revision is NULL on rows written before migration 0011: their values are their revision's.
_NEWER_VALUES = "EXCLUDED.values_revision > COALESCE(opportunities.values_revision, opportunities.revision)"
_take_newer_values = ",\n    ".join(
    f"{c} = CASE WHEN {_NEWER_VALUES} THEN EXCLUDED.{c} ELSE opportunities.{c} END"
    for c in (*_VALUE_COLUMNS, "values_revision")
)
# A merge that gives the same row whatever order the batches commit in (the recorder writes several
# at once): status, revision and detected_at come from the newest revision; the values from the
# newest revision that had any (values_revision; 0 = none yet), so a close without a value keeps
# what the opportunity last looked like; first_detected_at is the earliest detection. A batch that
# brings nothing newer (a redelivery) changes nothing. Rows go in key order, so two writers that
# touch the same opportunities lock them in the same order and never deadlock.
UPSERT_OPPORTUNITIES = f"""
WITH newest AS (
    SELECT DISTINCT ON ({_OPPORTUNITY_KEY})
           {_OPPORTUNITY_KEY}, kind, revision, resolution_minutes, detected_at,
           min(detected_at) OVER (PARTITION BY {_OPPORTUNITY_KEY}) AS first_detected_at
    FROM {_STAGE_EVENTS}
    ORDER BY {_OPPORTUNITY_KEY}, revision DESC
), valued AS (
    SELECT DISTINCT ON ({_OPPORTUNITY_KEY}) {_OPPORTUNITY_KEY}, {_vcols}, revision AS values_revision
    FROM {_STAGE_EVENTS}
    WHERE buy_zone IS NOT NULL
    ORDER BY {_OPPORTUNITY_KEY}, revision DESC
)
INSERT INTO opportunities ({_OPPORTUNITY_KEY}, status, revision, {_vcols}, values_revision,
                           resolution_minutes, first_detected_at, detected_at)
SELECT {_n_key}, CASE WHEN n.kind = 'closed' THEN 'closed' ELSE 'open' END, n.revision, {_v_vcols},
       COALESCE(v.values_revision, 0), n.resolution_minutes, n.first_detected_at, n.detected_at
FROM newest n LEFT JOIN valued v USING ({_OPPORTUNITY_KEY})
ORDER BY {_n_key}
ON CONFLICT ({_OPPORTUNITY_KEY}) DO UPDATE SET
    status = CASE WHEN {_NEWER} THEN EXCLUDED.status ELSE opportunities.status END,
    revision = GREATEST(opportunities.revision, EXCLUDED.revision),
    {_take_newer_values},
    resolution_minutes = EXCLUDED.resolution_minutes,
    first_detected_at = LEAST(opportunities.first_detected_at, EXCLUDED.first_detected_at),
    detected_at = CASE WHEN {_NEWER} THEN EXCLUDED.detected_at ELSE opportunities.detected_at END,
    updated_at = now()
WHERE {_NEWER} OR {_NEWER_VALUES} OR EXCLUDED.first_detected_at < opportunities.first_detected_at
"""


def _affected(status: str) -> int:
    """Rows an INSERT touched, from its command tag ``INSERT 0 <n>``."""
    try:
        return int(status.rsplit(" ", 1)[-1])
    except ValueError:
        return 0


async def write_prices(conn: asyncpg.Connection, rows: Sequence[PriceRow]) -> dict[str, int]:
    """Store one batch of prices in one transaction; returns rows inserted or corrected per table."""
    async with conn.transaction():
        try:
            async with conn.transaction():  # a savepoint: a conflict undoes only the fast path
                await conn.copy_records_to_table("prices", records=rows, columns=list(PRICE_COLUMNS))
            return {"prices": len(rows)}
        except asyncpg.UniqueViolationError:
            pass
        await conn.execute(_CREATE_STAGES[0])
        await conn.copy_records_to_table(_STAGE_PRICES, records=rows, columns=list(PRICE_COLUMNS))
        status = await conn.execute(UPSERT_PRICES)
    return {"prices": _affected(status)}


async def write_events(conn: asyncpg.Connection, rows: Sequence[EventRow]) -> dict[str, int]:
    """Store one batch of opportunity events and move each opportunity to its newest revision."""
    async with conn.transaction():
        await conn.execute(_CREATE_STAGES[1])
        await conn.copy_records_to_table(_STAGE_EVENTS, records=rows, columns=list(EVENT_COLUMNS))
        events = await conn.execute(INSERT_EVENTS)
        opportunities = await conn.execute(UPSERT_OPPORTUNITIES)
    return {"opportunity_events": _affected(events), "opportunities": _affected(opportunities)}
