"""The one exception root of InTheGrid and its leaves.

Leaves also inherit the builtin they specialise (as nats.py does), so callers that only know
``ValueError`` or ``LookupError`` still catch them.
"""

from __future__ import annotations


class InTheGridError(Exception):
    """Root of every error raised on purpose by InTheGrid code."""


class ValidationError(InTheGridError, ValueError):
    """Input that breaks a documented rule; the message says which value and why."""


class UnknownZoneError(ValidationError, LookupError):
    def __init__(self, code: object, known: list[str] | None = None) -> None:
        self.code = code
        hint = f"; known zones: {', '.join(known)}" if known else ""
        super().__init__(f"unknown bidding zone {code!r}{hint}")


class UnknownSourceError(ValidationError, LookupError):
    def __init__(self, name: object, known: list[str] | None = None) -> None:
        self.name = name
        hint = f"; known sources: {', '.join(known)}" if known else ""
        super().__init__(f"unknown price source {name!r}{hint}")


class PriceOutOfRangeError(ValidationError):
    """A price outside the harmonised (or configured) clearing-price limits."""


class ImplausibleTimeError(ValidationError):
    """A delivery, publication or detection time outside the plausible window (domain.plausibility)."""


class DecodeError(ValidationError):
    """A bus message that cannot be turned into a domain object."""


class ConfigError(InTheGridError):
    """A setting or rule that cannot work; raised at start-up, never mid-stream."""


class NoPathError(InTheGridError, LookupError):
    """Two zones that no interconnector path joins within the hop limit."""


class SourceError(InTheGridError):
    """A price source (ENTSO-E, replay file, simulator) could not deliver."""


class NotPublishedYetError(SourceError):
    """The upstream answered that the requested prices do not exist yet."""
