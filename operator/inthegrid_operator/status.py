"""Pure builders of a resource's status: observedGeneration, conditions, child Deployment readiness.

Conditions follow the Kubernetes convention (type, status, reason, message, lastTransitionTime,
observedGeneration); lastTransitionTime only moves when the status flips, so rebuilding an unchanged
status produces an identical dict and the operator writes nothing (idempotent restarts).
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass
from typing import Any

READY = "Ready"
RECONCILED = "Reconciled"

# Reasons (CamelCase, as Kubernetes reasons are).
APPLIED = "Applied"
INVALID_SPEC = "InvalidSpec"
APPLY_FAILED = "ApplyFailed"
DEPLOYMENT_READY = "DeploymentReady"
DEPLOYMENT_PROGRESSING = "DeploymentProgressing"
DEPLOYMENT_MISSING = "DeploymentMissing"


@dataclass(frozen=True, slots=True)
class Readiness:
    ready: bool
    ready_replicas: int
    reason: str
    message: str


@dataclass(frozen=True, slots=True)
class Outcome:
    """What the reconciler did: Reconciled's status, reason and message."""

    ok: bool
    reason: str
    message: str


def now_rfc3339() -> str:
    return dt.datetime.now(dt.UTC).replace(microsecond=0).strftime("%Y-%m-%dT%H:%M:%SZ")


def deployment_readiness(deployment: dict[str, Any] | None) -> Readiness:
    """Ready when the Deployment controller has seen the latest template and enough pods are ready."""
    if not deployment:
        return Readiness(False, 0, DEPLOYMENT_MISSING, "the Deployment does not exist yet")
    name = deployment.get("metadata", {}).get("name", "")
    want = int((deployment.get("spec") or {}).get("replicas", 1))
    st = deployment.get("status") or {}
    ready = int(st.get("readyReplicas") or 0)
    updated = int(st.get("updatedReplicas") or 0)
    seen = int(st.get("observedGeneration") or 0) >= int(
        deployment.get("metadata", {}).get("generation") or 0
    )
    if seen and ready >= want and updated >= want:
        return Readiness(
            True, ready, DEPLOYMENT_READY, f"Deployment {name} has {ready}/{want} ready replicas"
        )
    return Readiness(
        False,
        ready,
        DEPLOYMENT_PROGRESSING,
        f"Deployment {name} has {ready}/{want} ready replicas (updated {updated})",
    )


def deployments_readiness(deployments: dict[str, dict[str, Any] | None]) -> Readiness:
    """Readiness of a resource's child Deployments (by name; None = missing): one reads as before;
    several (a rule's shards) are Ready only when every one is, and the message says how many are."""
    if len(deployments) == 1:
        return deployment_readiness(next(iter(deployments.values())))
    each = [
        deployment_readiness(d) if d else Readiness(False, 0, DEPLOYMENT_MISSING, f"{n} does not exist yet")
        for n, d in deployments.items()
    ]
    ready = sum(r.ready for r in each)
    pods = sum(r.ready_replicas for r in each)
    if ready == len(each):
        return Readiness(True, pods, DEPLOYMENT_READY, f"{ready}/{len(each)} shard Deployments ready")
    missing = any(r.reason == DEPLOYMENT_MISSING for r in each)
    waiting = next(r.message for r in each if not r.ready)
    return Readiness(
        False,
        pods,
        DEPLOYMENT_MISSING if missing else DEPLOYMENT_PROGRESSING,
        f"{ready}/{len(each)} shard Deployments ready; first waiting: {waiting}",
    )


def build_condition(
    kind: str,
    ok: bool,
    reason: str,
    message: str,
    generation: int,
    previous: list[dict[str, Any]] | None,
    now: str,
) -> dict[str, Any]:
    status = "True" if ok else "False"
    old = next((c for c in previous or [] if c.get("type") == kind), None)
    since = (
        old["lastTransitionTime"]
        if old and old.get("status") == status and old.get("lastTransitionTime")
        else now
    )
    return {
        "type": kind,
        "status": status,
        "reason": reason,
        "message": message,
        "lastTransitionTime": since,
        "observedGeneration": generation,
    }


def build_status(
    previous: dict[str, Any] | None,
    *,
    generation: int,
    deployment_name: str,
    outcome: Outcome,
    readiness: Readiness,
    now: str,
) -> dict[str, Any]:
    """The whole status the operator owns. Ready is False while the spec is invalid, whatever runs."""
    prev = previous or {}
    conditions = prev.get("conditions") or []
    if outcome.ok:
        ready = build_condition(
            READY, readiness.ready, readiness.reason, readiness.message, generation, conditions, now
        )
    else:
        ready = build_condition(READY, False, outcome.reason, outcome.message, generation, conditions, now)
    reconciled = build_condition(
        RECONCILED, outcome.ok, outcome.reason, outcome.message, generation, conditions, now
    )
    return {
        "observedGeneration": generation,
        "deploymentName": deployment_name,
        "readyReplicas": readiness.ready_replicas,
        "conditions": [ready, reconciled],
    }


def with_readiness(previous: dict[str, Any] | None, readiness: Readiness, now: str) -> dict[str, Any] | None:
    """The status after the child Deployment changed, or None when the resource is not reconciled
    yet or its spec is invalid (the reconciler owns Ready then)."""
    prev = previous or {}
    conditions = prev.get("conditions") or []
    reconciled = next((c for c in conditions if c.get("type") == RECONCILED), None)
    if reconciled is None or reconciled.get("status") != "True":
        return None
    generation = int(prev.get("observedGeneration") or 0)
    ready = build_condition(
        READY, readiness.ready, readiness.reason, readiness.message, generation, conditions, now
    )
    return {**prev, "readyReplicas": readiness.ready_replicas, "conditions": [ready, reconciled]}


def status_delta(previous: dict[str, Any] | None, new: dict[str, Any]) -> dict[str, Any]:
    """The top-level status fields that changed (a merge patch); empty when nothing did."""
    prev = previous or {}
    return {k: v for k, v in new.items() if prev.get(k) != v}


def condition_of(status: dict[str, Any] | None, kind: str) -> dict[str, Any] | None:
    return next((c for c in (status or {}).get("conditions") or [] if c.get("type") == kind), None)
