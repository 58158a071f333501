"""Opportunity event messages on the bus: which subject and message id a batch of events goes out with
(contract in domain/event_batch_codec.py)."""

from __future__ import annotations

from collections.abc import Iterable

from inthegrid.domain.event_batch_codec import event_batch_message_id, group_event_batches
from inthegrid.domain.opportunities import OpportunityEvent
from inthegrid.platform.bus import opportunity_subject


def event_messages(rule: str, events: Iterable[OpportunityEvent]) -> list[tuple[str, bytes, str]]:
    """(subject, payload, message id) of the batches carrying ``events`` of rule ``rule`` (the name
    the subject is published under): one batch per pair, split where a batch would exceed a bound."""
    return [
        (opportunity_subject(rule, batch.events[0].pair), batch.payload, event_batch_message_id(batch.events))
        for batch in group_event_batches(events)
    ]
