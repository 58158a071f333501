#!/usr/bin/env bash
# Build etcd, kube-apiserver, kube-controller-manager, kubectl and helm from the
# Go module proxy (no other downloads), for tests/support/envtest.py.
#
#   scripts/build-k8s-tools.sh                 build whatever is missing (idempotent)
#   scripts/build-k8s-tools.sh NAME...         only these (etcd kube-apiserver
#                                              kube-controller-manager kubectl helm;
#                                              for the kind node image, only when named:
#                                              kubelet kubeadm kube-scheduler kube-proxy)
#   scripts/build-k8s-tools.sh --force [NAME...]  rebuild even if present
#   scripts/build-k8s-tools.sh --print-bin-dir print the directory of symlinks;
#                                              exit 1 if a binary is missing
#
# Binaries go to ${INTHEGRID_TOOLS_DIR:-$HOME/.cache/inthegrid/tools}/<name>-<version>/
# and are linked from <tools dir>/bin/. Versions come from the tiny build-only
# modules tools/envtest, tools/etcd and tools/helm (go.mod + go.sum).
#
# Cost measured cold on 2 cores (Go 1.26.8): ~6.5 min wall for all five
# (kube-apiserver 214 s incl. downloads, then kube-controller-manager 54 s,
# kubectl 24 s, etcd 25 s, helm 80 s), ~2 GB peak RSS, +1.2 GB GOMODCACHE
# (220 MB of zips), +3.8 GB GOCACHE (deletable afterwards: go clean -cache).
# Needs Go >= 1.26.0 (etcd 3.5.35 and helm 3.22 declare go 1.26.0); without it
# (or with an older Go) it prints a message and exits 0, and envtest-based
# tests skip.
set -euo pipefail

ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
TOOLS_DIR="${INTHEGRID_TOOLS_DIR:-$HOME/.cache/inthegrid/tools}"
BIN_DIR="$TOOLS_DIR/bin"
ALL_NAMES=(etcd kube-apiserver kube-controller-manager kubectl helm)
# The kind node image's binaries (scripts/build-kind-node-image.sh): built only when named, since
# the envtest tiers do not need them.
NODE_NAMES=(kubelet kubeadm kube-scheduler kube-proxy)

# Version of a required module, read from a tools go.mod (single source of truth).
mod_version() { # <go.mod> <module path>
    awk -v m="$2" '$1 == m && $2 ~ /^v/ {print $2; exit} $1 == "require" && $2 == m {print $3; exit}' "$1"
}
K8S_VERSION="$(mod_version "$ROOT/tools/envtest/go.mod" k8s.io/kubernetes)"
ETCD_VERSION="$(mod_version "$ROOT/tools/etcd/go.mod" go.etcd.io/etcd/server/v3)"
HELM_VERSION="$(mod_version "$ROOT/tools/helm/go.mod" helm.sh/helm/v3)"
for v in K8S_VERSION ETCD_VERSION HELM_VERSION; do
    [[ -n "${!v}" ]] || { echo "build-k8s-tools: cannot read $v from tools/*/go.mod" >&2; exit 2; }
done

# name -> module dir, output dir, package
target_dir() {
    case "$1" in
        etcd) echo "$TOOLS_DIR/etcd-$ETCD_VERSION" ;;
        kube-apiserver | kube-controller-manager | kubectl | kubelet | kubeadm | kube-scheduler | kube-proxy)
            echo "$TOOLS_DIR/kubernetes-$K8S_VERSION"
            ;;
        helm) echo "$TOOLS_DIR/helm-$HELM_VERSION" ;;
        *) return 1 ;;
    esac
}
module_dir() {
    case "$1" in
        etcd) echo "$ROOT/tools/etcd" ;;
        helm) echo "$ROOT/tools/helm" ;;
        *) echo "$ROOT/tools/envtest" ;;
    esac
}
package_of() {
    case "$1" in
        etcd) echo "go.etcd.io/etcd/server/v3" ;;
        helm) echo "helm.sh/helm/v3/cmd/helm" ;;
        *) echo "k8s.io/kubernetes/cmd/$1" ;;
    esac
}
ldflags_of() {
    local flags="-s -w"
    case "$1" in
        etcd)
            # The version itself is a constant in go.etcd.io/etcd/api/v3/version.
            flags+=" -X go.etcd.io/etcd/api/v3/version.GitSHA=$ETCD_VERSION"
            ;;
        helm)
            # As helm's Makefile: k8s version for `helm template` / lint = client-go minor.
            local cg minor
            cg="$(awk '$1 == "k8s.io/client-go" {print $2; exit}' "$ROOT/tools/helm/go.mod")"
            minor="$(echo "${cg#v}" | cut -d. -f2)"
            flags+=" -X helm.sh/helm/v3/internal/version.version=$HELM_VERSION"
            flags+=" -X helm.sh/helm/v3/internal/version.gitTreeState=clean"
            if [[ -n "$minor" ]]; then
                flags+=" -X helm.sh/helm/v3/pkg/lint/rules.k8sVersionMajor=1 -X helm.sh/helm/v3/pkg/lint/rules.k8sVersionMinor=$minor"
                flags+=" -X helm.sh/helm/v3/pkg/chartutil.k8sVersionMajor=1 -X helm.sh/helm/v3/pkg/chartutil.k8sVersionMinor=$minor"
            fi
            ;;
        *)
            # As kubernetes' hack/lib/version.sh (no git commit: built from the module zip).
            local major minor pkg
            major="$(echo "${K8S_VERSION#v}" | cut -d. -f1)"
            minor="$(echo "${K8S_VERSION#v}" | cut -d. -f2)"
            for pkg in k8s.io/client-go/pkg/version k8s.io/component-base/version; do
                flags+=" -X $pkg.gitVersion=$K8S_VERSION -X $pkg.gitMajor=$major -X $pkg.gitMinor=$minor"
                flags+=" -X $pkg.gitTreeState=clean -X $pkg.buildDate=${BUILD_DATE}"
            done
            ;;
    esac
    echo "$flags"
}

link_bins() {
    mkdir -p "$BIN_DIR"
    local n d
    for n in "${ALL_NAMES[@]}" "${NODE_NAMES[@]}"; do
        d="$(target_dir "$n")"
        if [[ -x "$d/$n" ]]; then
            ln -sfn "$d/$n" "$BIN_DIR/$n"
        fi
    done
}

print_bin_dir() {
    local n missing=()
    for n in "${ALL_NAMES[@]}"; do
        [[ -x "$BIN_DIR/$n" ]] || missing+=("$n")
    done
    echo "$BIN_DIR"
    if ((${#missing[@]})); then
        echo "build-k8s-tools: missing in $BIN_DIR: ${missing[*]} (run scripts/build-k8s-tools.sh)" >&2
        return 1
    fi
}

FORCE=0
NAMES=()
for arg in "$@"; do
    case "$arg" in
        --print-bin-dir)
            # Refresh links to already built binaries (cheap), then print.
            [[ -d "$TOOLS_DIR" ]] && link_bins 2>/dev/null || true
            print_bin_dir
            exit $?
            ;;
        --force) FORCE=1 ;;
        -h | --help) awk 'NR > 1 && /^#/ {sub(/^# ?/, ""); print; next} NR > 1 {exit}' "${BASH_SOURCE[0]}"; exit 0 ;;
        *)
            target_dir "$arg" >/dev/null || { echo "build-k8s-tools: unknown tool '$arg' (one of: ${ALL_NAMES[*]} ${NODE_NAMES[*]})" >&2; exit 2; }
            NAMES+=("$arg")
            ;;
    esac
done
((${#NAMES[@]})) || NAMES=("${ALL_NAMES[@]}")

GO="$(command -v go || true)"
[[ -n "$GO" ]] || { [[ -x /usr/local/go/bin/go ]] && GO=/usr/local/go/bin/go; }
if [[ -z "$GO" ]]; then
    echo "build-k8s-tools: 'go' not found (Go >= 1.26 is needed to build etcd/kube-apiserver/helm); nothing built."
    echo "build-k8s-tools: tests that need a real API server will be skipped."
    exit 0
fi

go_minor="$("$GO" env GOVERSION | sed -E 's/^go1\.([0-9]+).*/\1/')"
if [[ ! "$go_minor" =~ ^[0-9]+$ ]] || ((go_minor < 26)); then
    echo "build-k8s-tools: $("$GO" env GOVERSION) is too old (Go >= 1.26 needed); nothing built."
    echo "build-k8s-tools: tests that need a real API server will be skipped."
    exit 0
fi

export GOWORK=off GOTOOLCHAIN=local GOFLAGS="-mod=mod -buildvcs=false" CGO_ENABLED=0
BUILD_DATE="$(date -u +%Y-%m-%dT%H:%M:%SZ)"
mkdir -p "$TOOLS_DIR"

# One build at a time per tools dir (two concurrent cold builds would just thrash 2 cores).
if command -v flock >/dev/null 2>&1; then
    exec 9>"$TOOLS_DIR/.build.lock"
    if ! flock -n 9; then
        echo "build-k8s-tools: another build holds $TOOLS_DIR/.build.lock; waiting..."
        flock 9
    fi
fi

START_ALL=$SECONDS
echo "build-k8s-tools: $("$GO" version); kubernetes $K8S_VERSION, etcd $ETCD_VERSION, helm $HELM_VERSION"
echo "build-k8s-tools: tools dir $TOOLS_DIR"
built=0
for n in "${NAMES[@]}"; do
    d="$(target_dir "$n")"
    out="$d/$n"
    if [[ -x "$out" && $FORCE -eq 0 ]]; then
        echo "build-k8s-tools: $n present: $out"
        continue
    fi
    mkdir -p "$d"
    tmp="$d/.$n.tmp.$$"
    echo "build-k8s-tools: building $n ($(package_of "$n")) ..."
    t0=$SECONDS
    if ! (cd "$(module_dir "$n")" && "$GO" build -trimpath -ldflags "$(ldflags_of "$n")" -o "$tmp" "$(package_of "$n")"); then
        rm -f "$tmp"
        echo "build-k8s-tools: building $n FAILED" >&2
        exit 1
    fi
    mv -f "$tmp" "$out"
    built=$((built + 1))
    echo "build-k8s-tools: built $n in $((SECONDS - t0)) s: $out"
done
link_bins
echo "build-k8s-tools: binaries (symlinks) in $BIN_DIR:"
for n in "${ALL_NAMES[@]}"; do
    if [[ -x "$BIN_DIR/$n" ]]; then
        echo "  $n -> $(readlink "$BIN_DIR/$n")"
    else
        echo "  $n (not built)"
    fi
done
echo "build-k8s-tools: built $built binaries; total time $((SECONDS - START_ALL)) s"
