"""Pure parsing of ENTSO-E quantity documents on a border into BorderQuantity (domain.md section 6).

- A61 forecasted transfer capacity (businessType A27, NTC) at PT60M, P1D...;
- A31 offered capacity of explicit auctions (businessType A31);
- A09 scheduled commercial exchanges (contract A01 day-ahead, A05 total);
- A11 physical flows (businessType A66; gaps between TimeSeries are hours without data);
- A25 allocation results: businessType A43 (allocated capacity) only; its B05 series is a price.

A TimeSeries runs from ``out_Domain`` (the zone the power leaves) into ``in_Domain``. Curve type A03
omits a point that repeats the previous one, so a value holds until the next given position; A01
gives every slot (and a missing slot is missing data, not a repeat).
"""

from __future__ import annotations

from datetime import datetime, timedelta
from xml.etree.ElementTree import Element

from inthegrid.domain.capacity import BorderQuantity, CapacityKind
from inthegrid.domain.zones import zone_for_eic
from inthegrid.errors import InTheGridError, SourceError
from inthegrid.sources.entsoe.parse import (
    PUBLICATION_NS,
    _split,
    _text,
    _time,
    parse_xml,
    raise_for_acknowledgement,
)

# documentType -> kind; A25 is handled per businessType below.
DOCUMENT_KINDS = {
    "A61": CapacityKind.FORECAST,
    "A31": CapacityKind.OFFERED,
    "A09": CapacityKind.SCHEDULED,
    "A11": CapacityKind.PHYSICAL,
    "A25": CapacityKind.AUCTION_ALLOCATED,
}
A25_ALLOCATED = "A43"
# Daily and weekly steps are local days in the document; stepping them in UTC is off by the hour of a
# daylight-saving change, which the period's own end corrects for the last value.
_STEPS = {
    "PT15M": timedelta(minutes=15),
    "PT30M": timedelta(minutes=30),
    "PT60M": timedelta(hours=1),
    "PT1H": timedelta(hours=1),
    "P1D": timedelta(days=1),
    "P7D": timedelta(days=7),
}


def parse_quantities(
    document: bytes | str, *, origin: str = "entsoe", contract: str | None = None
) -> list[BorderQuantity]:
    """Every quantity of an A61/A31/A09/A11/A25 document, in document order.

    ``contract`` keeps only TimeSeries of that contract_MarketAgreement.type (A09 documents hold
    both A01 day-ahead and A05 total schedules). Raises NotPublishedYetError for the "no matching
    data" Acknowledgement and SourceError for anything else it cannot read.
    """
    root = parse_xml(document)
    raise_for_acknowledgement(root)
    ns, local = _split(root.tag)
    if local != "Publication_MarketDocument" or not ns.startswith(PUBLICATION_NS):
        raise SourceError(f"expected an ENTSO-E Publication_MarketDocument, got {local!r}")
    doc_type = _text(root, ns, "type")
    kind = DOCUMENT_KINDS.get(doc_type)
    if kind is None:
        raise SourceError(
            f"document type {doc_type} is not a border quantity ({', '.join(sorted(DOCUMENT_KINDS))})"
        )
    out: list[BorderQuantity] = []
    for series in root.findall(f"{{{ns}}}TimeSeries"):
        agreement = (series.findtext(f"{{{ns}}}contract_MarketAgreement.type") or "").strip()
        if contract is not None and agreement != contract:
            continue
        business = (series.findtext(f"{{{ns}}}businessType") or "").strip()
        if doc_type == "A25" and business != A25_ALLOCATED:
            continue
        out.extend(_series(series, ns, kind, origin, agreement))
    return out


def _zone(series: Element, ns: str, field: str) -> str:
    eic = _text(series, ns, field)
    try:
        return zone_for_eic(eic).code
    except InTheGridError:
        raise SourceError(f"ENTSO-E document names an unknown bidding zone EIC {eic!r}") from None


def _series(series: Element, ns: str, kind: CapacityKind, origin: str, contract: str) -> list[BorderQuantity]:
    source, target = _zone(series, ns, "out_Domain.mRID"), _zone(series, ns, "in_Domain.mRID")
    unit = (series.findtext(f"{{{ns}}}quantity_Measure_Unit.name") or "MAW").strip()
    if unit != "MAW":
        raise SourceError(f"{source}->{target}: quantity unit {unit!r} is not MAW (MW)")
    compressed = (series.findtext(f"{{{ns}}}curveType") or "A01").strip() == "A03"
    out: list[BorderQuantity] = []
    for period in series.findall(f"{{{ns}}}Period"):
        res_text = _text(period, ns, "resolution")
        step = _STEPS.get(res_text)
        if step is None:
            raise SourceError(f"unsupported resolution {res_text} ({', '.join(_STEPS)})")
        start = _time(_text(period, ns, "timeInterval/start"))
        end = _time(_text(period, ns, "timeInterval/end"))
        for begin, stop, mw in _runs(period, ns, start, end, step, compressed):
            try:
                out.append(BorderQuantity(source, target, begin, stop, mw, kind, origin, contract))
            except InTheGridError as exc:
                raise SourceError(f"ENTSO-E quantity rejected: {exc}") from None
    return out


def _runs(
    period: Element, ns: str, start: datetime, end: datetime, step: timedelta, compressed: bool
) -> list[tuple[datetime, datetime, float]]:
    given: dict[int, float] = {}
    for point in period.findall(f"{{{ns}}}Point"):
        try:
            pos, value = int(_text(point, ns, "position")), float(_text(point, ns, "quantity"))
        except ValueError as exc:
            raise SourceError(f"ENTSO-E point is not a number ({exc})") from None
        if pos < 1 or start + (pos - 1) * step >= end:
            raise SourceError(
                f"point position {pos} lies outside the period {start:%Y-%m-%dT%H:%MZ}/{end:%Y-%m-%dT%H:%MZ}"
            )
        given[pos] = value
    positions = sorted(given)
    if compressed and positions and positions[0] != 1:
        raise SourceError("A03 curve lacks position 1, so the omitted points cannot be filled")
    runs = []
    for i, pos in enumerate(positions):
        begin = start + (pos - 1) * step
        if compressed:
            stop = start + (positions[i + 1] - 1) * step if i + 1 < len(positions) else end
        else:
            stop = min(begin + step, end)
        runs.append((begin, stop, given[pos]))
    return runs
