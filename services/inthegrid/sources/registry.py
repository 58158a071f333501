"""Which class builds each registered price source (domain.price_sources names them).

Builders import their source lazily, so a feed loads only what it runs (the ENTSO-E client pulls in
httpx, replay pulls in pandas). ``BUILDERS`` has one entry per ``SourceKind``: a unit test fails when a
source is registered in the domain but cannot be built here.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping

from inthegrid.domain.price_sources import SourceKind, source_kind
from inthegrid.platform.settings import FeedSettings
from inthegrid.sources.base import PriceSource

SourceBuilder = Callable[[FeedSettings], PriceSource]


def _simulator(settings: FeedSettings) -> PriceSource:
    from inthegrid.sources.simulator import SimulatorSource

    return SimulatorSource.from_settings(settings)


def _entsoe(settings: FeedSettings) -> PriceSource:
    from inthegrid.sources.entsoe import EntsoeSource

    return EntsoeSource.from_settings(settings)


def _replay(settings: FeedSettings) -> PriceSource:
    from inthegrid.sources.replay import ReplaySource

    return ReplaySource.from_settings(settings)


BUILDERS: Mapping[SourceKind, SourceBuilder] = {
    SourceKind.SIMULATOR: _simulator,
    SourceKind.ENTSOE: _entsoe,
    SourceKind.REPLAY: _replay,
}


def build_source(settings: FeedSettings) -> PriceSource:
    """The source a feed's settings name; UnknownSourceError for a name that is not registered."""
    return BUILDERS[source_kind(settings.feed_source)](settings)
