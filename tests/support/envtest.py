"""A real Kubernetes control plane for tests: etcd + kube-apiserver + kube-controller-manager.

What controller-runtime's "envtest" gives Go operators, in pure Python (stdlib + ``cryptography``).
The binaries are built from the Go module proxy by ``scripts/build-k8s-tools.sh`` into
``${INTHEGRID_TOOLS_DIR:-~/.cache/inthegrid/tools}/bin``; without them tests should skip::

    from tests.support.envtest import EnvTest, find_tools_bin_dir

    bin_dir, reason = find_tools_bin_dir()
    if bin_dir is None:
        pytest.skip(reason)
    with EnvTest(bin_dir) as env:
        env.kubectl("create", "namespace", "demo")
        kubeconfig = env.kubeconfig_for_serviceaccount("demo", "operator")

The API server enforces RBAC, authenticates a static admin token (group ``system:masters``) and
ServiceAccount tokens (TokenRequest API). The controller manager runs garbage collection, namespace
deletion, Deployments/ReplicaSets/StatefulSets/..., ServiceAccounts and ClusterRole aggregation.
There is no scheduler and no kubelet: Pods stay Pending, so Deployments never become Available on
their own (patch ``status`` through the status subresource when a test needs that).

Environment:
    INTHEGRID_ENVTEST_BIN_DIR   directory with etcd, kube-apiserver, kube-controller-manager
                                (default: <tools dir>/bin)
    INTHEGRID_TOOLS_DIR         tools dir of scripts/build-k8s-tools.sh
                                (default: ~/.cache/inthegrid/tools)
    INTHEGRID_KUBECTL           kubectl to use (default: PATH, then <bin dir>/kubectl)
    INTHEGRID_ENVTEST_KEEP=1    keep the temp dir (logs, certs, kubeconfigs) after stop()
"""

from __future__ import annotations

import atexit
import contextlib
import json
import os
import secrets
import shutil
import signal
import socket
import ssl
import subprocess
import sys
import tempfile
import threading
import time
import urllib.error
import urllib.request
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any, TypeVar

from tests.support.envtest_pki import kubeconfig_yaml, make_pki, write_private

__all__ = [
    "DEFAULT_CONTROLLERS",
    "ENABLE_HINT",
    "EnvTest",
    "EnvTestError",
    "KubectlError",
    "default_tools_dir",
    "find_kubectl",
    "find_tools_bin_dir",
]

ENABLE_HINT = "to enable: run scripts/build-k8s-tools.sh (needs Go >= 1.26; ~7 min cold on 2 cores)"

#: Binaries EnvTest needs (kubectl is looked up separately, PATH first).
REQUIRED_BINARIES = ("etcd", "kube-apiserver", "kube-controller-manager")

#: Controllers kube-controller-manager runs by default (1.33 names).
DEFAULT_CONTROLLERS = (
    "garbage-collector-controller",
    "namespace-controller",
    "deployment-controller",
    "replicaset-controller",
    "statefulset-controller",
    "daemonset-controller",
    "job-controller",
    "cronjob-controller",
    "serviceaccount-controller",
    "serviceaccount-token-controller",
    "root-ca-certificate-publisher-controller",
    "clusterrole-aggregation-controller",
    "endpoints-controller",
    "endpointslice-controller",
)

SERVICE_CLUSTER_IP_RANGE = "10.0.0.0/24"
_ISSUER = "https://kubernetes.default.svc.cluster.local"

T = TypeVar("T")


class EnvTestError(RuntimeError):
    """The control plane could not be started (or a wait timed out)."""


class KubectlError(subprocess.CalledProcessError):
    """kubectl exited non-zero; str() includes its stderr."""

    def __str__(self) -> str:
        cmd = " ".join(str(c) for c in self.cmd)
        return f"kubectl failed (exit {self.returncode}): {cmd}\nstdout: {self.stdout}\nstderr: {self.stderr}"


# --------------------------------------------------------------------------------------------
# Finding the binaries


def default_tools_dir() -> Path:
    """The tools dir of scripts/build-k8s-tools.sh."""
    env = os.environ.get("INTHEGRID_TOOLS_DIR")
    return Path(env).expanduser() if env else Path.home() / ".cache" / "inthegrid" / "tools"


def find_kubectl(bin_dir: str | os.PathLike[str] | None = None) -> Path | None:
    """$INTHEGRID_KUBECTL if set, else kubectl from PATH (e.g. /usr/bin/kubectl), else the one
    scripts/build-k8s-tools.sh built into ``bin_dir`` / <tools dir>/bin."""
    override = os.environ.get("INTHEGRID_KUBECTL")
    if override:
        return Path(override) if _is_executable(Path(override)) else None
    found = shutil.which("kubectl")
    if found:
        return Path(found)
    for d in (bin_dir, default_tools_dir() / "bin"):
        if d is not None:
            p = Path(d) / "kubectl"
            if p.is_file() and os.access(p, os.X_OK):
                return p
    return None


def find_tools_bin_dir(required: Sequence[str] = REQUIRED_BINARIES) -> tuple[Path | None, str]:
    """Return ``(bin_dir, "")`` when all ``required`` binaries and a kubectl are found,
    else ``(None, reason)`` where reason says what is missing and how to enable
    (suitable for ``pytest.skip(reason)``)."""
    explicit = os.environ.get("INTHEGRID_ENVTEST_BIN_DIR")
    bin_dir = Path(explicit).expanduser() if explicit else default_tools_dir() / "bin"
    missing = [n for n in required if not _is_executable(bin_dir / n)]
    if missing:
        return None, f"envtest: {', '.join(missing)} not found in {bin_dir}; {ENABLE_HINT}"
    if find_kubectl(bin_dir) is None:
        return None, f"envtest: kubectl neither on PATH nor in {bin_dir}; {ENABLE_HINT}"
    return bin_dir, ""


def _is_executable(p: Path) -> bool:
    return p.is_file() and os.access(p, os.X_OK)


# --------------------------------------------------------------------------------------------
# Small helpers


def _free_ports(n: int) -> list[int]:
    socks = []
    try:
        for _ in range(n):
            s = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
            s.bind(("127.0.0.1", 0))
            socks.append(s)
        return [s.getsockname()[1] for s in socks]
    finally:
        for s in socks:
            s.close()


def _tail(path: Path, lines: int = 40) -> str:
    try:
        with open(path, "rb") as f:
            f.seek(0, os.SEEK_END)
            f.seek(max(0, f.tell() - 64 * 1024))
            data = f.read().decode("utf-8", "replace")
    except OSError:
        return ""
    return "\n".join(data.splitlines()[-lines:])


def _set_pdeathsig() -> None:  # runs in the child between fork and exec (Linux only)
    with contextlib.suppress(Exception):  # best effort
        import ctypes

        libc = ctypes.CDLL(None, use_errno=True)
        libc.prctl(1, signal.SIGKILL)  # PR_SET_PDEATHSIG


class EnvTest:
    """etcd + kube-apiserver (+ kube-controller-manager) as local processes.

    After :meth:`start`: ``server`` (https URL), ``admin_kubeconfig``, ``ca_path``, ``admin_token``,
    ``dir`` (temp dir with logs/, certs, kubeconfigs), ``etcd_url``, ``kubectl_path``,
    ``startup_seconds``.
    """

    def __init__(
        self,
        bin_dir: str | os.PathLike[str] | None = None,
        *,
        controller_manager: bool = True,
        controllers: Sequence[str] | None = None,
        start_timeout: float = 90.0,
        extra_apiserver_args: Sequence[str] = (),
        extra_controller_manager_args: Sequence[str] = (),
        keep_dir: bool | None = None,
    ) -> None:
        self._bin_dir_arg = Path(bin_dir) if bin_dir is not None else None
        self.controller_manager = controller_manager
        self.controllers = tuple(controllers) if controllers is not None else DEFAULT_CONTROLLERS
        self.start_timeout = start_timeout
        self.extra_apiserver_args = list(extra_apiserver_args)
        self.extra_controller_manager_args = list(extra_controller_manager_args)
        self.keep_dir = keep_dir if keep_dir is not None else os.environ.get("INTHEGRID_ENVTEST_KEEP") == "1"

        self.bin_dir: Path | None = None
        self.kubectl_path: Path | None = None
        self.dir: Path | None = None
        self.server: str = ""
        self.etcd_url: str = ""
        self.admin_kubeconfig: Path | None = None
        self.ca_path: Path | None = None
        self.admin_token: str = ""
        self.startup_seconds: float | None = None

        self._procs: list[tuple[str, subprocess.Popen[bytes]]] = []
        self._logs: dict[str, Path] = {}
        self._ssl: ssl.SSLContext | None = None
        self._opener = urllib.request.build_opener(urllib.request.ProxyHandler({}))
        self._lock = threading.Lock()

    # -- lifecycle ---------------------------------------------------------------------------

    def __enter__(self) -> EnvTest:
        self.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self.stop()

    def start(self) -> EnvTest:
        """Start etcd, kube-apiserver and (optionally) kube-controller-manager; block until the
        API server's /readyz is ok (and the ``default`` ServiceAccount exists when the
        serviceaccount controller runs). Raises EnvTestError with log tails on failure."""
        with self._lock:
            if self._procs:
                raise EnvTestError("EnvTest already started")
            t0 = time.monotonic()
            self._resolve_binaries()
            self.dir = Path(tempfile.mkdtemp(prefix="inthegrid-envtest-"))
            atexit.register(self.stop)
            try:
                self._start()
            except BaseException:
                self._stop_locked()
                raise
            self.startup_seconds = time.monotonic() - t0
            return self

    def stop(self) -> None:
        """Terminate all processes (SIGTERM, then SIGKILL after 10 s) and remove the temp dir
        (kept when keep_dir / INTHEGRID_ENVTEST_KEEP=1). Safe to call twice."""
        with self._lock:
            self._stop_locked()

    def _stop_locked(self) -> None:
        procs, self._procs = self._procs, []
        for _, p in reversed(procs):
            if p.poll() is None:
                with contextlib.suppress(ProcessLookupError):
                    p.send_signal(signal.SIGTERM)
        for _, p in reversed(procs):
            try:
                p.wait(timeout=10)
            except subprocess.TimeoutExpired:
                with contextlib.suppress(ProcessLookupError):
                    p.kill()
                p.wait(timeout=10)
        if self.dir is not None:
            if self.keep_dir:
                print(f"envtest: kept {self.dir}", file=sys.stderr)
            else:
                shutil.rmtree(self.dir, ignore_errors=True)
            self.dir = None
        with contextlib.suppress(Exception):
            atexit.unregister(self.stop)

    def _resolve_binaries(self) -> None:
        if self._bin_dir_arg is not None:
            bin_dir = self._bin_dir_arg
            missing = [n for n in self._required() if not _is_executable(bin_dir / n)]
            if missing:
                raise EnvTestError(f"{', '.join(missing)} not found in {bin_dir}; {ENABLE_HINT}")
        else:
            found, reason = find_tools_bin_dir(self._required())
            if found is None:
                raise EnvTestError(reason)
            bin_dir = found
        kubectl = find_kubectl(bin_dir)
        if kubectl is None:
            raise EnvTestError(f"kubectl neither on PATH nor in {bin_dir}; {ENABLE_HINT}")
        self.bin_dir, self.kubectl_path = bin_dir, kubectl

    def _required(self) -> tuple[str, ...]:
        return REQUIRED_BINARIES if self.controller_manager else ("etcd", "kube-apiserver")

    def _start(self) -> None:
        assert self.dir is not None and self.bin_dir is not None
        d = self.dir
        (d / "logs").mkdir()
        deadline = time.monotonic() + self.start_timeout

        pki = make_pki(d)
        self.ca_path = pki["ca"]
        ca_pem = self.ca_path.read_bytes()
        self._ssl = ssl.create_default_context(cafile=str(self.ca_path))
        self.admin_token = secrets.token_hex(24)
        tokens = d / "tokens.csv"
        write_private(tokens, f'{self.admin_token},admin,admin-uid,"system:masters"\n')

        etcd_port, peer_port, api_port = _free_ports(3)
        self.etcd_url = f"http://127.0.0.1:{etcd_port}"
        peer_url = f"http://127.0.0.1:{peer_port}"
        self.server = f"https://127.0.0.1:{api_port}"

        self._spawn(
            "etcd",
            [
                "--name=envtest",
                f"--data-dir={d / 'etcd'}",
                f"--listen-client-urls={self.etcd_url}",
                f"--advertise-client-urls={self.etcd_url}",
                f"--listen-peer-urls={peer_url}",
                f"--initial-advertise-peer-urls={peer_url}",
                f"--initial-cluster=envtest={peer_url}",
                "--unsafe-no-fsync",
                "--log-level=warn",
            ],
        )
        self._wait(lambda: self._http_ok(f"{self.etcd_url}/health", tls=False), deadline, "etcd /health")

        admission = []
        if not (self.controller_manager and "serviceaccount-controller" in self.controllers):
            # Without the controller creating `default` ServiceAccounts, Pods would be rejected.
            admission = ["--disable-admission-plugins=ServiceAccount"]
        self._spawn(
            "kube-apiserver",
            [
                f"--etcd-servers={self.etcd_url}",
                "--bind-address=127.0.0.1",
                "--advertise-address=127.0.0.1",
                f"--secure-port={api_port}",
                f"--cert-dir={d}",
                f"--tls-cert-file={pki['serving_cert']}",
                f"--tls-private-key-file={pki['serving_key']}",
                f"--client-ca-file={pki['ca']}",
                f"--token-auth-file={tokens}",
                "--authorization-mode=RBAC",
                f"--service-account-issuer={_ISSUER}",
                f"--service-account-key-file={pki['sa_pub']}",
                f"--service-account-signing-key-file={pki['sa_key']}",
                f"--service-cluster-ip-range={SERVICE_CLUSTER_IP_RANGE}",
                "--endpoint-reconciler-type=none",
                "--allow-privileged=true",
                "--enable-priority-and-fairness=false",
                "--profiling=false",
                *admission,
                *self.extra_apiserver_args,
            ],
        )
        self._wait(self._apiserver_ready, deadline, "kube-apiserver /readyz")

        self.admin_kubeconfig = d / "admin.kubeconfig"
        write_private(self.admin_kubeconfig, kubeconfig_yaml(self.server, ca_pem, "admin", self.admin_token))

        if self.controller_manager:
            self._spawn(
                "kube-controller-manager",
                [
                    f"--kubeconfig={self.admin_kubeconfig}",
                    "--leader-elect=false",
                    "--secure-port=0",
                    f"--controllers={','.join(self.controllers)}",
                    f"--service-account-private-key-file={pki['sa_key']}",
                    f"--root-ca-file={pki['ca']}",
                    f"--service-cluster-ip-range={SERVICE_CLUSTER_IP_RANGE}",
                    "--concurrent-gc-syncs=5",
                    *self.extra_controller_manager_args,
                ],
            )
            if "serviceaccount-controller" in self.controllers:
                self._wait(
                    lambda: (
                        self.api_request("GET", "/api/v1/namespaces/default/serviceaccounts/default")[0]
                        == 200
                    ),
                    deadline,
                    "the `default` ServiceAccount (kube-controller-manager)",
                )

    def _spawn(self, name: str, args: list[str]) -> None:
        assert self.dir is not None and self.bin_dir is not None
        log = self.dir / "logs" / f"{name}.log"
        self._logs[name] = log
        with open(log, "wb") as out:
            p = subprocess.Popen(
                [str(self.bin_dir / name), *args],
                stdin=subprocess.DEVNULL,
                stdout=out,
                stderr=subprocess.STDOUT,
                cwd=self.dir,
                start_new_session=True,
                # Kill the child if the starting thread dies (only safe from the main thread:
                # PR_SET_PDEATHSIG fires when the *thread* that forked exits).
                preexec_fn=_set_pdeathsig if threading.current_thread() is threading.main_thread() else None,
            )
        self._procs.append((name, p))

    def _wait(self, ok: Callable[[], bool], deadline: float, what: str) -> None:
        while True:
            for name, p in self._procs:
                if p.poll() is not None:
                    raise EnvTestError(
                        f"{name} exited with {p.returncode} while waiting for {what}\n"
                        f"--- {self._logs[name]} (tail) ---\n{_tail(self._logs[name])}"
                    )
            with contextlib.suppress(Exception):  # not up yet
                if ok():
                    return
            if time.monotonic() >= deadline:
                tails = "\n".join(f"--- {n} (tail) ---\n{_tail(self._logs[n], 20)}" for n, _ in self._procs)
                raise EnvTestError(f"timed out after {self.start_timeout:.0f} s waiting for {what}\n{tails}")
            time.sleep(0.2)

    def _http_ok(self, url: str, *, tls: bool = True) -> bool:
        req = urllib.request.Request(url)  # noqa: S310 - always http(s) URLs built here
        opener = self._open if tls else self._opener.open
        try:
            with opener(req, timeout=5) as r:
                return bool(r.status == 200)
        except (urllib.error.URLError, OSError):
            return False

    def _apiserver_ready(self) -> bool:
        status, body = self.api_request("GET", "/readyz")
        return status == 200 and body == "ok"

    def _open(self, req: urllib.request.Request, timeout: float = 10.0) -> Any:
        opener = urllib.request.build_opener(
            urllib.request.ProxyHandler({}), urllib.request.HTTPSHandler(context=self._ssl)
        )
        return opener.open(req, timeout=timeout)

    # -- API -------------------------------------------------------------------------------

    def api_request(
        self, method: str, path: str, body: Any = None, *, token: str | None = None
    ) -> tuple[int, Any]:
        """A raw API call as admin (or with ``token``): returns (status, parsed JSON or text)."""
        data = None
        headers = {"Authorization": f"Bearer {token or self.admin_token}"}
        if body is not None:
            data = body if isinstance(body, bytes) else json.dumps(body).encode()
            headers["Content-Type"] = (
                "application/merge-patch+json" if method == "PATCH" else "application/json"
            )
        req = urllib.request.Request(  # noqa: S310 - self.server is https://127.0.0.1:port
            self.server + path, data=data, method=method, headers=headers
        )
        try:
            with self._open(req) as r:
                status, raw = r.status, r.read()
        except urllib.error.HTTPError as e:
            status, raw = e.code, e.read()
        text = raw.decode("utf-8", "replace")
        try:
            return status, json.loads(text)
        except ValueError:
            return status, text

    def env(self, kubeconfig: str | os.PathLike[str] | None = None) -> dict[str, str]:
        """os.environ with KUBECONFIG pointing at ``kubeconfig`` (default: the admin one)."""
        e = dict(os.environ)
        e["KUBECONFIG"] = str(kubeconfig or self.admin_kubeconfig)
        return e

    def kubectl(
        self,
        *args: str,
        kubeconfig: str | os.PathLike[str] | None = None,
        input: str | bytes | None = None,
        check: bool = True,
        timeout: float = 60.0,
    ) -> subprocess.CompletedProcess[str]:
        """Run kubectl with ``--kubeconfig`` (default: admin). Returns the CompletedProcess (text);
        raises KubectlError (with stderr) on a non-zero exit when ``check``."""
        if self.kubectl_path is None or self.admin_kubeconfig is None:
            raise EnvTestError("EnvTest not started")
        cmd = [str(self.kubectl_path), f"--kubeconfig={kubeconfig or self.admin_kubeconfig}", *args]
        if isinstance(input, bytes):
            input = input.decode()
        env = {k: v for k, v in os.environ.items() if k != "KUBECONFIG"}
        proc = subprocess.run(
            cmd, input=input, capture_output=True, text=True, timeout=timeout, env=env, check=False
        )
        if check and proc.returncode != 0:
            raise KubectlError(proc.returncode, cmd, proc.stdout, proc.stderr)
        return proc

    def create_token(
        self, namespace: str, name: str, *, duration: str = "2h", audiences: Sequence[str] = ()
    ) -> str:
        """A ServiceAccount token via the TokenRequest API (``kubectl create token``)."""
        args = ["create", "token", name, "-n", namespace, f"--duration={duration}"]
        args += [f"--audience={a}" for a in audiences]
        return self.kubectl(*args).stdout.strip()

    def kubeconfig_for_serviceaccount(
        self,
        namespace: str,
        name: str,
        path: str | os.PathLike[str] | None = None,
        *,
        duration: str = "2h",
    ) -> Path:
        """Write a kubeconfig (CA embedded, default namespace ``namespace``) that authenticates
        as ServiceAccount ``namespace/name`` with a fresh TokenRequest token; returns its path
        (default: <dir>/sa-<namespace>-<name>.kubeconfig). The ServiceAccount must exist."""
        if self.dir is None or self.ca_path is None:
            raise EnvTestError("EnvTest not started")
        token = self.create_token(namespace, name, duration=duration)
        out = Path(path) if path is not None else self.dir / f"sa-{namespace}-{name}.kubeconfig"
        write_private(
            out,
            kubeconfig_yaml(
                self.server,
                self.ca_path.read_bytes(),
                f"system:serviceaccount:{namespace}:{name}",
                token,
                namespace=namespace,
            ),
        )
        return out

    def log_path(self, name: str) -> Path:
        """Log file of ``etcd``, ``kube-apiserver`` or ``kube-controller-manager``."""
        return self._logs[name]

    def log_tail(self, name: str, lines: int = 40) -> str:
        return _tail(self._logs[name], lines)

    def __repr__(self) -> str:
        state = f"server={self.server}" if self._procs else "stopped"
        return f"<EnvTest {state}>"


def _main(argv: Sequence[str]) -> int:
    """``python -m tests.support.envtest``: start, print the admin kubeconfig path, wait for Ctrl-C."""
    bin_dir, reason = find_tools_bin_dir()
    if bin_dir is None:
        print(reason, file=sys.stderr)
        return 1
    with EnvTest(bin_dir, keep_dir="--keep" in argv) as env:
        print(f"server {env.server} (started in {env.startup_seconds:.1f} s)")
        print(f"export KUBECONFIG={env.admin_kubeconfig}")
        with contextlib.suppress(KeyboardInterrupt):
            signal.pause()
    return 0


if __name__ == "__main__":
    raise SystemExit(_main(sys.argv[1:]))
