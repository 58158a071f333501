"""CPU cost per opportunity event on its way through the pipeline, against bare JSON in the same run.

Pure CPU, in this process, on the events of one evaluation of a day (10 pairs x 96 quarter-hours, as a
calculator publishes them after a day-ahead result):
- calculator: ``event_messages`` (group per pair, encode, message ids), per event;
- recorder: ``decode_events`` plus ``build_event_row`` of every message, per event;
- baseline: ``orjson.dumps`` and ``orjson.loads`` of the same v1 documents, with no validation, which
  no codec of these fields can beat.

    .venv/bin/python bench/bench_event_path.py [--rounds 20]
"""

from __future__ import annotations

import argparse
import time
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from itertools import combinations

import orjson
from _common import load, machine, stamp

from inthegrid.domain.capture import capture_of
from inthegrid.domain.codec import event_document
from inthegrid.domain.economics import PairValue
from inthegrid.domain.event_batch_codec import decode_events
from inthegrid.domain.opportunities import EventKind, OpportunityEvent
from inthegrid.domain.prices import Market, Resolution
from inthegrid.domain.zones import pair_key
from inthegrid.platform.event_messages import event_messages
from inthegrid.recorder.rows import build_event_row

ZONES = ("AT", "BE", "DE-LU", "FR", "NL")


def day_of_events(day: datetime, detected: datetime) -> list[OpportunityEvent]:
    events = []
    for a, b in combinations(ZONES, 2):
        pair = pair_key(a, b)
        for q in range(96):
            start = day + timedelta(minutes=15 * q)
            buy, sell = 40.0 + q % 7, 61.25 + (q * 13) % 11
            value = PairValue(
                pair=pair,
                buy_zone=pair[0],
                sell_zone=pair[1],
                buy_price=buy,
                sell_price=sell,
                net_eur_mwh=round(sell - buy - 1.5, 2),
                cost_eur_mwh=1.5,
                loss_factor=0.0,
                path=(pair[0], pair[1]),
                capacity_mw=1000.0,
                period_hours=0.25,
                capture=capture_of((pair[0], pair[1]), start),
            )
            events.append(
                OpportunityEvent(
                    EventKind.OPENED,
                    "poc",
                    Market.DAY_AHEAD,
                    pair,
                    start,
                    Resolution.PT15M,
                    1,
                    value,
                    detected,
                )
            )
    return events


def per_event_us(work: Callable[[], object], events: int, rounds: int) -> float:
    """CPU time of this process (not wall time), so other work on the 2 cores skews it less."""
    work()  # warm caches as a running service has them
    started = time.process_time()
    for _ in range(rounds):
        work()
    return (time.process_time() - started) / rounds / events * 1e6


def main() -> None:
    parser = argparse.ArgumentParser(description=(__doc__ or "").splitlines()[0])
    parser.add_argument("--rounds", type=int, default=20)
    args = parser.parse_args()
    day = datetime(2026, 1, 1, tzinfo=UTC)
    now = day + timedelta(hours=1)
    events = day_of_events(day + timedelta(days=1), now - timedelta(seconds=1))
    n = len(events)
    messages = event_messages("poc", events)
    payloads = [payload for _, payload, _ in messages]
    documents = [event_document(e) for e in events]
    singles = [orjson.dumps(d) for d in documents]

    def recorder() -> None:
        for seq, payload in enumerate(payloads, 1):
            decoded = decode_events(payload, now=now)
            for _, event in decoded.events:
                build_event_row(event, seq)

    decoded = [e for p in payloads for _, e in decode_events(p, now=now).events]
    assert decoded == events, "the events must survive the round trip"
    print(f"machine: {machine()}; {stamp()}; {load()}")
    print(
        f"{n} events of one day (10 pairs x 96 quarter-hours) in {len(messages)} messages,"
        f" {args.rounds} rounds, CPU time of this process"
    )
    encode_us = per_event_us(lambda: event_messages("poc", events), n, args.rounds)
    dumps_us = per_event_us(lambda: [orjson.dumps(event_document(e)) for e in events], n, args.rounds)
    raw_dumps_us = per_event_us(lambda: [orjson.dumps(d) for d in documents], n, args.rounds)
    record_us = per_event_us(recorder, n, args.rounds)
    raw_loads_us = per_event_us(lambda: [orjson.loads(s) for s in singles], n, args.rounds)
    print(f"calculator: event_messages            {encode_us:6.2f} us per event")
    print(f"            v1 documents, orjson.dumps {dumps_us:6.2f} us per event")
    print(
        f"            baseline orjson.dumps      {raw_dumps_us:6.2f} us per event"
        f" (ratio {encode_us / raw_dumps_us:.1f}x)"
    )
    print(f"recorder:   decode_events + rows       {record_us:6.2f} us per event")
    print(
        f"            baseline orjson.loads      {raw_loads_us:6.2f} us per event"
        f" (ratio {record_us / raw_loads_us:.1f}x)"
    )


if __name__ == "__main__":
    main()
