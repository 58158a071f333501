"""Arbitrage rules: which pairs to watch and how to price moving power between them.

``RuleSpec`` is the ``spec`` of an ArbitrageRule custom resource, field for field (camelCase, as
users write it); the operator, the calculator and the backtest all parse it with this model, so a
rule means the same thing everywhere. ``compile_rule`` turns it into routes per pair, once.
"""

from __future__ import annotations

from dataclasses import dataclass
from enum import StrEnum
from itertools import combinations
from typing import Annotated, Any

from pydantic import AfterValidator, BaseModel, ConfigDict, Field, field_validator, model_validator
from pydantic import ValidationError as PydanticError

from inthegrid.domain.grid import DEFAULT_GRID, BorderOverride, Grid, Route
from inthegrid.domain.prices import Market
from inthegrid.domain.zones import distinct_zone_codes, pair_key, pair_label, zone_code
from inthegrid.errors import NoPathError, ValidationError


class CostModelType(StrEnum):
    # The proof of concept's model: every pair treated as directly connected, one flat cost per pair.
    FLAT = "flat"
    # Real borders: per-hop transmission cost, loss factor, capacity and capacity price.
    BORDER = "border"


class PathMode(StrEnum):
    DIRECT = "direct"
    GRAPH = "graph"


class _Spec(BaseModel):
    model_config = ConfigDict(populate_by_name=True, extra="forbid", frozen=True)


class PairCost(_Spec):
    zones: list[str] = Field(min_length=2, max_length=2)
    cost_eur_per_mwh: float = Field(alias="costEurPerMWh", ge=0)

    @field_validator("zones")
    @classmethod
    def _zones(cls, v: list[str]) -> list[str]:
        return _distinct(v)


class BorderSpec(_Spec):
    zones: list[str] = Field(min_length=2, max_length=2)
    transmission_cost_eur_per_mwh: float | None = Field(None, alias="transmissionCostEurPerMWh", ge=0)
    loss_factor: float | None = Field(None, alias="lossFactor", ge=0, lt=1)
    capacity_mw: float | None = Field(None, alias="capacityMW", gt=0)
    capacity_price_eur_per_mwh: float | None = Field(None, alias="capacityPriceEurPerMWh", ge=0)

    @field_validator("zones")
    @classmethod
    def _zones(cls, v: list[str]) -> list[str]:
        return _distinct(v)


class CostModel(_Spec):
    type: CostModelType = CostModelType.FLAT
    flat_cost_eur_per_mwh: float = Field(2.5, alias="flatCostEurPerMWh", ge=0)
    pair_costs: list[PairCost] = Field(default_factory=list, alias="pairCosts")
    # The proof of concept had no capacity; profit per period in the flat model uses this many MW.
    capacity_mw: float = Field(1.0, alias="capacityMW", gt=0)
    borders: list[BorderSpec] = Field(default_factory=list)
    # With borders listed, routes use only those borders: a border the rule does not price would
    # otherwise look free and lossless and draw routes around the rule's own figures.
    allow_unpriced_borders: bool = Field(False, alias="allowUnpricedBorders")


class WebhookRef(_Spec):
    name: str
    key: str = "url"


class AlertSpec(_Spec):
    webhook_secret_ref: WebhookRef | None = Field(None, alias="webhookSecretRef")


class RuleSpec(_Spec):
    market: Market = Market.DAY_AHEAD
    zones: list[str] = Field(default_factory=list)
    pairs: list[Annotated[list[str], AfterValidator(lambda v: _distinct(v))]] = Field(default_factory=list)
    cost_model: CostModel = Field(default_factory=lambda: CostModel.model_validate({}), alias="costModel")
    paths: PathMode = PathMode.DIRECT
    max_hops: int = Field(3, alias="maxHops", ge=1, le=6)
    min_net_spread_eur_per_mwh: float = Field(0.0, alias="minNetSpreadEurPerMWh")
    min_profit_eur: float = Field(0.0, alias="minProfitEur", ge=0)
    alert: AlertSpec | None = None

    @field_validator("zones")
    @classmethod
    def _zones(cls, v: list[str]) -> list[str]:
        return distinct_zone_codes(v)

    @model_validator(mode="after")
    def _something_to_watch(self) -> RuleSpec:
        if not self.zones and not self.pairs:
            raise ValueError("a rule needs zones (every pair among them) or pairs")
        if self.cost_model.type is CostModelType.FLAT and self.paths is PathMode.GRAPH:
            raise ValueError(
                "paths=graph needs costModel.type=border (the flat model treats every pair as direct)"
            )
        return self

    def pair_keys(self) -> list[tuple[str, str]]:
        keys = {pair_key(a, b) for a, b in combinations(self.zones, 2)}
        keys.update(pair_key(p[0], p[1]) for p in self.pairs)
        return sorted(keys)


def _distinct(zones: list[str]) -> list[str]:
    if len(zones) != 2:
        raise ValueError(f"a pair has exactly two zones, got {zones}")
    codes = [zone_code(z) for z in zones]
    if codes[0] == codes[1]:
        raise ValueError(f"a pair needs two distinct zones, got {codes[0]} twice")
    return codes


def describe_spec_errors(exc: PydanticError) -> str:
    """pydantic's errors as 'spec.<field path>: <reason>', the way the API server names fields."""
    return "; ".join(
        f"spec.{'.'.join(str(p) for p in err['loc'])}: {err['msg']}".replace("spec.: ", "spec: ")
        for err in exc.errors()
    )


def parse_rule_spec(data: dict[str, Any]) -> RuleSpec:
    """Validate a rule spec; errors name the field (pydantic's loc) and the reason."""
    try:
        return RuleSpec.model_validate(data)
    except PydanticError as exc:
        raise ValidationError(f"invalid ArbitrageRule: {describe_spec_errors(exc)}") from None


def rule_from_manifest(manifest: dict[str, Any]) -> tuple[str, RuleSpec]:
    """(name, spec) from an ArbitrageRule manifest, as applied with kubectl."""
    if manifest.get("kind") != "ArbitrageRule":
        raise ValidationError(f"expected kind ArbitrageRule, got {manifest.get('kind')!r}")
    name = (manifest.get("metadata") or {}).get("name")
    if not name:
        raise ValidationError("metadata.name is required")
    return str(name), parse_rule_spec(manifest.get("spec") or {})


@dataclass(frozen=True, slots=True)
class PairModel:
    """Everything needed to value one pair: routes in both directions (best-first)."""

    pair: tuple[str, str]
    forward: tuple[Route, ...]  # pair[0] -> pair[1]
    backward: tuple[Route, ...]  # pair[1] -> pair[0]
    unreachable_reason: str | None = None

    @property
    def label(self) -> str:
        return pair_label(self.pair)


@dataclass(frozen=True, slots=True)
class CompiledRule:
    name: str
    spec: RuleSpec
    pairs: dict[tuple[str, str], PairModel]
    by_zone: dict[str, tuple[PairModel, ...]]
    grid: Grid = DEFAULT_GRID  # the real borders with the rule's own figures (the flat model: defaults)

    @property
    def market(self) -> Market:
        return self.spec.market

    @property
    def min_net(self) -> float:
        return self.spec.min_net_spread_eur_per_mwh

    @property
    def min_profit(self) -> float:
        return self.spec.min_profit_eur

    @property
    def zones(self) -> tuple[str, ...]:
        return tuple(sorted(self.by_zone))


def compile_rule(name: str, spec: RuleSpec, grid: Grid = DEFAULT_GRID) -> CompiledRule:
    cm = spec.cost_model
    pairs: dict[tuple[str, str], PairModel] = {}
    if cm.type is CostModelType.FLAT:
        overrides = {pair_key(*pc.zones): pc.cost_eur_per_mwh for pc in cm.pair_costs}
        for key in spec.pair_keys():
            cost = overrides.get(key, cm.flat_cost_eur_per_mwh)
            pairs[key] = PairModel(
                key,
                (Route(key, 1.0, cost, cm.capacity_mw, ()),),
                (Route((key[1], key[0]), 1.0, cost, cm.capacity_mw, ()),),
            )
    else:
        if cm.borders:
            grid = Grid.with_overrides(
                {
                    pair_key(*b.zones): BorderOverride(
                        b.transmission_cost_eur_per_mwh,
                        b.loss_factor,
                        b.capacity_mw,
                        b.capacity_price_eur_per_mwh,
                    )
                    for b in cm.borders
                },
                grid.borders,
            )
            if not cm.allow_unpriced_borders:
                listed = {pair_key(*b.zones) for b in cm.borders}
                grid = Grid(b for b in grid.borders if b.key in listed)
        for key in spec.pair_keys():
            try:
                if spec.paths is PathMode.DIRECT:
                    fwd: tuple[Route, ...] = (grid.direct_route(*key),)
                    bwd: tuple[Route, ...] = (grid.direct_route(key[1], key[0]),)
                else:
                    fwd = grid.routes(key[0], key[1], spec.max_hops)
                    bwd = grid.routes(key[1], key[0], spec.max_hops)
                pairs[key] = PairModel(key, fwd, bwd)
            except NoPathError as exc:
                pairs[key] = PairModel(key, (), (), str(exc))
    by_zone: dict[str, list[PairModel]] = {}
    for model in pairs.values():
        for zone in model.pair:
            by_zone.setdefault(zone, []).append(model)
    return CompiledRule(name, spec, pairs, {z: tuple(ms) for z, ms in by_zone.items()}, grid)


PROOF_OF_CONCEPT_ZONES = ("DE-LU", "FR", "NL", "BE", "AT")


def proof_of_concept_rule() -> CompiledRule:
    """The proof of concept's rule: all ten pairs of its five zones, flat 2.50 EUR/MWh, profitable only."""
    spec = RuleSpec.model_validate(
        {"zones": list(PROOF_OF_CONCEPT_ZONES), "costModel": {"type": "flat", "flatCostEurPerMWh": 2.5}}
    )
    return compile_rule("proof-of-concept", spec)
