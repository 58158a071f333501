"""One registry of price sources: every place that knows sources reads it, and an unknown name is an
error everywhere (never rendered or built as some other source)."""

from __future__ import annotations

from pathlib import Path

import pydantic
import pytest
import yaml

from inthegrid.cli import main
from inthegrid.domain.price_sources import SOURCE_DESCRIPTIONS, SOURCE_NAMES, SourceKind, source_kind
from inthegrid.errors import UnknownSourceError, ValidationError
from inthegrid.platform.settings import FeedSettings
from inthegrid.sources.base import PriceSource
from inthegrid.sources.registry import BUILDERS, build_source
from inthegrid_operator.render import SOURCE_ENV, render_feed_env
from inthegrid_operator.settings import OperatorSettings
from inthegrid_operator.specs import parse_feed_spec

ROOT = Path(__file__).parents[2]
PRICES = ROOT / "data" / "prices" / "day_ahead_prices_hourly_2020_2024_utc.csv.gz"


def test_names_are_read_case_insensitively_and_unknown_ones_are_refused() -> None:
    assert source_kind(" Replay ") is SourceKind.REPLAY
    assert source_kind(SourceKind.ENTSOE) is SourceKind.ENTSOE
    with pytest.raises(UnknownSourceError, match="unknown price source 'carrier-pigeon'; known sources: sim"):
        source_kind("carrier-pigeon")
    # a leaf of the error root that callers knowing only the builtins still catch
    assert issubclass(UnknownSourceError, ValidationError) and issubclass(UnknownSourceError, LookupError)


@pytest.mark.parametrize(
    ("table", "where"),
    [
        (BUILDERS, "sources.registry.BUILDERS"),
        (SOURCE_ENV, "operator render SOURCE_ENV"),
        (SOURCE_DESCRIPTIONS, "SOURCE_DESCRIPTIONS"),
    ],
)
def test_every_registered_source_is_known_to_each_place(table: object, where: str) -> None:
    assert set(table) == set(SourceKind), f"{where} must cover exactly {SOURCE_NAMES}"  # type: ignore[arg-type]


def test_settings_accept_registered_names_and_refuse_others() -> None:
    assert FeedSettings(feed_source="replay").feed_source is SourceKind.REPLAY
    with pytest.raises(pydantic.ValidationError, match="feed_source"):
        FeedSettings(feed_source="carrier-pigeon")


def _settings(source: str, **extra: object) -> FeedSettings:
    return FeedSettings.model_validate({"feed_source": source, "feed_zones": "DE-LU,FR", **extra})


@pytest.mark.parametrize(
    ("kind", "extra"),
    [
        (SourceKind.SIMULATOR, {}),
        (SourceKind.ENTSOE, {"entsoe_token": "not-a-real-token"}),
        (SourceKind.REPLAY, {"replay_path": PRICES, "replay_from": "2023-07-02", "replay_to": "2023-07-02"}),
    ],
)
def test_the_feed_builds_the_source_its_settings_name(kind: SourceKind, extra: dict[str, object]) -> None:
    source = build_source(_settings(kind.value, **extra))
    assert isinstance(source, PriceSource) and source.name == kind.value


def test_an_unregistered_source_is_an_error_not_a_fallback() -> None:
    # model_construct skips validation: what a caller that bypassed the settings would pass
    rogue = FeedSettings.model_construct(feed_source="carrier-pigeon")
    with pytest.raises(UnknownSourceError):
        build_source(rogue)
    spec = parse_feed_spec({"zones": ["DE", "FR"], "source": "replay", "replay": {"path": "/data/x.csv"}})
    rogue_spec = spec.model_copy(update={"source": "carrier-pigeon"})
    with pytest.raises(UnknownSourceError):
        render_feed_env("x", rogue_spec, OperatorSettings())


def test_the_operator_spec_refuses_an_unknown_source() -> None:
    with pytest.raises(ValidationError, match="source"):
        parse_feed_spec({"zones": ["DE"], "source": "carrier-pigeon"})


def test_the_committed_crd_enum_is_the_registry() -> None:
    for path in (ROOT / "charts/inthegrid/crds/marketfeeds.yaml", ROOT / "k8s/base/marketfeeds.yaml"):
        crd = yaml.safe_load(path.read_text())
        schema = crd["spec"]["versions"][0]["schema"]["openAPIV3Schema"]["properties"]["spec"]
        assert schema["properties"]["source"]["enum"] == list(SOURCE_NAMES), path
        # each source's settings block is in the CRD too
        assert set(SOURCE_NAMES) <= set(schema["properties"]), path


def test_the_feed_command_offers_exactly_the_registered_sources(capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(SystemExit) as exit_:
        main(["feed", "--source", "carrier-pigeon"])
    err = capsys.readouterr().err
    assert exit_.value.code == 2
    assert all(repr(name) in err for name in SOURCE_NAMES), err
