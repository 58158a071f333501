"""Border capacities, exchanges and flows from files: ENTSO-E XML documents and JAO exports."""

from __future__ import annotations

from pathlib import Path

from inthegrid.domain.capacity import BorderQuantity, CapacityKind
from inthegrid.errors import InTheGridError, ValidationError
from inthegrid.sources.entsoe.quantities import parse_quantities
from inthegrid.sources.jao import auction_quantities, read_jao_auctions

TOTAL_SCHEDULE = "A05"  # A09 contract type of the total schedule (day-ahead plus intraday)


def prefer_total_schedules(quantities: list[BorderQuantity]) -> list[BorderQuantity]:
    """Drop A09 day-ahead-only schedules in a direction that also has the total (A05) schedule:
    the total is what really occupies the border."""
    with_total = {
        (q.source, q.target)
        for q in quantities
        if q.kind is CapacityKind.SCHEDULED and q.contract == TOTAL_SCHEDULE
    }
    return [
        q
        for q in quantities
        if not (
            q.kind is CapacityKind.SCHEDULED
            and q.contract != TOTAL_SCHEDULE
            and (q.source, q.target) in with_total
        )
    ]


def read_capacity_file(path: str | Path) -> list[BorderQuantity]:
    """Quantities of one file: ``.xml`` an ENTSO-E A61/A31/A09/A11/A25 document, ``.csv`` a JAO
    auction export (its daily auctions' offered and allocated capacity)."""
    file = Path(path)
    if file.suffix.lower() == ".csv":
        return auction_quantities(read_jao_auctions(file))
    try:
        document = file.read_bytes()
    except OSError as exc:
        raise ValidationError(f"cannot read capacity document {file}: {exc.strerror}") from None
    try:
        return prefer_total_schedules(parse_quantities(document, origin=file.name))
    except InTheGridError as exc:
        raise ValidationError(f"{file}: {exc}") from None
