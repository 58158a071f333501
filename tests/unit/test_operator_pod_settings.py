"""Pod settings the chart hands the operator (JSON env) reach every child pod; bad ones are refused
at start-up with the variable named."""

from __future__ import annotations

import pydantic
import pytest

from inthegrid_operator.render import render_feed_deployment, render_pod_placement
from inthegrid_operator.settings import OperatorSettings
from inthegrid_operator.specs import parse_feed_spec


def test_json_env_becomes_the_pod_placement(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("INTHEGRID_CHILD_IMAGE_PULL_SECRETS", '[{"name": "regcred"}]')
    monkeypatch.setenv("INTHEGRID_CHILD_NODE_SELECTOR", '{"pool": "grid"}')
    monkeypatch.setenv("INTHEGRID_CHILD_TOLERATIONS", '[{"key": "k", "operator": "Exists"}]')
    monkeypatch.setenv("INTHEGRID_CHILD_POD_LABELS", '{"team": "t", "app.kubernetes.io/instance": "x"}')
    settings = OperatorSettings()
    assert render_pod_placement(settings) == {
        "imagePullSecrets": [{"name": "regcred"}],
        "nodeSelector": {"pool": "grid"},
        "tolerations": [{"key": "k", "operator": "Exists"}],
    }
    feed = render_feed_deployment("sim", "ns", parse_feed_spec({"zones": ["DE"]}), settings)
    labels = feed["spec"]["template"]["metadata"]["labels"]
    assert labels["team"] == "t" and labels["app.kubernetes.io/instance"] == "sim"


def test_without_pod_settings_nothing_is_added() -> None:
    feed = render_feed_deployment("sim", "ns", parse_feed_spec({"zones": ["DE"]}), OperatorSettings())
    pod = feed["spec"]["template"]["spec"]
    assert not {"imagePullSecrets", "nodeSelector", "tolerations"} & set(pod)
    assert set(feed["spec"]["template"]["metadata"]["annotations"]) == {"inthegrid.io/config-hash"}


@pytest.mark.parametrize(
    ("name", "value"),
    [
        ("INTHEGRID_CHILD_IMAGE_PULL_SECRETS", '["regcred"]'),
        ("INTHEGRID_CHILD_IMAGE_PULL_SECRETS", '[{"name": ""}]'),
        ("INTHEGRID_CHILD_NODE_SELECTOR", "pool=grid"),
        ("INTHEGRID_CHILD_TOLERATIONS", '{"key": "k"}'),
    ],
)
def test_malformed_pod_settings_are_refused(name: str, value: str, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv(name, value)
    with pytest.raises(pydantic.ValidationError, match=name.removeprefix("INTHEGRID_").lower()):
        OperatorSettings()
