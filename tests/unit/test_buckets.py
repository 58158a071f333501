"""Who changes a key-value bucket's replicas: only its owner, only upwards."""

import pytest

from inthegrid.platform.buckets import BUCKETS, FEEDS, RULES, ReplicasAction, replicas_action
from inthegrid.platform.bus import FEEDS_BUCKET, RULES_BUCKET


@pytest.mark.parametrize(
    ("have", "want", "owner", "action"),
    [
        (1, 3, True, ReplicasAction.RAISE),
        (1, 3, False, ReplicasAction.WARN),
        (3, 3, True, ReplicasAction.KEEP),
        (3, 3, False, ReplicasAction.KEEP),
        (3, 1, True, ReplicasAction.KEEP),  # never fewer: raised on purpose, or another service's setting
        (1, 1, False, ReplicasAction.KEEP),
    ],
)
def test_replicas_action(have: int, want: int, owner: bool, action: ReplicasAction) -> None:
    assert replicas_action(have, want, owner=owner) is action


def test_every_bucket_is_defined_once_with_its_stream_and_configured_replicas() -> None:
    assert [b.name for b in BUCKETS] == [RULES_BUCKET, FEEDS_BUCKET]
    assert RULES.stream == "KV_INTHEGRID_RULES" and FEEDS.stream == "KV_INTHEGRID_FEEDS"
    config = FEEDS.config(3)
    assert (config.bucket, config.history, config.replicas) == (FEEDS_BUCKET, 1, 3)
