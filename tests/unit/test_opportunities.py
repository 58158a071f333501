from datetime import UTC, datetime

from inthegrid.domain.economics import is_opportunity, value_pair
from inthegrid.domain.opportunities import EventKind, OpportunityBook
from inthegrid.domain.prices import Market, Resolution
from inthegrid.domain.rules import proof_of_concept_rule

T = datetime(2025, 1, 1, 12, tzinfo=UTC)
NOW = datetime(2025, 1, 1, 11, tzinfo=UTC)
RULE = proof_of_concept_rule()
PAIR = ("DE-LU", "FR")


def _observe(book, a, b):
    value = value_pair(RULE.pairs[PAIR], a, b, 1.0)
    return book.observe(PAIR, T, Resolution.PT60M, value, is_opportunity(RULE, value), NOW)


def test_lifecycle_open_update_close_with_revisions():
    book = OpportunityBook(RULE.name, Market.DAY_AHEAD)
    assert _observe(book, 60, 61) is None  # below the 2.50 cost
    opened = _observe(book, 60, 80)
    assert opened.kind is EventKind.OPENED and opened.revision == 1
    assert _observe(book, 60, 80) is None  # unchanged: no event
    updated = _observe(book, 60, 85)
    assert updated.kind is EventKind.UPDATED and updated.revision == 2
    closed = _observe(book, 60, 60)
    assert closed.kind is EventKind.CLOSED and closed.revision == 3
    reopened = _observe(book, 50, 80)
    assert reopened.kind is EventKind.OPENED and reopened.revision == 4
    assert reopened.message_id == "opp:proof-of-concept/DE-LU/FR/day_ahead/20250101T1200Z/4"


def test_restored_book_continues_without_duplicates():
    first = OpportunityBook(RULE.name, Market.DAY_AHEAD)
    opened = _observe(first, 60, 80)
    second = OpportunityBook(RULE.name, Market.DAY_AHEAD)
    second.restore(opened)
    assert _observe(second, 60, 80) is None
    assert _observe(second, 60, 90).revision == 2


def test_forget_before_bounds_memory():
    book = OpportunityBook(RULE.name, Market.DAY_AHEAD)
    _observe(book, 60, 80)
    assert book.open_count() == 1
    assert book.forget_before(datetime(2025, 1, 2, tzinfo=UTC)) == 1
    assert book.open_count() == 0
