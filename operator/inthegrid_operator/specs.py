"""What a MarketFeed's ``spec`` means, validated once for the operator (camelCase, as users write it).

The ArbitrageRule's spec is ``inthegrid.domain.rules.RuleSpec`` itself. Defaults here are read from
``FeedSettings`` so that a field left out of the spec means what the feed would do without it.
"""

from __future__ import annotations

from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field, field_validator, model_validator
from pydantic import ValidationError as PydanticError

from inthegrid.domain.price_sources import DEFAULT_SOURCE, SOURCE_NAMES, SourceKind
from inthegrid.domain.rules import describe_spec_errors
from inthegrid.domain.zones import distinct_zone_codes
from inthegrid.errors import ValidationError
from inthegrid.platform.settings import FeedSettings

# The CRD enum and the spec both read the domain's registry of sources (one list of names).
SOURCES: tuple[str, ...] = SOURCE_NAMES
RESOLUTIONS: tuple[str, ...] = ("PT15M", "PT60M")
# What a MarketFeed can publish and an ArbitrageRule watch: every market, the intraday auctions too.
MARKETS: tuple[str, ...] = ("day_ahead", "intraday", "ida1", "ida2", "ida3")
RULE_MARKETS = MARKETS


def _default(field: str) -> Any:
    return FeedSettings.model_fields[field].default


class _Spec(BaseModel):
    model_config = ConfigDict(populate_by_name=True, extra="forbid", frozen=True)


class SimulatorSpec(_Spec):
    seed: int = _default("simulator_seed")
    volatility: float = Field(default=_default("simulator_volatility"), ge=0, le=10)
    speed: float = Field(default=_default("simulator_speed"), gt=0)
    tick_seconds: float = Field(default=_default("simulator_tick_seconds"), alias="tickSeconds", gt=0)
    start: str | None = None


class SecretKeyRef(_Spec):
    name: str = Field(min_length=1)
    key: str = Field(default="token", min_length=1)


class EntsoeSpec(_Spec):
    token_secret_ref: SecretKeyRef | None = Field(default=None, alias="tokenSecretRef")
    base_url: str = Field(default=_default("entsoe_base_url"), alias="baseUrl")
    requests_per_minute: int = Field(
        default=_default("entsoe_requests_per_minute"), alias="requestsPerMinute", ge=1, le=399
    )


class ReplaySpec(_Spec):
    path: str | None = None
    speed: float = Field(default=_default("replay_speed"), gt=0)
    from_day: str | None = Field(default=None, alias="from")
    to_day: str | None = Field(default=None, alias="to")


class ResourcesSpec(_Spec):
    requests: dict[str, str | int] = Field(default_factory=dict)
    limits: dict[str, str | int] = Field(default_factory=dict)


class MarketFeedSpec(_Spec):
    zones: list[str] = Field(min_length=1)
    source: SourceKind = DEFAULT_SOURCE
    market: Literal["day_ahead", "intraday", "ida1", "ida2", "ida3"] = "day_ahead"
    resolution: Literal["PT15M", "PT60M"] = "PT15M"
    paused: bool = False
    simulator: SimulatorSpec = Field(default_factory=SimulatorSpec)
    entsoe: EntsoeSpec = Field(default_factory=EntsoeSpec)
    replay: ReplaySpec = Field(default_factory=ReplaySpec)
    resources: ResourcesSpec | None = None

    @field_validator("zones")
    @classmethod
    def _zones(cls, v: list[str]) -> list[str]:
        return distinct_zone_codes(v)

    @model_validator(mode="after")
    def _source_settings(self) -> MarketFeedSpec:
        if self.source is SourceKind.ENTSOE and self.entsoe.token_secret_ref is None:
            raise ValueError("source entsoe needs entsoe.tokenSecretRef (the Secret holding the token)")
        if self.source is SourceKind.REPLAY and not self.replay.path:
            raise ValueError("source replay needs replay.path (the dataset file in the image)")
        return self


def parse_feed_spec(data: dict[str, Any]) -> MarketFeedSpec:
    """Validate a MarketFeed spec; errors name the field (as parse_rule_spec does for rules)."""
    try:
        return MarketFeedSpec.model_validate(data)
    except PydanticError as exc:
        raise ValidationError(f"invalid MarketFeed: {describe_spec_errors(exc)}") from None
