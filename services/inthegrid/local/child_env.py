"""What the launcher's child processes may see: each gets only the secrets its service reads."""

from __future__ import annotations

import typing

from pydantic import SecretStr
from pydantic_settings import BaseSettings

from inthegrid.platform.settings import (
    ENV_PREFIX,
    CalculatorSettings,
    DashboardSettings,
    FeedSettings,
    GatewaySettings,
    RecorderSettings,
)

# What each child runs: its settings class says which secrets it reads (each fact defined once).
SERVICE_SETTINGS: dict[str, type[BaseSettings]] = {
    "gateway": GatewaySettings,
    "recorder": RecorderSettings,
    "calculator": CalculatorSettings,
    "feed": FeedSettings,
}


def _holds_secret(annotation: object) -> bool:
    return annotation is SecretStr or any(_holds_secret(arg) for arg in typing.get_args(annotation))


def secret_variables(settings: type[BaseSettings]) -> frozenset[str]:
    """The environment variables of a settings class that hold secrets (its SecretStr fields)."""
    return frozenset(
        f"{ENV_PREFIX}{name.upper()}"
        for name, field in settings.model_fields.items()
        if _holds_secret(field.annotation)
    )


_EVERY_SETTINGS: list[type[BaseSettings]] = [*SERVICE_SETTINGS.values(), DashboardSettings]
ALL_SECRETS: frozenset[str] = frozenset().union(*(secret_variables(cls) for cls in _EVERY_SETTINGS))


def without_foreign_secrets(service: str, env: dict[str, str]) -> dict[str, str]:
    """A child's environment without the secrets its service never reads (API keys reach only the
    gateway, the ENTSO-E token only the feed, the database URL only the recorder and the gateway)."""
    foreign = ALL_SECRETS - secret_variables(SERVICE_SETTINGS[service])
    return {k: v for k, v in env.items() if k not in foreign}
