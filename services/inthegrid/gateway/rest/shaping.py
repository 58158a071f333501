"""Laying out an answer's item as its response model defines it, without validating it per request.

The models in ``schemas`` are the one definition of each shape. Builders (live state, stored rows)
fill values; ``shaped`` puts them in the model's fields, in its order, with its defaults, so a live
and a stored answer of the same shape carry the same keys. Types are the builders' job and are
checked by the unit tests that validate real responses against the models; per-request validation
would cost more than the answers themselves on long histories.
"""

from __future__ import annotations

import copy
from collections.abc import Mapping
from typing import Any

from pydantic import BaseModel

from inthegrid.errors import InTheGridError

_Layout = tuple[frozenset[str], tuple[tuple[str, bool, Any], ...]]
_LAYOUTS: dict[type[BaseModel], _Layout] = {}


class ShapeError(InTheGridError, ValueError):
    """A builder filled a field its model does not define, or left out a required one (a bug)."""


def _layout(model: type[BaseModel]) -> _Layout:
    layout = _LAYOUTS.get(model)
    if layout is None:
        fields = tuple(
            (
                name,
                info.is_required(),
                None if info.is_required() else info.get_default(call_default_factory=True),
            )
            for name, info in model.model_fields.items()
        )
        layout = _LAYOUTS[model] = (frozenset(name for name, _, _ in fields), fields)
    return layout


def shaped(model: type[BaseModel], values: Mapping[str, Any]) -> dict[str, Any]:
    """``values`` as ``model`` lays them out (see the module's docstring)."""
    names, fields = _layout(model)
    unknown = values.keys() - names
    if unknown:
        raise ShapeError(f"{model.__name__} defines no field {sorted(unknown)}")
    out: dict[str, Any] = {}
    for name, required, default in fields:
        if name in values:
            out[name] = values[name]
        elif required:
            raise ShapeError(f"{model.__name__} requires {name!r}")
        else:
            # Defaults such as [] must not be shared between answers.
            out[name] = copy.copy(default) if isinstance(default, list | dict) else default
    return out
