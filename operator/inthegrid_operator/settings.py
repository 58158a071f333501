"""The operator's own settings, from INTHEGRID_* environment variables (validated at start-up).

Platform settings that every child needs (image, NATS URL, default resources) live here, so one
Helm value changes them for every feed and calculator the operator runs.
"""

from __future__ import annotations

import json
from typing import Annotated, Any, Literal

from pydantic import BaseModel, ConfigDict, Field, field_validator
from pydantic_core import PydanticUseDefault
from pydantic_settings import BaseSettings, NoDecode, SettingsConfigDict

from inthegrid import __version__

# The image this release's chart installs (its appVersion equals the package version, tested).
DEFAULT_IMAGE = f"ghcr.io/inthegrid/inthegrid:{__version__}"


class PullSecretRef(BaseModel):
    """An imagePullSecrets entry, as Kubernetes writes it."""

    model_config = ConfigDict(extra="forbid", frozen=True)
    name: str = Field(min_length=1)


class OperatorSettings(BaseSettings):
    model_config = SettingsConfigDict(env_prefix="INTHEGRID_", extra="ignore", frozen=True)

    image: str = Field(default=DEFAULT_IMAGE, description="image of feeds and calculators")
    image_pull_policy: Literal["Always", "IfNotPresent", "Never"] = Field(
        default="IfNotPresent", description="imagePullPolicy of the children"
    )
    nats_url: str = Field(default="nats://nats:4222", description="NATS URL the children connect to")
    nats_secret_name: str | None = Field(
        default=None, description="Secret with keys user and password for NATS (none = no auth)"
    )
    nats_users_secret_name: str | None = Field(
        default=None,
        description="Secret with keys feed-password and calculator-password: children connect as the "
        "NATS user of their role (feed, calculator); takes precedence over nats_secret_name",
    )
    watch_namespace: str = Field(default="", description="namespace to watch; empty = all namespaces")
    operator_metrics_port: int = Field(
        default=9090, ge=0, le=65535, description="operator /metrics port (0 = off)"
    )
    operator_liveness_port: int = Field(
        default=8080, ge=1, le=65535, description="kopf liveness endpoint port"
    )
    default_cpu_request: str = Field(default="50m", description="children's CPU request unless the spec says")
    default_memory_request: str = Field(
        default="96Mi", description="children's memory request unless the spec says"
    )
    default_cpu_limit: str = Field(default="1", description="children's CPU limit unless the spec says")
    default_memory_limit: str = Field(
        default="384Mi", description="children's memory limit unless the spec says"
    )
    child_log_format: Literal["json", "text"] = Field(
        default="json", description="log format of the children"
    )
    service_account_name: str = Field(
        default="", description="ServiceAccount of the children (empty = default)"
    )

    # Pod settings of the children, as the chart passes them (JSON): they reach every feed and
    # calculator pod, so private registries, dedicated nodes and mesh annotations work for them too.
    child_image_pull_secrets: Annotated[list[PullSecretRef], NoDecode] = Field(
        default_factory=list, description='pull secrets of the children, JSON: [{"name": "regcred"}]'
    )
    child_node_selector: Annotated[dict[str, str], NoDecode] = Field(
        default_factory=dict, description="nodeSelector of the children's pods, JSON object"
    )
    child_tolerations: Annotated[list[dict[str, Any]], NoDecode] = Field(
        default_factory=list, description="tolerations of the children's pods, JSON list"
    )
    child_pod_annotations: Annotated[dict[str, str], NoDecode] = Field(
        default_factory=dict, description="annotations of the children's pods, JSON object"
    )
    child_pod_labels: Annotated[dict[str, str], NoDecode] = Field(
        default_factory=dict,
        description="extra labels of the children's pods, JSON object (the operator's own labels win)",
    )

    @field_validator(
        "child_image_pull_secrets",
        "child_node_selector",
        "child_tolerations",
        "child_pod_annotations",
        "child_pod_labels",
        mode="before",
    )
    @classmethod
    def _json(cls, value: Any) -> Any:
        # Decoded here rather than by pydantic-settings, so bad JSON is a validation error naming
        # the variable (one clear line from the CLI), not a settings-source crash.
        if isinstance(value, str):
            try:
                if not value.strip():
                    raise PydanticUseDefault  # an empty variable is an unset one
                return json.loads(value)
            except json.JSONDecodeError as exc:
                raise ValueError(f"not valid JSON ({exc.msg})") from None
        return value

    def default_resources(self) -> dict[str, dict[str, str]]:
        return {
            "requests": {"cpu": self.default_cpu_request, "memory": self.default_memory_request},
            "limits": {"cpu": self.default_cpu_limit, "memory": self.default_memory_limit},
        }
