"""Which durable price consumers a calculator deletes when its rule's shard layout changed."""

from datetime import UTC, datetime, timedelta

import pytest

from inthegrid.calculator.shard_consumers import (
    IDLE_SECONDS,
    durable_layout,
    durable_name,
    idle,
    stale_durables,
)

RECORDER = "recorder-prices"


def _layout(rule: str, shards: int) -> list[str]:
    return [durable_name(rule, i, shards) for i in range(shards)]


def test_three_shards_then_one_leaves_the_three_stale_and_nothing_else() -> None:
    existing = [*_layout("pl", 3), *_layout("pl", 1), *_layout("other", 3), RECORDER, "auth-x"]
    assert stale_durables(existing, "pl", 1) == _layout("pl", 3)


def test_one_then_three_leaves_the_unsharded_consumer_stale() -> None:
    existing = [*_layout("pl", 1), *_layout("pl", 3), *_layout("other", 1)]
    assert stale_durables(existing, "pl", 3) == ["calculator-pl"]


def test_the_current_layout_is_never_stale() -> None:
    for shards in (1, 2, 5):
        assert stale_durables(_layout("pl", shards), "pl", shards) == []


def test_a_rule_whose_name_extends_another_rules_is_not_mistaken_for_it() -> None:
    # "pl-eu" and "plx" start like "pl"'s durables but are other rules.
    existing = [*_layout("pl-eu", 1), *_layout("pl-eu", 2), "calculator-plx", "calculator-pl-shard-x-of-3"]
    assert stale_durables(existing, "pl", 1) == []


def test_a_name_that_is_also_another_running_rules_durable_is_left_alone() -> None:
    # Rule "pl-shard-0-of-3" unsharded has the durable of shard 0 of 3 of rule "pl".
    existing = ["calculator-pl-shard-0-of-3", "calculator-pl-shard-1-of-3"]
    assert stale_durables(existing, "pl", 1, other_rules=["pl-shard-0-of-3", "pl"]) == [
        "calculator-pl-shard-1-of-3"
    ]


@pytest.mark.parametrize(
    ("name", "layout"),
    [
        ("calculator-pl", (0, 1)),
        ("calculator-pl-shard-2-of-3", (2, 3)),
        ("calculator-pl-shard-3-of-3", None),  # no such shard
        ("calculator-pl-shard-0-of-1", None),  # an unsharded rule has no suffix
        ("calculator-pl-shard-01-of-3", None),  # never written with a leading zero
        ("calculator-pl-shard-0-of-65", None),  # more than MAX_SHARDS
        ("calculator-pl-shard-0-of-3-x", None),
        (RECORDER, None),
    ],
)
def test_durable_layout_parses_exactly_what_durable_name_writes(
    name: str, layout: tuple[int, int] | None
) -> None:
    assert durable_layout(name, "pl") == layout


def test_rule_names_are_made_subject_safe_the_same_way_as_the_consumers() -> None:
    assert durable_layout(durable_name("a.b/c", 1, 2), "a.b/c") == (1, 2)
    assert stale_durables([durable_name("a.b/c", 0, 2)], "a.b/c", 1) == [durable_name("a.b/c", 0, 2)]


NOW = datetime(2026, 12, 4, 12, 0, tzinfo=UTC)


def test_a_consumer_is_idle_only_without_waiting_pulls_and_recent_activity() -> None:
    long_ago, just_now = NOW - timedelta(minutes=5), NOW - timedelta(seconds=2)
    assert idle(0, [long_ago, None, long_ago], NOW)
    assert idle(0, [None], NOW)  # never delivered, no creation time known
    assert not idle(1, [long_ago], NOW)  # a pull request waiting: a pod reads it
    assert not idle(0, [long_ago, just_now, None], NOW)  # delivered or acked recently
    assert not idle(0, [just_now], NOW)  # just created: its pod may not have pulled yet
    assert idle(0, [NOW - timedelta(seconds=IDLE_SECONDS)], NOW)
    assert not idle(0, [(NOW - timedelta(seconds=2)).replace(tzinfo=None)], NOW)  # naive means UTC
