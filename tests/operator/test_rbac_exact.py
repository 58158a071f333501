"""The operator's ServiceAccount can do exactly what the operator needs, nothing more.

The chart's RBAC, rendered by real helm, is installed in a real kube-apiserver; then
``kubectl auth can-i --list`` (SelfSubjectRulesReview) tells, per namespace, everything the
ServiceAccount may do. Any (apiGroup, resource, verb) outside the allow-list below fails the test,
and so does a missing one (the allow-list must stay the truth). Checked both ways the brief of a
cluster admin would: with the ServiceAccount's own token and by impersonation (``--as``).
"""

from __future__ import annotations

import re
import subprocess
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.operator.harness import CHART_RBAC, OPERATOR_NAMESPACE, OPERATOR_SA
from tests.support.envtest import EnvTest

Grant = tuple[str, str, str]  # (apiGroup, resource[/subresource], verb); "" is the core group

SA_USER = f"system:serviceaccount:{OPERATOR_NAMESPACE}:{OPERATOR_SA}"


def _grants(group: str, resources: list[str], verbs: list[str]) -> set[Grant]:
    return {(group, r, v) for r in resources for v in verbs}


#: What the operator needs, mirroring the chart's rules (charts/inthegrid/templates/operator-rbac.yaml).
OPERATOR_NEEDS: set[Grant] = (
    # Watch the custom resources; patch them (kopf keeps its progress in annotations).
    _grants("inthegrid.io", ["marketfeeds", "arbitragerules"], ["get", "list", "watch", "patch"])
    | _grants("inthegrid.io", ["marketfeeds/status", "arbitragerules/status"], ["get", "patch"])
    # Owner references with blockOwnerDeletion (OwnerReferencesPermissionEnforcement).
    | _grants("inthegrid.io", ["marketfeeds/finalizers", "arbitragerules/finalizers"], ["update"])
    # Children by server-side apply; a deleted resource's children go by garbage collection (owner
    # references); delete removes the calculator Deployments of a rule's old shard layout.
    | _grants("apps", ["deployments"], ["get", "list", "watch", "create", "patch", "delete"])
    | _grants("", ["configmaps"], ["get", "create", "patch"])
    | _grants("", ["events"], ["create"])
    | _grants("events.k8s.io", ["events"], ["create"])
)

#: Granted to EVERY authenticated user by Kubernetes' default ClusterRoles, not by our chart:
#: system:basic-user (self reviews: "who am I" and "what may I do", which this very test uses).
BUILT_IN_RESOURCES: set[Grant] = {
    ("authentication.k8s.io", "selfsubjectreviews", "create"),
    ("authorization.k8s.io", "selfsubjectaccessreviews", "create"),
    ("authorization.k8s.io", "selfsubjectrulesreviews", "create"),
}
#: Non-resource URLs readable by every authenticated user: API discovery (system:discovery), health
#: and version (system:public-info-viewer) and the token issuer's keys (system:service-account-issuer-discovery).
BUILT_IN_URLS: set[tuple[str, str]] = {
    (url, "get")
    for url in (
        "/api",
        "/api/*",
        "/apis",
        "/apis/*",
        "/openapi",
        "/openapi/*",
        "/version",
        "/version/",
        "/healthz",
        "/livez",
        "/readyz",
        "/.well-known/openid-configuration",
        "/.well-known/openid-configuration/",
        "/openid/v1/jwks",
        "/openid/v1/jwks/",
    )
}

#: Things that must never appear, named so a failure says why it matters.
FORBIDDEN: dict[Grant, str] = {
    ("", "secrets", "get"): "reading Secrets (API keys, database passwords)",
    ("", "secrets", "list"): "listing Secrets",
    ("", "secrets", "watch"): "watching Secrets",
    ("", "pods/exec", "create"): "running commands in any pod",
    ("", "pods", "create"): "starting arbitrary pods",
    ("apps", "deployments", "deletecollection"): "deleting every Deployment of a namespace at once",
    ("apps", "statefulsets", "delete"): "deleting workloads it does not run",
    ("rbac.authorization.k8s.io", "clusterroles", "escalate"): "escalating its own rights",
    ("rbac.authorization.k8s.io", "clusterrolebindings", "create"): "granting itself rights",
    ("", "serviceaccounts", "impersonate"): "impersonating other identities",
    ("", "serviceaccounts/token", "create"): "minting tokens for other identities",
}

LINE = re.compile(
    r"^(?P<resource>\S*)\s+\[(?P<urls>[^\]]*)\]\s+\[(?P<names>[^\]]*)\]\s+\[(?P<verbs>[^\]]*)\]\s*$"
)


def parse_can_i_list(text: str) -> tuple[set[Grant], set[tuple[str, str]]]:
    """``kubectl auth can-i --list`` (a table; kubectl has no JSON for it) as resource grants and URL grants.

    ``deployments.apps`` -> ("apps", "deployments"); ``marketfeeds.inthegrid.io/status`` ->
    ("inthegrid.io", "marketfeeds/status"); ``*.*`` -> ("*", "*"). Rules limited to resource names
    are kept with the names appended (``configmaps[one]``) so they can never pass as a plain grant.
    """
    resources: set[Grant] = set()
    urls: set[tuple[str, str]] = set()
    lines = text.strip().splitlines()
    assert lines and lines[0].split()[:1] == ["Resources"], f"unexpected can-i output:\n{text}"
    for line in lines[1:]:
        match = LINE.match(line)
        assert match, f"unparsed can-i line: {line!r}"
        verbs = match["verbs"].split()
        if match["urls"]:
            urls |= {(url, verb) for url in match["urls"].split() for verb in verbs}
            continue
        resource, _, sub = match["resource"].partition("/")
        name, _, group = resource.partition(".")
        full = f"{name}/{sub}" if sub else name
        if match["names"]:
            full += f"[{match['names']}]"
        resources |= {(group, full, verb) for verb in verbs}
    return resources, urls


def can_i_list(env: EnvTest, namespace: str, *, kubeconfig: Path | None = None) -> str:
    """What the operator's ServiceAccount may do in ``namespace``: its own token when ``kubeconfig``
    is given, else the admin impersonating it."""
    who = [] if kubeconfig else [f"--as={SA_USER}"]
    return str(env.kubectl("auth", "can-i", "--list", *who, "-n", namespace, kubeconfig=kubeconfig).stdout)


def assert_exactly(granted: set[Grant], urls: set[tuple[str, str]], allowed: set[Grant], where: str) -> None:
    dangerous = sorted(f"{g} ({FORBIDDEN[g]})" for g in granted if g in FORBIDDEN)
    wildcards = sorted(g for g in granted if "*" in g)
    extra = sorted(granted - allowed)
    missing = sorted(allowed - granted)
    assert not dangerous, f"{where}: dangerous rights: {dangerous}"
    assert not wildcards, f"{where}: wildcard grants: {wildcards}"
    assert not extra, f"{where}: rights beyond the allow-list: {extra}"
    assert not missing, (
        f"{where}: allow-list entries not granted (update the allow-list or the chart): {missing}"
    )
    assert urls == BUILT_IN_URLS, f"{where}: non-resource URLs differ: {sorted(urls ^ BUILT_IN_URLS)}"


@pytest.fixture(scope="module")
def other_namespaces(envtest: EnvTest) -> Iterator[list[str]]:
    """A tenant namespace the operator never deploys to, next to the built-in ones."""
    tenant = "rbac-exact-tenant"
    envtest.kubectl("create", "namespace", tenant)
    yield [tenant, "default", "kube-system"]
    envtest.kubectl("delete", "namespace", tenant, "--wait=false", check=False)


def test_cluster_wide_operator_has_exactly_the_allow_list_in_every_namespace(
    envtest: EnvTest, operator_kubeconfig: Path, other_namespaces: list[str]
) -> None:
    allowed = OPERATOR_NEEDS | BUILT_IN_RESOURCES
    for namespace in [OPERATOR_NAMESPACE, *other_namespaces]:
        for how, kubeconfig in (("token", operator_kubeconfig), ("--as", None)):
            granted, urls = parse_can_i_list(can_i_list(envtest, namespace, kubeconfig=kubeconfig))
            assert_exactly(granted, urls, allowed, f"namespace {namespace} ({how})")


def test_no_secret_or_exec_access_anywhere(envtest: EnvTest, operator_kubeconfig: Path) -> None:
    """The same question asked directly, across all namespaces (-A), for the worst cases."""
    for verb, resource, extra in [
        ("get", "secrets", []),
        ("list", "secrets", []),
        ("watch", "secrets", []),
        ("create", "pods", ["--subresource=exec"]),
        ("*", "*", []),
        ("delete", "statefulsets.apps", []),
        ("deletecollection", "deployments.apps", []),
        ("bind", "clusterroles.rbac.authorization.k8s.io", []),
    ]:
        out = envtest.kubectl("auth", "can-i", verb, resource, *extra, "-A", f"--as={SA_USER}", check=False)
        assert out.stdout.strip() == "no", f"the operator may {verb} {resource} {extra} cluster-wide"


def _helm_template(helm: Path, namespace: str, sa: str, watch: str) -> str:
    """The RBAC template alone, rendered by helm with ``operator.watchNamespace`` set."""
    import shutil
    import tempfile

    with tempfile.TemporaryDirectory() as tmp:
        chart = Path(tmp) / "rbac"
        (chart / "templates").mkdir(parents=True)
        (chart / "Chart.yaml").write_text("apiVersion: v2\nname: inthegrid\nversion: 0.0.0\n")
        shutil.copy(CHART_RBAC, chart / "templates" / CHART_RBAC.name)
        args = ["--set", f"operator.serviceAccountName={sa}", "--set", f"operator.watchNamespace={watch}"]
        cmd = [str(helm), "template", "scoped", str(chart), "--namespace", namespace, *args]
        return subprocess.run(cmd, capture_output=True, text=True, check=True, timeout=60).stdout


def test_namespace_scoped_operator_gets_rights_only_in_its_watched_namespace(
    envtest: EnvTest, operator_kubeconfig: Path, other_namespaces: list[str]
) -> None:
    from tests.operator.conftest import _helm

    assert envtest.bin_dir is not None
    helm = _helm(envtest.bin_dir)
    assert helm is not None  # operator_kubeconfig skipped already when helm is absent
    home, watched, sa = "rbac-scoped-system", "rbac-scoped-watched", "scoped-operator"
    for namespace in (home, watched):
        envtest.kubectl("create", "namespace", namespace)
    try:
        envtest.kubectl("apply", "-f", "-", input=_helm_template(helm, home, sa, watched))
        kubeconfig = envtest.kubeconfig_for_serviceaccount(home, sa)
        granted, urls = parse_can_i_list(can_i_list(envtest, watched, kubeconfig=kubeconfig))
        assert_exactly(granted, urls, OPERATOR_NEEDS | BUILT_IN_RESOURCES, f"watched namespace {watched}")
        for namespace in [home, *other_namespaces]:
            granted, urls = parse_can_i_list(can_i_list(envtest, namespace, kubeconfig=kubeconfig))
            assert_exactly(granted, urls, BUILT_IN_RESOURCES, f"unwatched namespace {namespace}")
    finally:
        for namespace in (home, watched):
            envtest.kubectl("delete", "namespace", namespace, "--wait=false", check=False)


def test_parser_reads_wildcards_subresources_and_resource_names() -> None:
    """The parser must not hide what it exists to find."""
    text = (
        "Resources                 Non-Resource URLs   Resource Names   Verbs\n"
        "*.*                       []                  []               [*]\n"
        "pods/exec                 []                  []               [create]\n"
        "configmaps                []                  [one two]        [get]\n"
        "marketfeeds.inthegrid.io/status []            []               [get patch]\n"
        "                          [/api /apis]        []               [get]\n"
    )
    granted, urls = parse_can_i_list(text)
    assert granted == {
        ("*", "*", "*"),
        ("", "pods/exec", "create"),
        ("", "configmaps[one two]", "get"),
        ("inthegrid.io", "marketfeeds/status", "get"),
        ("inthegrid.io", "marketfeeds/status", "patch"),
    }
    assert urls == {("/api", "get"), ("/apis", "get")}
    with pytest.raises(AssertionError, match="wildcard"):
        assert_exactly(granted - {("", "pods/exec", "create")}, BUILT_IN_URLS, granted, "example")
    with pytest.raises(AssertionError, match="dangerous"):
        assert_exactly(granted, BUILT_IN_URLS, granted, "example")
