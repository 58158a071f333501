"""kopf wiring only: which events call which reconciler. Run with ``inthegrid operator``."""

from __future__ import annotations

import logging
from typing import Any

import kopf
from prometheus_client import start_http_server

from inthegrid_operator import FIELD_MANAGER, GROUP, VERSION
from inthegrid_operator.kube import KubeApi
from inthegrid_operator.reconcile import reconcile_arbitragerule, reconcile_marketfeed, sync_parent_readiness
from inthegrid_operator.settings import OperatorSettings

CHILDREN = {"app.kubernetes.io/managed-by": FIELD_MANAGER}


@kopf.on.startup()
def configure(
    settings: kopf.OperatorSettings,
    memo: kopf.Memo,
    logger: logging.Logger | logging.LoggerAdapter[Any],
    **_: Any,
) -> None:
    # kopf's bookkeeping under our own group, not kopf.zalando.org.
    settings.persistence.progress_storage = kopf.AnnotationsProgressStorage(prefix=GROUP)
    settings.persistence.diffbase_storage = kopf.AnnotationsDiffBaseStorage(
        prefix=GROUP, key="last-handled-configuration"
    )
    settings.persistence.finalizer = f"{GROUP}/operator"
    # Events are for what the operator did (kopf.info/warn), not for every log line.
    settings.posting.level = logging.WARNING
    # No CRD or namespace discovery: the resources are known, and least privilege means no
    # cluster-wide read of CRDs and namespaces.
    settings.scanning.disabled = True
    settings.watching.server_timeout = 300
    settings.watching.client_timeout = 330
    operator_settings = OperatorSettings()
    memo.settings = operator_settings
    memo.kube = KubeApi.from_environment()
    if operator_settings.operator_metrics_port:
        start_http_server(operator_settings.operator_metrics_port)
    logger.info("image %s, NATS %s", operator_settings.image, operator_settings.nats_url)


@kopf.on.cleanup()
def close(memo: kopf.Memo, **_: Any) -> None:
    kube = getattr(memo, "kube", None)
    if kube is not None:
        kube.close()


@kopf.on.resume(GROUP, VERSION, "marketfeeds")
@kopf.on.create(GROUP, VERSION, "marketfeeds")
@kopf.on.update(GROUP, VERSION, "marketfeeds")
def marketfeed(body: kopf.Body, memo: kopf.Memo, **_: Any) -> None:
    reconcile_marketfeed(memo.kube, memo.settings, body)


@kopf.on.resume(GROUP, VERSION, "arbitragerules")
@kopf.on.create(GROUP, VERSION, "arbitragerules")
@kopf.on.update(GROUP, VERSION, "arbitragerules")
def arbitragerule(body: kopf.Body, memo: kopf.Memo, **_: Any) -> None:
    reconcile_arbitragerule(memo.kube, memo.settings, body)


@kopf.on.event("apps", "v1", "deployments", labels=CHILDREN)
def child_deployment(body: kopf.Body, memo: kopf.Memo, **_: Any) -> None:
    sync_parent_readiness(memo.kube, body)
