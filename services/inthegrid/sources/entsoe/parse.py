"""Pure parsing of ENTSO-E Transparency Platform documents into prices (domain.md section 6).

Handles the price document A44 (``Publication_MarketDocument``) at PT15M and PT60M, the compressed
curve type A03 (a point that repeats the previous one is omitted: forward-fill it), the two auctions
DE-LU and AT publish (``classificationSequence`` position 1 is SDAC, 2 the earlier EXAA auction),
and the ``Acknowledgement_MarketDocument`` the API answers instead of an empty document.

Documents come from the network, so they are parsed with defusedxml (no DTDs, no entities, no
external references) and refused above a size limit before any parsing happens.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime
from xml.etree.ElementTree import Element, ParseError

import defusedxml.ElementTree as SafeET
from defusedxml import DefusedXmlException

from inthegrid.domain.markets import auction_of_sequence
from inthegrid.domain.prices import DEFAULT_LIMITS, Market, Price, PriceLimits, Resolution, as_utc, make_price
from inthegrid.domain.zones import zone_for_eic
from inthegrid.errors import InTheGridError, NotPublishedYetError, SourceError

# A real A44 for one zone and two days at PT15M is about 60 kB; a year is a few MB. Anything far
# larger is not a price document we asked for.
MAX_DOCUMENT_BYTES = 16 * 1024 * 1024

PUBLICATION_NS = "urn:iec62325.351:tc57wg16:451-3:publicationdocument:7:"
ACKNOWLEDGEMENT_NS = "urn:iec62325.351:tc57wg16:451-1:acknowledgementdocument:7:"
# Reason code of "No matching data found" (the prices are not published yet, or never will be).
NO_MATCHING_DATA = "999"
SDAC_SEQUENCE = 1

# contract_MarketAgreement.type -> market
INTRADAY_CONTRACT = "A07"
_MARKETS = {"A01": Market.DAY_AHEAD, INTRADAY_CONTRACT: Market.INTRADAY}
_RESOLUTIONS = {"PT15M": Resolution.PT15M, "PT60M": Resolution.PT60M, "PT1H": Resolution.PT60M}


@dataclass(frozen=True, slots=True)
class SeriesPoint:
    """One delivery period's price in one TimeSeries, after forward-filling."""

    zone: str
    start: datetime
    resolution: Resolution
    market: Market
    sequence: int | None
    eur_mwh: float


def parse_xml(document: bytes | str) -> Element:
    """The root element of a document, parsed safely; every failure is a SourceError."""
    size = len(document)
    if size > MAX_DOCUMENT_BYTES:
        raise SourceError(f"ENTSO-E document of {size} bytes exceeds the {MAX_DOCUMENT_BYTES}-byte limit")
    if not size:
        raise SourceError("ENTSO-E answered an empty document")
    try:
        return SafeET.fromstring(document, forbid_dtd=True, forbid_entities=True, forbid_external=True)
    except DefusedXmlException as exc:
        raise SourceError(f"ENTSO-E document refused (unsafe XML: {type(exc).__name__})") from None
    except ParseError as exc:
        raise SourceError(f"ENTSO-E document is not well-formed XML ({exc})") from None


def _split(tag: str) -> tuple[str, str]:
    if tag.startswith("{"):
        ns, _, local = tag[1:].partition("}")
        return ns, local
    return "", tag


def _child(parent: Element, ns: str, name: str) -> Element | None:
    return parent.find(f"{{{ns}}}{name}")


def _text(parent: Element, ns: str, path: str) -> str:
    node = parent.find("/".join(f"{{{ns}}}{part}" for part in path.split("/")))
    if node is None or node.text is None or not node.text.strip():
        raise SourceError(f"ENTSO-E document lacks {path}")
    return node.text.strip()


def raise_for_acknowledgement(root: Element) -> None:
    """Turn an Acknowledgement into NotPublishedYetError (reason 999) or SourceError (any other)."""
    ns, local = _split(root.tag)
    if local != "Acknowledgement_MarketDocument" or not ns.startswith(ACKNOWLEDGEMENT_NS):
        return
    reasons = [
        ((r.findtext(f"{{{ns}}}code") or "").strip(), (r.findtext(f"{{{ns}}}text") or "").strip())
        for r in root.findall(f"{{{ns}}}Reason")
    ]
    text = "; ".join(t or code for code, t in reasons) or "no reason given"
    if any(code == NO_MATCHING_DATA for code, _ in reasons):
        raise NotPublishedYetError(f"not published yet: {text}")
    raise SourceError(f"ENTSO-E refused the request: {text}")


def parse_points(document: bytes | str, *, sequence: int = SDAC_SEQUENCE) -> list[SeriesPoint]:
    """Every price point of an A44 document, forward-filled, of the wanted classification sequence.

    A TimeSeries without a classificationSequence is the zone's only auction and always kept; one
    with a sequence is kept only when it is ``sequence`` (1 = SDAC for day-ahead). In intraday
    documents (contract A07) the sequence numbers the auction: each becomes its own market (IDA1,
    IDA2, IDA3) and all are kept; a series without one is continuous intraday.
    """
    root = parse_xml(document)
    raise_for_acknowledgement(root)
    ns, local = _split(root.tag)
    if local != "Publication_MarketDocument" or not ns.startswith(PUBLICATION_NS):
        raise SourceError(
            f"expected an ENTSO-E Publication_MarketDocument, got {local!r} in namespace {ns!r}"
        )
    doc_type = _text(root, ns, "type")
    if doc_type != "A44":
        raise SourceError(f"expected a price document (type A44), got type {doc_type}")
    points: list[SeriesPoint] = []
    for series in root.findall(f"{{{ns}}}TimeSeries"):
        points.extend(_series_points(series, ns, sequence))
    return points


def _series_points(series: Element, ns: str, wanted: int) -> list[SeriesPoint]:
    raw_seq = series.findtext(f"{{{ns}}}classificationSequence_AttributeInstanceComponent.position")
    seq = int(raw_seq) if raw_seq and raw_seq.strip().isdigit() else None
    contract = series.findtext(f"{{{ns}}}contract_MarketAgreement.type", "A01").strip()
    # Intraday: each sequence is its own auction (its own market), so every one is kept.
    if seq is not None and seq != wanted and contract != INTRADAY_CONTRACT:
        return []
    eic = _text(series, ns, "in_Domain.mRID")
    try:
        zone = zone_for_eic(eic).code
    except InTheGridError:
        raise SourceError(f"ENTSO-E document names an unknown bidding zone EIC {eic!r}") from None
    market = _MARKETS.get(contract)
    if contract == INTRADAY_CONTRACT:
        try:
            market = auction_of_sequence(seq)
        except InTheGridError as exc:
            raise SourceError(f"ENTSO-E intraday series for {zone}: {exc}") from None
    if market is None:
        raise SourceError(
            f"unsupported contract_MarketAgreement.type {contract!r} (A01 day-ahead, A07 intraday)"
        )
    curve = series.findtext(f"{{{ns}}}curveType", "A01").strip()
    out: list[SeriesPoint] = []
    for period in series.findall(f"{{{ns}}}Period"):
        res_text = _text(period, ns, "resolution")
        resolution = _RESOLUTIONS.get(res_text)
        if resolution is None:
            raise SourceError(f"unsupported resolution {res_text} for {zone} (PT15M or PT60M)")
        start = _time(_text(period, ns, "timeInterval/start"))
        end = _time(_text(period, ns, "timeInterval/end"))
        slots = int((end - start) / resolution.delta)
        if slots <= 0 or start + slots * resolution.delta != end:
            span = f"{start:%Y-%m-%dT%H:%MZ}/{end:%Y-%m-%dT%H:%MZ}"
            raise SourceError(f"period {span} is not whole {res_text} steps")
        values = _period_values(period, ns, slots, fill=curve == "A03")
        out.extend(
            SeriesPoint(zone, start + (pos - 1) * resolution.delta, resolution, market, seq, value)
            for pos, value in values
        )
    return out


def _period_values(period: Element, ns: str, slots: int, *, fill: bool) -> list[tuple[int, float]]:
    given: dict[int, float] = {}
    for point in period.findall(f"{{{ns}}}Point"):
        try:
            pos = int(_text(point, ns, "position"))
            value = float(_text(point, ns, "price.amount"))
        except ValueError as exc:
            raise SourceError(f"ENTSO-E point is not a number ({exc})") from None
        if not 1 <= pos <= slots:
            raise SourceError(f"point position {pos} outside 1..{slots}")
        given[pos] = value
    if not fill:
        return sorted(given.items())
    if given and 1 not in given:
        raise SourceError("A03 curve lacks position 1, so the omitted points cannot be filled")
    filled: list[tuple[int, float]] = []
    last: float | None = None
    for pos in range(1, slots + 1):
        last = given.get(pos, last)
        if last is not None:
            filled.append((pos, last))
    return filled


def _time(text: str) -> datetime:
    # ENTSO-E writes minutes without seconds ("2025-04-01T22:00Z"); fromisoformat accepts that.
    try:
        return as_utc(text)
    except InTheGridError:
        raise SourceError(f"ENTSO-E time {text!r} is not ISO 8601") from None


def created_at(document: bytes | str) -> datetime | None:
    """The document's createdDateTime (when ENTSO-E produced it), if it has one."""
    root = parse_xml(document)
    ns, _ = _split(root.tag)
    node = _child(root, ns, "createdDateTime")
    if node is None or not node.text:
        return None
    return _time(node.text.strip())


def parse_prices(
    document: bytes | str,
    *,
    source: str = "entsoe",
    published_at: datetime | None = None,
    sequence: int = SDAC_SEQUENCE,
    limits: PriceLimits = DEFAULT_LIMITS,
) -> list[Price]:
    """Validated prices of an A44 document, sorted by zone and period.

    ``published_at`` defaults to the document's createdDateTime, so parsing is deterministic.
    Raises NotPublishedYetError for the "no matching data" Acknowledgement, SourceError otherwise.
    """
    points = parse_points(document, sequence=sequence)
    when = published_at or created_at(document) or datetime(1970, 1, 1, tzinfo=UTC)
    prices: dict[tuple[str, datetime, Resolution, Market], Price] = {}
    for p in points:
        try:
            price = make_price(
                p.zone,
                p.start,
                p.eur_mwh,
                resolution=p.resolution,
                market=p.market,
                source=source,
                published_at=when,
                limits=limits,
            )
        except InTheGridError as exc:
            raise SourceError(f"ENTSO-E price rejected: {exc}") from None
        prices[(p.zone, p.start, p.resolution, p.market)] = price
    return [prices[k] for k in sorted(prices, key=lambda k: (k[0], k[1], k[2]))]
