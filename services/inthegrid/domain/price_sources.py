"""The registry of price sources a feed can run: every name in one place.

Settings, the ``feed`` command, the operator (spec, rendered env, CRD enum) and the feed's source
builder all read ``SourceKind``; adding a source means adding a member here, after which the
registry-completeness tests name every place that still has to learn it. An unknown name is an
``UnknownSourceError`` everywhere, never a silent fallback to another source.
"""

from __future__ import annotations

from enum import StrEnum

from inthegrid.errors import UnknownSourceError


class SourceKind(StrEnum):
    SIMULATOR = "simulator"
    ENTSOE = "entsoe"
    REPLAY = "replay"


DEFAULT_SOURCE = SourceKind.SIMULATOR

# What each source is, in the words the CRD, the CLI help and the docs use.
SOURCE_DESCRIPTIONS: dict[SourceKind, str] = {
    SourceKind.SIMULATOR: "synthetic prices from a seeded model (laptops, demos, tests)",
    SourceKind.ENTSOE: "day-ahead prices from the ENTSO-E Transparency Platform (needs a token)",
    SourceKind.REPLAY: "replay of a price table (CSV, CSV.gz or Parquet) at a chosen speed",
}

SOURCE_NAMES: tuple[str, ...] = tuple(kind.value for kind in SourceKind)


def source_kind(name: object) -> SourceKind:
    """The source called ``name`` (case and surrounding blanks ignored), or UnknownSourceError."""
    if isinstance(name, SourceKind):
        return name
    if isinstance(name, str) and name.strip().lower() in SOURCE_NAMES:
        return SourceKind(name.strip().lower())
    raise UnknownSourceError(name, list(SOURCE_NAMES))
