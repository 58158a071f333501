"""The operator's only door to the API server: server-side apply, reads, status patches.

Idempotence lives here: children are written with server-side apply (create and update are one
call; applying the same object twice changes nothing), a missing object reads as None, and a status
patch of a resource deleted meanwhile (404) is success. Errors are classified at this edge into
kopf's temporary (retry later) and permanent (stop) errors.
"""

from __future__ import annotations

import json
import logging
from typing import Any
from urllib.parse import quote

import kopf
from kubernetes import client, config
from kubernetes.client.exceptions import ApiException

from inthegrid.errors import InTheGridError
from inthegrid_operator import FIELD_MANAGER, GROUP, VERSION

log = logging.getLogger(__name__)

_APPLY = "application/apply-patch+yaml"
_MERGE = "application/merge-patch+json"

PLURALS = {"MarketFeed": "marketfeeds", "ArbitrageRule": "arbitragerules"}


class KubeError(InTheGridError):
    """An API call that failed; ``status`` is the HTTP status (0 when there was no answer)."""

    def __init__(self, status: int, message: str) -> None:
        super().__init__(f"HTTP {status}: {message}" if status else message)
        self.status = status


def _path_of(obj: dict[str, Any]) -> str:
    """The REST path of a namespaced object of a kind this operator writes."""
    kind, meta = obj["kind"], obj["metadata"]
    ns, name = quote(meta["namespace"]), quote(meta["name"])
    if kind == "Deployment":
        return f"/apis/apps/v1/namespaces/{ns}/deployments/{name}"
    if kind == "ConfigMap":
        return f"/api/v1/namespaces/{ns}/configmaps/{name}"
    raise ValueError(f"the operator does not write {kind} objects")


class KubeApi:
    """A thin synchronous JSON client over the kubernetes package's configured connection."""

    def __init__(self, api_client: client.ApiClient) -> None:
        self._api = api_client

    @classmethod
    def from_environment(cls) -> KubeApi:
        """In a pod: the ServiceAccount; elsewhere: KUBECONFIG (as kubectl)."""
        configuration = client.Configuration()
        try:
            config.load_incluster_config(client_configuration=configuration)
        except config.ConfigException:
            config.load_kube_config(client_configuration=configuration)
        configuration.connection_pool_maxsize = 16
        return cls(client.ApiClient(configuration))

    def close(self) -> None:
        self._api.close()

    def request(
        self,
        method: str,
        path: str,
        body: Any = None,
        *,
        content_type: str = "application/json",
        query: list[tuple[str, str]] | None = None,
    ) -> dict[str, Any] | None:
        """One API call; returns the JSON body, None on 404, raises KubeError otherwise."""
        headers = {"Accept": "application/json", "Content-Type": content_type}
        method, url, headers, _, _ = self._api.param_serialize(
            method, path, query_params=query or [], header_params=headers, auth_settings=["BearerToken"]
        )
        raw: bytes
        try:
            # The kubernetes REST client serialises dict bodies as JSON (also for apply-patch+yaml).
            resp = self._api.call_api(method, url, headers, body, _request_timeout=(10, 30))
            raw = (resp.read() if hasattr(resp, "read") else resp.data) or b""
            status = resp.status
        except ApiException as exc:
            status, raw = int(exc.status or 0), (exc.body or "").encode()
        except Exception as exc:  # connection refused, TLS, timeouts: no HTTP answer at all
            raise KubeError(0, f"{method} {path}: {exc}") from exc
        if status == 404:
            return None
        if status >= 300:
            raise KubeError(status, f"{method} {path}: {_message_of(raw)}")
        return json.loads(raw) if raw else {}

    def apply(self, obj: dict[str, Any]) -> dict[str, Any]:
        """Server-side apply (creates or updates; a repeat with the same object is a no-op)."""
        query = [("fieldManager", FIELD_MANAGER), ("force", "true")]
        result = self.request("PATCH", _path_of(obj), obj, content_type=_APPLY, query=query)
        if result is None:  # 404 on apply: the namespace is gone; retrying later is all we can do
            raise KubeError(404, f"cannot apply {obj['kind']} {obj['metadata']['name']}: namespace missing?")
        return result

    def read_deployment(self, namespace: str, name: str) -> dict[str, Any] | None:
        return self.request("GET", f"/apis/apps/v1/namespaces/{quote(namespace)}/deployments/{quote(name)}")

    def list_deployments(self, namespace: str, selector: dict[str, str]) -> list[dict[str, Any]]:
        labels = ",".join(f"{k}={v}" for k, v in sorted(selector.items()))
        path = f"/apis/apps/v1/namespaces/{quote(namespace)}/deployments"
        result = self.request("GET", path, query=[("labelSelector", labels)])
        return list((result or {}).get("items") or [])

    def delete_deployment(self, namespace: str, name: str) -> None:
        """Delete a Deployment and, in the background, its pods; one already gone (404) is fine."""
        body = {"kind": "DeleteOptions", "apiVersion": "v1", "propagationPolicy": "Background"}
        self.request("DELETE", f"/apis/apps/v1/namespaces/{quote(namespace)}/deployments/{quote(name)}", body)

    def read_resource(self, kind: str, namespace: str, name: str) -> dict[str, Any] | None:
        return self.request("GET", _custom_path(kind, namespace, name))

    def patch_status(
        self, kind: str, namespace: str, name: str, status: dict[str, Any], resource_version: str
    ) -> None:
        """Merge-patch a custom resource's status subresource, only if the resource is still at
        ``resource_version`` (else HTTP 409: read again). A deleted resource (404) is fine."""
        body = {"metadata": {"resourceVersion": resource_version}, "status": status}
        self.request("PATCH", _custom_path(kind, namespace, name) + "/status", body, content_type=_MERGE)


def _custom_path(kind: str, namespace: str, name: str) -> str:
    return f"/apis/{GROUP}/{VERSION}/namespaces/{quote(namespace)}/{PLURALS[kind]}/{quote(name)}"


def _message_of(raw: bytes) -> str:
    try:
        return str(json.loads(raw).get("message", raw[:300]))
    except (ValueError, AttributeError):
        return raw[:300].decode("utf-8", "replace")


def as_kopf_error(exc: KubeError) -> kopf.TemporaryError | kopf.PermanentError:
    """Retry what time can fix (no answer, conflicts, throttling, server errors, RBAC being
    installed); stop on what it cannot (the API server refuses the object we rendered)."""
    if exc.status in (400, 422):
        return kopf.PermanentError(str(exc))
    delay = 60 if exc.status in (401, 403) else 10
    return kopf.TemporaryError(str(exc), delay=delay)
