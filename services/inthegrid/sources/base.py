"""What every price source offers (checked by one shared contract test)."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from typing import Protocol, runtime_checkable

from inthegrid.domain.prices import Price


@runtime_checkable
class PriceSource(Protocol):
    name: str

    def batches(self, stop: asyncio.Event) -> AsyncIterator[list[Price]]:
        """Yield lists of prices as they become known; return when exhausted or stopped."""
        ...
