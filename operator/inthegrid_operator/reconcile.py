"""Level-based reconciliation of one MarketFeed or ArbitrageRule: parse, render, adopt, apply, status.

Every call converges the children to the spec, whatever happened before (create, update, operator
restart), so the same function serves kopf's resume, create and update causes. Status is written
through kopf's ``patch`` only where it changed, so an unchanged resource is never touched.
"""

from __future__ import annotations

import logging
from typing import Any

import kopf

from inthegrid.domain.rules import parse_rule_spec
from inthegrid.errors import ValidationError
from inthegrid_operator import API_VERSION
from inthegrid_operator.kube import PLURALS, KubeApi, KubeError, as_kopf_error
from inthegrid_operator.metrics import RECONCILE_ERRORS, RECONCILES, timed_reconcile
from inthegrid_operator.render import (
    calculator_deployment_name,
    feed_deployment_name,
    render_calculator_deployment,
    render_feed_deployment,
    render_rule_configmap,
)
from inthegrid_operator.settings import OperatorSettings
from inthegrid_operator.specs import parse_feed_spec
from inthegrid_operator.status import (
    APPLIED,
    APPLY_FAILED,
    INVALID_SPEC,
    Outcome,
    Readiness,
    build_status,
    deployment_readiness,
    now_rfc3339,
    status_delta,
    with_readiness,
)

log = logging.getLogger(__name__)


def reconcile_marketfeed(api: KubeApi, settings: OperatorSettings, body: Any, patch: Any) -> None:
    name, namespace = body["metadata"]["name"], body["metadata"]["namespace"]
    deployment_name = feed_deployment_name(name)
    with timed_reconcile("MarketFeed"):
        try:
            spec = parse_feed_spec(dict(body.get("spec") or {}))
        except ValidationError as exc:
            _invalid("MarketFeed", body, patch, deployment_name, exc)
            return

        def children() -> tuple[dict[str, Any], str]:
            deployment = render_feed_deployment(name, namespace, spec, settings)
            kopf.adopt(deployment, owner=body)
            applied = api.apply(deployment)
            return applied, f"Deployment {deployment_name} applied"

        _converge("MarketFeed", body, patch, deployment_name, children)


def reconcile_arbitragerule(api: KubeApi, settings: OperatorSettings, body: Any, patch: Any) -> None:
    name, namespace = body["metadata"]["name"], body["metadata"]["namespace"]
    deployment_name = calculator_deployment_name(name)
    with timed_reconcile("ArbitrageRule"):
        raw = _plain(body.get("spec") or {})
        try:
            rule = parse_rule_spec(raw)
        except ValidationError as exc:
            _invalid("ArbitrageRule", body, patch, deployment_name, exc)
            return

        def children() -> tuple[dict[str, Any], str]:
            configmap = render_rule_configmap(name, namespace, raw)
            deployment = render_calculator_deployment(name, namespace, rule, configmap, settings)
            kopf.adopt([configmap, deployment], owner=body)
            api.apply(configmap)
            applied = api.apply(deployment)
            return (
                applied,
                f"ConfigMap {configmap['metadata']['name']} and Deployment {deployment_name} applied",
            )

        _converge("ArbitrageRule", body, patch, deployment_name, children)


def _converge(kind: str, body: Any, patch: Any, deployment_name: str, children: Any) -> None:
    previous = _plain(body.get("status") or {})
    generation = int(body["metadata"].get("generation") or 0)
    try:
        deployment, message = children()
    except KubeError as exc:
        error = as_kopf_error(exc)
        kind_of_error = "permanent" if isinstance(error, kopf.PermanentError) else "temporary"
        RECONCILES.labels(kind, "error").inc()
        RECONCILE_ERRORS.labels(kind, kind_of_error).inc()
        outcome = Outcome(False, APPLY_FAILED, str(exc)[:1000])
        _write_status(
            patch,
            previous,
            build_status(
                previous,
                generation=generation,
                deployment_name=deployment_name,
                outcome=outcome,
                readiness=Readiness(False, int(previous.get("readyReplicas") or 0), APPLY_FAILED, str(exc)),
                now=now_rfc3339(),
            ),
        )
        kopf.warn(body, reason=APPLY_FAILED, message=str(exc)[:1000])
        raise error from exc
    new = build_status(
        previous,
        generation=generation,
        deployment_name=deployment_name,
        outcome=Outcome(True, APPLIED, message),
        readiness=deployment_readiness(deployment),
        now=now_rfc3339(),
    )
    # An Event per handled generation, not per resume: a restart of the operator stays silent.
    if previous.get("observedGeneration") != generation:
        kopf.event(body, type="Normal", reason=APPLIED, message=message)
    _write_status(patch, previous, new)
    RECONCILES.labels(kind, "ok").inc()


def _invalid(kind: str, body: Any, patch: Any, deployment_name: str, exc: ValidationError) -> None:
    """A spec the schema let through but the domain refuses: say so in status, do not retry.

    The children keep running the last good spec; the next edit of the spec reconciles again.
    """
    previous = _plain(body.get("status") or {})
    generation = int(body["metadata"].get("generation") or 0)
    message = str(exc)[:1000]
    new = build_status(
        previous,
        generation=generation,
        deployment_name=deployment_name,
        outcome=Outcome(False, INVALID_SPEC, message),
        readiness=Readiness(False, int(previous.get("readyReplicas") or 0), INVALID_SPEC, message),
        now=now_rfc3339(),
    )
    if previous.get("observedGeneration") != generation:
        kopf.warn(body, reason=INVALID_SPEC, message=message)
    _write_status(patch, previous, new)
    RECONCILES.labels(kind, "invalid").inc()
    RECONCILE_ERRORS.labels(kind, "invalid_spec").inc()
    log.warning("%s %s/%s: %s", kind, body["metadata"]["namespace"], body["metadata"]["name"], message)


def _write_status(patch: Any, previous: dict[str, Any], new: dict[str, Any]) -> None:
    for key, value in status_delta(previous, new).items():
        patch.status[key] = value


def sync_parent_readiness(api: KubeApi, deployment: Any, deleted: bool) -> None:
    """A child Deployment changed: carry its readiness into its owner's Ready condition."""
    meta = deployment.get("metadata") or {}
    owner = next(
        (
            r
            for r in meta.get("ownerReferences") or []
            if r.get("controller") and r.get("apiVersion") == API_VERSION and r.get("kind") in PLURALS
        ),
        None,
    )
    if owner is None:
        return
    namespace = meta["namespace"]
    try:
        parent = api.read_resource(owner["kind"], namespace, owner["name"])
        if parent is None or parent["metadata"].get("uid") != owner.get("uid"):
            return
        previous = parent.get("status") or {}
        readiness = deployment_readiness(None if deleted else _plain(deployment))
        new = with_readiness(previous, readiness, now_rfc3339())
        if new is None:
            return
        delta = status_delta(previous, new)
        if delta:
            api.patch_status(owner["kind"], namespace, owner["name"], delta)
    except KubeError as exc:
        raise as_kopf_error(exc) from exc


def _plain(value: Any) -> Any:
    """kopf's read-only views -> plain dicts and lists (for pydantic, yaml and equality)."""
    if isinstance(value, dict) or hasattr(value, "items"):
        return {k: _plain(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [_plain(v) for v in value]
    return value
