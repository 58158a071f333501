"""Bidding zones: prices clear per zone, not per country (domain.md section 1)."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime

from inthegrid.errors import UnknownZoneError


@dataclass(frozen=True, slots=True)
class Zone:
    code: str
    eic: str
    name: str
    timezone: str


_ZONES: tuple[Zone, ...] = (
    Zone("DE-LU", "10Y1001A1001A82H", "Germany-Luxembourg", "Europe/Berlin"),
    Zone("FR", "10YFR-RTE------C", "France", "Europe/Paris"),
    Zone("NL", "10YNL----------L", "Netherlands", "Europe/Amsterdam"),
    Zone("BE", "10YBE----------2", "Belgium", "Europe/Brussels"),
    Zone("AT", "10YAT-APG------L", "Austria", "Europe/Vienna"),
    Zone("CH", "10YCH-SWISSGRIDZ", "Switzerland", "Europe/Zurich"),
    Zone("PL", "10YPL-AREA-----S", "Poland", "Europe/Warsaw"),
    Zone("CZ", "10YCZ-CEPS-----N", "Czechia", "Europe/Prague"),
    Zone("DK1", "10YDK-1--------W", "Denmark West", "Europe/Copenhagen"),
    Zone("DK2", "10YDK-2--------M", "Denmark East", "Europe/Copenhagen"),
    Zone("NO2", "10YNO-2--------T", "Norway South-West", "Europe/Oslo"),
    Zone("SE4", "10Y1001A1001A47J", "Sweden South", "Europe/Stockholm"),
    Zone("IT-NORD", "10Y1001A1001A73I", "Italy North", "Europe/Rome"),
    Zone("ES", "10YES-REE------0", "Spain", "Europe/Madrid"),
    Zone("PT", "10YPT-REN------W", "Portugal", "Europe/Lisbon"),
    Zone("GB", "10YGB----------A", "Great Britain", "Europe/London"),
    Zone("HU", "10YHU-MAVIR----U", "Hungary", "Europe/Budapest"),
    Zone("SI", "10YSI-ELES-----O", "Slovenia", "Europe/Ljubljana"),
    Zone("SK", "10YSK-SEPS-----K", "Slovakia", "Europe/Bratislava"),
)

# DE-AT-LU was one zone until 2018-09-30; it is known so that historical ENTSO-E documents parse,
# but it is not a zone anything trades today, so it is not in ZONE_CODES.
HISTORICAL_ZONES: tuple[Zone, ...] = (
    Zone("DE-AT-LU", "10Y1001A1001A63L", "Germany-Austria-Luxembourg (until 2018-09-30)", "Europe/Berlin"),
)

# The first moment (UTC) a historical zone no longer existed: DE-AT-LU split on 2018-10-01 00:00 CEST.
HISTORICAL_UNTIL: dict[str, datetime] = {"DE-AT-LU": datetime(2018, 9, 30, 22, 0, tzinfo=UTC)}

ZONES: dict[str, Zone] = {z.code: z for z in _ZONES}
ZONE_CODES: tuple[str, ...] = tuple(ZONES)
_BY_EIC: dict[str, Zone] = {z.eic: z for z in (*_ZONES, *HISTORICAL_ZONES)}

# Country codes and spellings that users and data files use for a zone. Input only: the zone code
# is what is stored and shown.
ALIASES: dict[str, str] = {
    "DE": "DE-LU",
    "LU": "DE-LU",
    "DE_LU": "DE-LU",
    "DELU": "DE-LU",
    "IT_NORD": "IT-NORD",
    "IT-NORTH": "IT-NORD",
    "ITNORD": "IT-NORD",
    "DK_1": "DK1",
    "DK_2": "DK2",
    "DK-1": "DK1",
    "DK-2": "DK2",
    "NO_2": "NO2",
    "SE_4": "SE4",
    "UK": "GB",
}


def zone_code(value: str) -> str:
    """Canonical zone code for a code, alias or EIC; raises UnknownZoneError naming the input."""
    if not isinstance(value, str):
        raise UnknownZoneError(value, list(ZONE_CODES))
    key = value.strip().upper()
    if key in ZONES:
        return key
    if key in ALIASES:
        return ALIASES[key]
    by_eic = _BY_EIC.get(value.strip())
    if by_eic is not None and by_eic.code in ZONES:
        return by_eic.code
    raise UnknownZoneError(value, list(ZONE_CODES))


def zone_code_at(value: str, at: datetime) -> str:
    """``zone_code``, also accepting a historical zone (by code or EIC) for a moment it existed."""
    if isinstance(value, str):
        key = value.strip().upper()
        by_eic = _BY_EIC.get(value.strip())
        code = by_eic.code if by_eic is not None else key
        until = HISTORICAL_UNTIL.get(code)
        if until is not None:
            if at < until:
                return code
            raise UnknownZoneError(f"{value} (existed until {until.date().isoformat()})", list(ZONE_CODES))
    return zone_code(value)


def distinct_zone_codes(values: list[str]) -> list[str]:
    """Canonical codes of a list of zones, refusing one zone named twice (also as an alias: DE, DE-LU)."""
    codes = [zone_code(v) for v in values]
    if len(set(codes)) != len(codes):
        raise ValueError(f"zones lists a zone twice: {codes}")
    return codes


def get_zone(value: str) -> Zone:
    return ZONES[zone_code(value)]


def zone_for_eic(eic: str) -> Zone:
    """The zone of an ENTSO-E EIC code, historical ones included."""
    try:
        return _BY_EIC[eic.strip()]
    except KeyError:
        raise UnknownZoneError(eic) from None


def pair_key(a: str, b: str) -> tuple[str, str]:
    """A pair of zones in one canonical (sorted) order, so (FR, DE-LU) and (DE-LU, FR) are one pair."""
    ca, cb = zone_code(a), zone_code(b)
    return (ca, cb) if ca <= cb else (cb, ca)


def pair_label(pair: tuple[str, str]) -> str:
    return f"{pair[0]}/{pair[1]}"


def parse_pair(text: str) -> tuple[str, str]:
    """Parse 'DE-LU/FR', 'DE-LU,FR' or the proof of concept's 'DE-FR' into a canonical pair.

    Zone codes contain hyphens (DE-LU, IT-NORD), so a hyphen-joined pair is split at the first
    hyphen whose two sides are both zones.
    """
    raw = text.strip()
    for sep in ("/", ",", ":", "_"):
        if sep in raw and sep != "_":
            left, _, right = raw.partition(sep)
            return _distinct_pair(left, right, text)
    parts = raw.split("-")
    for i in range(1, len(parts)):
        left, right = "-".join(parts[:i]), "-".join(parts[i:])
        try:
            return _distinct_pair(left, right, text)
        except UnknownZoneError:
            continue
    raise UnknownZoneError(text, list(ZONE_CODES))


def _distinct_pair(left: str, right: str, text: str) -> tuple[str, str]:
    pair = pair_key(left, right)
    if pair[0] == pair[1]:
        from inthegrid.errors import ValidationError

        raise ValidationError(f"pair {text!r} names the same zone twice")
    return pair
