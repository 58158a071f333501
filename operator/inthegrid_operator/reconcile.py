"""Level-based reconciliation of one MarketFeed or ArbitrageRule: parse, render, adopt, apply, status.

Every call converges the children to the spec, whatever happened before (create, update, operator
restart), so the same function serves kopf's resume, create and update causes.

Two writers share a resource's status: the reconciler (Reconciled, after applying children) and
the child-Deployment watcher (Ready). Both read the Deployment and the resource afresh and patch
with the resource's resourceVersion as a precondition, retrying on 409, so neither overwrites the
other's newer news; a status that would not change is not written at all (restarts touch nothing).
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from typing import Any

import kopf

from inthegrid.domain.rules import parse_rule_spec
from inthegrid.errors import ValidationError
from inthegrid_operator import API_VERSION
from inthegrid_operator.kube import PLURALS, KubeApi, KubeError, as_kopf_error
from inthegrid_operator.metrics import RECONCILE_ERRORS, RECONCILES, timed_reconcile
from inthegrid_operator.render import (
    CALCULATOR_COMPONENT,
    feed_deployment_name,
    render_feed_deployment,
    selector_labels,
)
from inthegrid_operator.render_calculator import (
    calculator_deployment_names,
    render_calculator_deployments,
    render_rule_configmap,
)
from inthegrid_operator.settings import OperatorSettings
from inthegrid_operator.specs import DEFAULT_REPLICAS, parse_feed_spec, split_rule_spec
from inthegrid_operator.status import (
    APPLIED,
    APPLY_FAILED,
    INVALID_SPEC,
    Outcome,
    Readiness,
    build_status,
    deployments_readiness,
    now_rfc3339,
    status_delta,
    with_readiness,
)

log = logging.getLogger(__name__)

# (status now, readiness of the child Deployments, their names) -> the new status (None = leave it).
StatusFn = Callable[[dict[str, Any], Readiness, str], "dict[str, Any] | None"]
STATUS_ATTEMPTS = 5


def reconcile_marketfeed(api: KubeApi, settings: OperatorSettings, body: Any) -> None:
    name, namespace = body["metadata"]["name"], body["metadata"]["namespace"]
    with timed_reconcile("MarketFeed"):
        try:
            spec = parse_feed_spec(_plain(body.get("spec") or {}))
        except ValidationError as exc:
            _invalid(api, "MarketFeed", body, exc)
            return

        def children() -> str:
            deployment = render_feed_deployment(name, namespace, spec, settings)
            kopf.adopt(deployment, owner=body)
            api.apply(deployment)
            return f"Deployment {deployment['metadata']['name']} applied"

        _converge(api, "MarketFeed", body, children)


def reconcile_arbitragerule(api: KubeApi, settings: OperatorSettings, body: Any) -> None:
    name, namespace = body["metadata"]["name"], body["metadata"]["namespace"]
    with timed_reconcile("ArbitrageRule"):
        try:
            raw, replicas = split_rule_spec(_plain(body.get("spec") or {}))
            rule = parse_rule_spec(raw)
        except ValidationError as exc:
            _invalid(api, "ArbitrageRule", body, exc)
            return

        def children() -> str:
            configmap = render_rule_configmap(name, namespace, raw)
            deployments = render_calculator_deployments(name, namespace, rule, configmap, settings, replicas)
            kopf.adopt([configmap, *deployments], owner=body)
            api.apply(configmap)
            for deployment in deployments:
                api.apply(deployment)
            # The new layout runs before the old one goes: shards and the single calculator are
            # distinct durable consumers publishing the same event ids, which the stream dedupes.
            wanted = {d["metadata"]["name"] for d in deployments}
            live = api.list_deployments(namespace, selector_labels(name, CALCULATOR_COMPONENT))
            stale = stale_deployments(live, body["metadata"].get("uid"), wanted)
            for old in stale:
                api.delete_deployment(namespace, old)
            applied = ", ".join(sorted(wanted))
            deleted = f"; deleted {', '.join(stale)}" if stale else ""
            return f"ConfigMap {configmap['metadata']['name']} and Deployment {applied} applied{deleted}"

        _converge(api, "ArbitrageRule", body, children)


def stale_deployments(live: list[dict[str, Any]], owner_uid: str | None, wanted: set[str]) -> list[str]:
    """Deployments this resource controls that its spec no longer asks for (an older shard layout);
    a Deployment of the same labels owned by anything else is not ours to delete."""
    out = []
    for deployment in live:
        meta = deployment.get("metadata") or {}
        controlled = any(
            r.get("controller") and r.get("uid") == owner_uid for r in meta.get("ownerReferences") or []
        )
        if controlled and owner_uid and meta.get("name") not in wanted:
            out.append(str(meta["name"]))
    return sorted(out)


def child_deployment_names(kind: str, resource: dict[str, Any]) -> list[str]:
    """The Deployments a resource's current spec runs (a rule: one per shard)."""
    name = resource["metadata"]["name"]
    if kind == "MarketFeed":
        return [feed_deployment_name(name)]
    try:
        _, replicas = split_rule_spec(resource.get("spec") or {})
    except ValidationError:
        replicas = DEFAULT_REPLICAS  # the reconciler reports the invalid spec
    return calculator_deployment_names(name, replicas)


def _converge(api: KubeApi, kind: str, body: Any, children: Callable[[], str]) -> None:
    generation = int(body["metadata"].get("generation") or 0)
    try:
        message = children()
        outcome = Outcome(True, APPLIED, message)
        _write_status(api, kind, body, _reconciled(generation, outcome))
    except KubeError as exc:
        error = as_kopf_error(exc)
        RECONCILES.labels(kind, "error").inc()
        RECONCILE_ERRORS.labels(
            kind, "permanent" if isinstance(error, kopf.PermanentError) else "temporary"
        ).inc()
        failed = Outcome(False, APPLY_FAILED, str(exc)[:1000])
        try:
            _write_status(api, kind, body, _reconciled(generation, failed))
        except KubeError:
            log.warning("%s %s: could not record the failure in status", kind, body["metadata"]["name"])
        kopf.warn(body, reason=APPLY_FAILED, message=failed.message)
        raise error from exc
    # An Event per handled generation, not per resume: a restart of the operator stays silent.
    if (body.get("status") or {}).get("observedGeneration") != generation:
        kopf.event(body, type="Normal", reason=APPLIED, message=message)
    RECONCILES.labels(kind, "ok").inc()


def _invalid(api: KubeApi, kind: str, body: Any, exc: ValidationError) -> None:
    """A spec the schema let through but the domain refuses: say so in status, do not retry.

    The children keep running the last good spec; the next edit of the spec reconciles again.
    """
    generation = int(body["metadata"].get("generation") or 0)
    outcome = Outcome(False, INVALID_SPEC, str(exc)[:1000])
    try:
        _write_status(api, kind, body, _reconciled(generation, outcome))
    except KubeError as error:
        raise as_kopf_error(error) from error
    if (body.get("status") or {}).get("observedGeneration") != generation:
        kopf.warn(body, reason=INVALID_SPEC, message=outcome.message)
    RECONCILES.labels(kind, "invalid").inc()
    RECONCILE_ERRORS.labels(kind, "invalid_spec").inc()
    log.warning(
        "%s %s/%s: %s", kind, body["metadata"]["namespace"], body["metadata"]["name"], outcome.message
    )


def _reconciled(generation: int, outcome: Outcome) -> StatusFn:
    def compute(previous: dict[str, Any], readiness: Readiness, deployment_name: str) -> dict[str, Any]:
        if not outcome.ok:  # Ready says why nothing new runs; keep the last known ready count
            readiness = Readiness(False, readiness.ready_replicas, outcome.reason, outcome.message)
        return build_status(
            previous,
            generation=generation,
            deployment_name=deployment_name,
            outcome=outcome,
            readiness=readiness,
            now=now_rfc3339(),
        )

    return compute


def _write_status(api: KubeApi, kind: str, body: Any, compute: StatusFn) -> None:
    """Read the resource and its Deployments, compute, patch only a change, retry on conflicts."""
    namespace, name = body["metadata"]["namespace"], body["metadata"]["name"]
    for _ in range(STATUS_ATTEMPTS):
        current = api.read_resource(kind, namespace, name)
        if current is None or current["metadata"].get("uid") != body["metadata"].get("uid"):
            return  # deleted (or deleted and re-created: that one has its own reconcile)
        names = child_deployment_names(kind, current)
        readiness = deployments_readiness({n: api.read_deployment(namespace, n) for n in names})
        previous = current.get("status") or {}
        new = compute(previous, readiness, ",".join(names))
        delta = status_delta(previous, new) if new is not None else {}
        if not delta:
            return
        try:
            api.patch_status(kind, namespace, name, delta, current["metadata"]["resourceVersion"])
            return
        except KubeError as exc:
            if exc.status != 409:
                raise
    raise KubeError(409, f"status of {kind} {namespace}/{name} kept changing; will retry")


def sync_parent_readiness(api: KubeApi, deployment: Any) -> None:
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
    parent_ref = {
        "metadata": {"namespace": meta["namespace"], "name": owner["name"], "uid": owner.get("uid")}
    }

    def compute(previous: dict[str, Any], readiness: Readiness, _names: str) -> dict[str, Any] | None:
        return with_readiness(previous, readiness, now_rfc3339())

    try:
        _write_status(api, owner["kind"], parent_ref, compute)
    except KubeError as exc:
        raise as_kopf_error(exc) from exc


def _plain(value: Any) -> Any:
    """kopf's read-only views -> plain dicts and lists (for pydantic, yaml and equality)."""
    if isinstance(value, dict) or hasattr(value, "items"):
        return {k: _plain(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [_plain(v) for v in value]
    return value
