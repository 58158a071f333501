"""The CustomResourceDefinitions, generated from Python so enums cannot drift from the code.

``tools/render_crds.py`` writes them to charts/inthegrid/crds/; a unit test checks the committed
files equal what these functions return. The schemas reject what is wrong before the operator
sees it: enums (zones from ``inthegrid.domain.zones``), minimums, and CEL rules whose messages
name the field.
"""

from __future__ import annotations

from typing import Any

from inthegrid.domain.price_sources import DEFAULT_SOURCE, SOURCE_DESCRIPTIONS, SOURCE_NAMES
from inthegrid.domain.rules import CostModelType, PathMode
from inthegrid.domain.zones import ALIASES, ZONE_CODES
from inthegrid_operator import GROUP, VERSION
from inthegrid_operator.specs import MARKETS, RESOLUTIONS, RULE_MARKETS

# Canonical codes first, then the aliases RuleSpec and FeedSettings also accept (DE -> DE-LU).
ZONE_ENUM: list[str] = [*ZONE_CODES, *ALIASES]
MAX_NAME_LENGTH = 50
# A Kubernetes resource.Quantity (as in the core API's OpenAPI schema).
QUANTITY_PATTERN = (
    r"^(\+|-)?(([0-9]+(\.[0-9]*)?)|(\.[0-9]+))(([KMGTPE]i)|[nu"
    r"mkMGTPE]|([eE](\+|-)?(([0-9]+(\.[0-9]*)?)|(\.[0-9]+))))?$"
)  # children are "<name>-calculator" and carry the name as a label value (<= 63)


def _zone(
    description: str = "bidding zone code (e.g. DE-LU, FR); country aliases such as DE accepted",
) -> dict[str, Any]:
    return {"type": "string", "enum": ZONE_ENUM, "description": description}


def _zones(description: str, min_items: int = 0) -> dict[str, Any]:
    schema: dict[str, Any] = {
        "type": "array",
        "description": description,
        "items": _zone(),
        "maxItems": len(ZONE_ENUM),
        "x-kubernetes-list-type": "set",  # the API server refuses a zone listed twice
    }
    if min_items:
        schema["minItems"] = min_items
    return schema


def _pair(field: str) -> dict[str, Any]:
    return {
        "type": "array",
        "description": "two distinct zones",
        "items": _zone(),
        "minItems": 2,
        "maxItems": 2,
        "x-kubernetes-validations": [
            {
                "rule": "size(self) != 2 || self[0] != self[1]",
                "message": f"{field}: a pair needs two distinct zones",
            }
        ],
    }


def _number(
    description: str,
    *,
    minimum: float | None = None,
    exclusive: bool = False,
    maximum: float | None = None,
    exclusive_max: bool = False,
) -> dict[str, Any]:
    schema: dict[str, Any] = {"type": "number", "description": description}
    if minimum is not None:
        schema["minimum"] = minimum
        if exclusive:
            schema["exclusiveMinimum"] = True
    if maximum is not None:
        schema["maximum"] = maximum
        if exclusive_max:
            schema["exclusiveMaximum"] = True
    return schema


def _secret_ref(description: str, default_key: str) -> dict[str, Any]:
    return {
        "type": "object",
        "description": description,
        "required": ["name"],
        "properties": {
            "name": {"type": "string", "minLength": 1, "maxLength": 253, "description": "Secret name"},
            "key": {
                "type": "string",
                "minLength": 1,
                "description": f"key in the Secret (default {default_key})",
            },
        },
    }


def _quantities(description: str) -> dict[str, Any]:
    return {
        "type": "object",
        "description": description,
        "additionalProperties": {
            "anyOf": [{"type": "integer"}, {"type": "string"}],
            "x-kubernetes-int-or-string": True,
            "pattern": QUANTITY_PATTERN,
        },
    }


def status_schema() -> dict[str, Any]:
    condition = {
        "type": "object",
        "required": ["type", "status"],
        "properties": {
            "type": {"type": "string"},
            "status": {"type": "string", "enum": ["True", "False", "Unknown"]},
            "reason": {"type": "string"},
            "message": {"type": "string"},
            "lastTransitionTime": {"type": "string", "format": "date-time"},
            "observedGeneration": {"type": "integer", "minimum": 0},
        },
    }
    return {
        "type": "object",
        "description": "written by the operator",
        "properties": {
            "observedGeneration": {"type": "integer", "description": "the generation last reconciled"},
            "deploymentName": {"type": "string", "description": "the child Deployment"},
            "readyReplicas": {"type": "integer", "description": "ready replicas of the child Deployment"},
            "conditions": {
                "type": "array",
                "items": condition,
                "x-kubernetes-list-type": "map",
                "x-kubernetes-list-map-keys": ["type"],
            },
        },
    }


def _ready_columns() -> list[dict[str, Any]]:
    ready = '.status.conditions[?(@.type=="Ready")]'
    return [
        {"name": "Ready", "type": "string", "jsonPath": f"{ready}.status"},
        {"name": "Reason", "type": "string", "jsonPath": f"{ready}.reason", "priority": 1},
        {"name": "Deployment", "type": "string", "jsonPath": ".status.deploymentName", "priority": 1},
        {"name": "Age", "type": "date", "jsonPath": ".metadata.creationTimestamp"},
    ]


def _crd(
    kind: str, plural: str, short: str, spec: dict[str, Any], columns: list[dict[str, Any]], description: str
) -> dict[str, Any]:
    return {
        "apiVersion": "apiextensions.k8s.io/v1",
        "kind": "CustomResourceDefinition",
        "metadata": {"name": f"{plural}.{GROUP}", "labels": {"app.kubernetes.io/part-of": "inthegrid"}},
        "spec": {
            "group": GROUP,
            "scope": "Namespaced",
            "names": {
                "kind": kind,
                "listKind": f"{kind}List",
                "plural": plural,
                "singular": kind.lower(),
                "shortNames": [short],
                "categories": ["inthegrid"],
            },
            "versions": [
                {
                    "name": VERSION,
                    "served": True,
                    "storage": True,
                    "subresources": {"status": {}},
                    "additionalPrinterColumns": columns,
                    "schema": {
                        "openAPIV3Schema": {
                            "type": "object",
                            "description": description,
                            "required": ["spec"],
                            "x-kubernetes-validations": [
                                {
                                    "rule": f"self.metadata.name.size() <= {MAX_NAME_LENGTH}",
                                    "message": f"metadata.name must be at most {MAX_NAME_LENGTH} characters "
                                    "(it names and labels the children)",
                                }
                            ],
                            "properties": {
                                "apiVersion": {"type": "string"},
                                "kind": {"type": "string"},
                                "metadata": {"type": "object"},
                                "spec": spec,
                                "status": status_schema(),
                            },
                        }
                    },
                }
            ],
        },
    }


def marketfeed_spec_schema() -> dict[str, Any]:
    return {
        "type": "object",
        "description": "a feed of prices for some zones from one source (the spec of `inthegrid feed`)",
        "required": ["zones"],
        "properties": {
            "zones": _zones("zones the feed publishes", min_items=1),
            "source": {
                "type": "string",
                "enum": list(SOURCE_NAMES),
                "default": DEFAULT_SOURCE.value,
                "description": "where prices come from: "
                + "; ".join(f"{kind.value}, {text}" for kind, text in SOURCE_DESCRIPTIONS.items()),
            },
            "market": {"type": "string", "enum": list(MARKETS), "description": "market (default day_ahead)"},
            "resolution": {
                "type": "string",
                "enum": list(RESOLUTIONS),
                "description": "delivery period (default PT15M)",
            },
            "paused": {"type": "boolean", "description": "publish nothing while true"},
            "simulator": {
                "type": "object",
                "description": "settings of source simulator",
                "properties": {
                    "seed": {"type": "integer", "description": "same seed, same prices"},
                    "volatility": _number("scale of the randomness", minimum=0, maximum=10),
                    "speed": _number("simulated seconds per wall-clock second", minimum=0, exclusive=True),
                    "tickSeconds": _number("how often the simulator wakes, s", minimum=0, exclusive=True),
                    "start": {
                        "type": "string",
                        "format": "date-time",
                        "description": "start of simulated time (default: now)",
                    },
                },
            },
            "entsoe": {
                "type": "object",
                "description": "settings of source entsoe (ENTSO-E Transparency Platform)",
                "properties": {
                    "tokenSecretRef": _secret_ref("Secret holding the security token", "token"),
                    "baseUrl": {"type": "string", "pattern": "^https?://", "description": "API endpoint"},
                    "requestsPerMinute": {
                        "type": "integer",
                        "minimum": 1,
                        "maximum": 399,
                        "description": "client-side throttle (the limit is 400)",
                    },
                },
            },
            "replay": {
                "type": "object",
                "description": "settings of source replay (a price table shipped in the image)",
                "properties": {
                    "path": {"type": "string", "minLength": 1, "description": "dataset file in the image"},
                    "speed": _number("simulated seconds per second", minimum=0, exclusive=True),
                    "from": {"type": "string", "format": "date", "description": "first day replayed"},
                    "to": {"type": "string", "format": "date", "description": "last day replayed, inclusive"},
                },
            },
            "resources": {
                "type": "object",
                "description": "resources of the feed container (default: the operator's)",
                "properties": {"requests": _quantities("requests"), "limits": _quantities("limits")},
            },
        },
        "x-kubernetes-validations": [
            {
                "rule": "!has(self.source) || self.source != 'entsoe' || "
                "(has(self.entsoe) && has(self.entsoe.tokenSecretRef))",
                "message": "spec.entsoe.tokenSecretRef is required when spec.source is entsoe",
            },
            {
                "rule": "!has(self.source) || self.source != 'replay' || "
                "(has(self.replay) && has(self.replay.path))",
                "message": "spec.replay.path is required when spec.source is replay",
            },
        ],
    }


def arbitragerule_spec_schema() -> dict[str, Any]:
    """inthegrid.domain.rules.RuleSpec, field for field."""
    border = {
        "type": "object",
        "required": ["zones"],
        "properties": {
            "zones": _pair("spec.costModel.borders[].zones"),
            "transmissionCostEurPerMWh": _number("EUR/MWh per hop", minimum=0),
            "lossFactor": _number(
                "share of energy lost, 0 <= f < 1", minimum=0, maximum=1, exclusive_max=True
            ),
            "capacityMW": _number("capacity, MW", minimum=0, exclusive=True),
            "capacityPriceEurPerMWh": _number("explicit capacity price, EUR/MWh", minimum=0),
        },
    }
    pair_cost = {
        "type": "object",
        "required": ["zones", "costEurPerMWh"],
        "properties": {
            "zones": _pair("spec.costModel.pairCosts[].zones"),
            "costEurPerMWh": _number("cost of this pair, EUR/MWh", minimum=0),
        },
    }
    return {
        "type": "object",
        "description": "which pairs to watch and how to price moving power between them",
        "properties": {
            "market": {"type": "string", "enum": list(RULE_MARKETS), "description": "default day_ahead"},
            "zones": _zones("watch every pair among these zones"),
            "pairs": {"type": "array", "description": "watch these pairs", "items": _pair("spec.pairs[]")},
            "costModel": {
                "type": "object",
                "properties": {
                    "type": {
                        "type": "string",
                        "enum": [t.value for t in CostModelType],
                        "description": "flat (one cost per pair) or border (real interconnectors)",
                    },
                    "flatCostEurPerMWh": _number(
                        "flat model: cost per pair, EUR/MWh (default 2.5)", minimum=0
                    ),
                    "pairCosts": {"type": "array", "items": pair_cost, "description": "flat model overrides"},
                    "capacityMW": _number(
                        "flat model: MW per opportunity (default 1)", minimum=0, exclusive=True
                    ),
                    "borders": {"type": "array", "items": border, "description": "border model overrides"},
                    "allowUnpricedBorders": {
                        "type": "boolean",
                        "description": "border model: routes may also use borders not listed (default false)",
                    },
                },
            },
            "paths": {
                "type": "string",
                "enum": [p.value for p in PathMode],
                "description": "direct only, or through the interconnector graph",
            },
            "maxHops": {
                "type": "integer",
                "minimum": 1,
                "maximum": 6,
                "description": "graph paths: hop limit",
            },
            "minNetSpreadEurPerMWh": _number("smallest net spread reported, EUR/MWh"),
            "minProfitEur": _number("smallest profit per period reported, EUR", minimum=0),
            "alert": {
                "type": "object",
                "properties": {"webhookSecretRef": _secret_ref("Secret holding the webhook URL", "url")},
            },
        },
        "x-kubernetes-validations": [
            {
                "rule": "(has(self.zones) && size(self.zones) > 0) || "
                "(has(self.pairs) && size(self.pairs) > 0)",
                "message": "spec.zones or spec.pairs must name what to watch",
            },
            {
                "rule": "!has(self.paths) || self.paths != 'graph' || "
                "(has(self.costModel) && has(self.costModel.type) && self.costModel.type == 'border')",
                "message": "spec.paths graph needs spec.costModel.type border",
            },
        ],
    }


def render_marketfeed_crd() -> dict[str, Any]:
    columns = [
        {"name": "Zones", "type": "string", "jsonPath": ".spec.zones"},
        {"name": "Source", "type": "string", "jsonPath": ".spec.source"},
        *_ready_columns(),
    ]
    return _crd(
        "MarketFeed",
        "marketfeeds",
        "mf",
        marketfeed_spec_schema(),
        columns,
        "MarketFeed: the operator runs a feed Deployment publishing these zones' prices to NATS",
    )


def render_arbitragerule_crd() -> dict[str, Any]:
    columns = [
        {"name": "Zones", "type": "string", "jsonPath": ".spec.zones"},
        {"name": "Cost", "type": "string", "jsonPath": ".spec.costModel.type"},
        {"name": "Paths", "type": "string", "jsonPath": ".spec.paths"},
        *_ready_columns(),
    ]
    return _crd(
        "ArbitrageRule",
        "arbitragerules",
        "ar",
        arbitragerule_spec_schema(),
        columns,
        "ArbitrageRule: the operator runs a calculator Deployment detecting these opportunities",
    )


CRD_FILES = {"marketfeeds.yaml": render_marketfeed_crd, "arbitragerules.yaml": render_arbitragerule_crd}


def render_crd_yaml(render: Any) -> str:
    import yaml

    header = "# Generated by tools/render_crds.py from inthegrid_operator.crds: do not edit by hand.\n"
    return header + yaml.safe_dump(render(), sort_keys=False, width=120)
