"""``inthegrid capacities``: publish capacities, exchanges and flows from files to NATS."""

from __future__ import annotations

import argparse
import asyncio
from pathlib import Path
from typing import Any

from inthegrid.commands import described, overrides

_OPTIONS = {"nats_url": "nats_url"}


def register(sub: Any) -> None:
    p = sub.add_parser(
        "capacities",
        help="publish border capacities, exchanges and flows (ENTSO-E XML, JAO CSV) to NATS",
        **described(
            "Publish ENTSO-E A61/A31/A09/A11 documents and JAO auction exports to the CAPACITIES stream, "
            "where calculators and the gateway pick them up.",
            "inthegrid capacities tests/fixtures/entsoe/emaps_ES_FR_capacity_day_ahead_export.xml",
        ),
    )
    p.add_argument("files", nargs="+", metavar="FILE", help="ENTSO-E XML documents or JAO export CSVs")
    p.add_argument("--nats-url", help="[INTHEGRID_NATS_URL]")
    p.set_defaults(handler=_run)


async def publish_capacity_files(files: list[str | Path], nats_url: str | None = None) -> tuple[int, int]:
    """Read every file first (a bad one publishes nothing), then publish; (stored, duplicates)."""
    from inthegrid.domain.capacity_codec import encode_quantity, quantity_message_id
    from inthegrid.platform.bus import capacity_subject, connect_bus, publish_all
    from inthegrid.platform.settings import CommonSettings
    from inthegrid.sources.capacities import read_capacity_file

    quantities = [q for path in files for q in read_capacity_file(path)]
    settings = CommonSettings.model_validate({"nats_url": nats_url} if nats_url else {})
    bus = await connect_bus(settings, "capacities-cli")
    try:
        return await publish_all(
            bus,
            [
                (
                    capacity_subject(q.kind.value, q.source, q.target),
                    encode_quantity(q),
                    quantity_message_id(q),
                )
                for q in quantities
            ],
        )
    finally:
        await bus.close()


def _run(args: argparse.Namespace) -> int:
    options = overrides(args, _OPTIONS)
    stored, duplicates = asyncio.run(publish_capacity_files(args.files, options.get("nats_url")))
    print(f"published {stored} figures ({duplicates} already on the bus)")
    return 0
