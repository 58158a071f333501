"""ENTSO-E Transparency Platform source: transport (client), parsing (parse), timing (schedule)."""

from __future__ import annotations

from inthegrid.sources.entsoe.source import EntsoeSource

__all__ = ["EntsoeSource"]
