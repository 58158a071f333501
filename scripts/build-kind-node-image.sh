#!/usr/bin/env bash
# kind's node image, built here without a registry (issue #12, section 2). See docs/kind-offline.md.
#
#   scripts/build-kind-node-image.sh           build unless the image exists; prints its name
#   scripts/build-kind-node-image.sh --force   rebuild (the binaries stay cached)
#   scripts/build-kind-node-image.sh --name    print the image name only
#
# What `kind build node-image` does, offline:
# 1. Kubernetes binaries at tools/envtest/go.mod's version (scripts/build-k8s-tools.sh), CoreDNS at
#    tools/coredns/go.mod's and rancher's local-path-provisioner at tools/local-path-provisioner/
#    go.mod's, each from the Go module proxy, cached in ${INTHEGRID_TOOLS_DIR:-~/.cache/inthegrid/tools}.
# 2. The images the node needs, with the exact names `kubeadm config images list` prints and kind's
#    manifests reference: the control plane, etcd and CoreDNS FROM scratch; kube-proxy and the
#    local-path helper (it runs `sh -c mkdir/rm`) on a minbase bookworm with iptables and conntrack.
#    The etcd image carries tools/etcd/go.mod's etcd (3.5.x, a later patch release than the tag
#    kubeadm asks for: kubeadm reads only the tag).
# 3. kind's buildImage: run the base image (scripts/build-kind-base-image.sh) with `sleep infinity`,
#    copy kubeadm, kubelet and kubectl to /usr/bin, write /kind/version, start containerd and import
#    the image archives into its k8s.io namespace (instead of kind's `ctr content fetch`), write
#    kind's storage manifest, `docker commit`.
# 4. CNI: kindnetd is no longer in the sigs.k8s.io/kind module (its image is built from another
#    repository that the module proxy does not serve), so the node carries a static bridge CNI
#    configuration (Debian's bridge/host-local/portmap plugins, pod subnet kind's default
#    10.244.0.0/16), which only works for a single-node cluster and enforces no NetworkPolicy;
#    /kind/manifests/default-cni.yaml (which kind applies) is a ConfigMap that says so.
set -euo pipefail

ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
TOOLS_DIR="${INTHEGRID_TOOLS_DIR:-$HOME/.cache/inthegrid/tools}"
REPOSITORY="${INTHEGRID_KIND_NODE_REPOSITORY:-inthegrid-kind-node}"
say() { echo "build-kind-node-image: $*" >&2; }

export GOWORK=off GOTOOLCHAIN=local GOFLAGS="-mod=mod -buildvcs=false" CGO_ENABLED=0
GO="$(command -v go || echo /usr/local/go/bin/go)"
mod_version() { awk -v m="$2" '$1 == m {print $2; exit} $1 == "require" && $2 == m {print $3; exit}' "$1"; }
K8S_VERSION="$(mod_version "$ROOT/tools/envtest/go.mod" k8s.io/kubernetes)"
KIND_VERSION="$(mod_version "$ROOT/tools/kind/go.mod" sigs.k8s.io/kind)"
COREDNS_VERSION="$(mod_version "$ROOT/tools/coredns/go.mod" github.com/coredns/coredns)"
LPP_VERSION="$(mod_version "$ROOT/tools/local-path-provisioner/go.mod" github.com/rancher/local-path-provisioner)"
for v in K8S_VERSION KIND_VERSION COREDNS_VERSION LPP_VERSION; do
    [[ -n "${!v}" ]] || { say "cannot read $v from tools/*/go.mod"; exit 2; }
done
# The recipe (this script) is part of the tag, so a changed recipe builds a new image.
IMAGE="$REPOSITORY:$K8S_VERSION-$(sha256sum "${BASH_SOURCE[0]}" | cut -c1-12)"

case "${1:-}" in
    --name) echo "$IMAGE"; exit 0 ;;
    --force) force=1 ;;
    "") force=0 ;;
    *) say "unknown option $1"; exit 2 ;;
esac
if ((!force)) && docker image inspect "$IMAGE" >/dev/null 2>&1; then
    echo "$IMAGE"
    exit 0
fi
started=$SECONDS

# 1. Binaries (each step is a no-op when cached). nice: the machine's cores are shared.
nice -n 10 bash "$ROOT/scripts/build-k8s-tools.sh" kubelet kubeadm kubectl kube-apiserver \
    kube-controller-manager kube-scheduler kube-proxy etcd >&2
K8S_DIR="$TOOLS_DIR/kubernetes-$K8S_VERSION"
ETCD_BIN="$(readlink -f "$TOOLS_DIR/bin/etcd")"
go_build() { # <tools module dir> <package> <output>
    [[ -x $3 ]] && return 0
    say "building $2"
    mkdir -p "$(dirname "$3")"
    (cd "$1" && nice -n 10 "$GO" build -trimpath -ldflags "-s -w" -o "$3.tmp" "$2")
    mv -f "$3.tmp" "$3"
}
COREDNS_BIN="$TOOLS_DIR/coredns-$COREDNS_VERSION/coredns"
LPP_BIN="$TOOLS_DIR/local-path-provisioner-$LPP_VERSION/local-path-provisioner"
go_build "$ROOT/tools/coredns" github.com/coredns/coredns "$COREDNS_BIN"
go_build "$ROOT/tools/local-path-provisioner" github.com/rancher/local-path-provisioner "$LPP_BIN"

kind_dir="$(cd "$ROOT/tools/kind" && "$GO" mod download -json sigs.k8s.io/kind | jq -r .Dir)"
BASE_IMAGE="$(bash "$ROOT/scripts/build-kind-base-image.sh")"
PAUSE_IMAGE="$(bash "$ROOT/scripts/build-pause-image.sh")"
# kind's storage manifest and the two image names it references, read from the module.
storage_go="$kind_dir/pkg/build/nodeimage/const_storage.go"
go_const() { sed -n "s/^const $1 = \"\(.*\)\"$/\1/p" "$storage_go"; }
LPP_IMAGE="$(go_const storageProvisionerImage)"
HELPER_IMAGE="$(go_const storageHelperImage)"
[[ -n $LPP_IMAGE && -n $HELPER_IMAGE ]] || { say "cannot read kind's storage images from $storage_go"; exit 2; }

work="$(mktemp -d)"
build_container=""
cleanup() {
    [[ -z $build_container ]] || docker rm -f -v "$build_container" >/dev/null 2>&1 || true
    rm -rf "$work"
}
trap cleanup EXIT

# 2. Images.
MINBASE_PACKAGES=iptables,conntrack
minbase="inthegrid-kind-minbase:bookworm-$(echo "$MINBASE_PACKAGES" | sha256sum | cut -c1-12)"
if ! docker image inspect "$minbase" >/dev/null 2>&1; then
    say "building $minbase (mmdebstrap minbase bookworm + iptables, conntrack)"
    mmdebstrap --variant=minbase --quiet --include="$MINBASE_PACKAGES" \
        --hook-dir=/usr/share/mmdebstrap/hooks/merged-usr \
        --dpkgopt='path-exclude=/usr/share/doc/*' --dpkgopt='path-exclude=/usr/share/man/*' \
        --dpkgopt='path-include=/usr/share/doc/*/copyright' \
        --customize-hook='rm -rf "$1"/var/lib/apt/lists/* "$1"/var/cache/apt/*' \
        bookworm "$work/minbase.tar" >&2
    docker import "$work/minbase.tar" "$minbase" >/dev/null
    rm -f "$work/minbase.tar"
fi

K8S_IMAGES=(
    "registry.k8s.io/kube-apiserver:$K8S_VERSION"
    "registry.k8s.io/kube-controller-manager:$K8S_VERSION"
    "registry.k8s.io/kube-scheduler:$K8S_VERSION"
    "registry.k8s.io/kube-proxy:$K8S_VERSION"
)
required="$("$K8S_DIR/kubeadm" config images list --kubernetes-version "$K8S_VERSION")"
ETCD_IMAGE="$(grep '/etcd:' <<<"$required")"
COREDNS_IMAGE="$(grep '/coredns:' <<<"$required")"
[[ $COREDNS_IMAGE == *":$COREDNS_VERSION" ]] ||
    say "warning: kubeadm asks for $COREDNS_IMAGE, tools/coredns/go.mod has $COREDNS_VERSION"

image_from() { # <tag> <base> <binary> <path in image> [entrypoint path]
    local ctx="$work/ctx-${4##*/}"
    mkdir -p "$ctx"
    cp "$3" "$ctx/bin"
    {
        echo "FROM $2"
        echo "COPY bin $4"
        echo 'ENV PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin'
        [[ -z ${5:-} ]] || echo "ENTRYPOINT [\"$5\"]"
    } >"$ctx/Dockerfile"
    DOCKER_BUILDKIT=0 docker build --quiet -t "$1" "$ctx" >/dev/null 2>&1
    say "image $1"
}
for img in "${K8S_IMAGES[@]}"; do
    name="${img##*/}"
    name="${name%%:*}"
    if [[ $name == kube-proxy ]]; then
        image_from "$img" "$minbase" "$K8S_DIR/$name" "/usr/local/bin/$name"
    else
        image_from "$img" scratch "$K8S_DIR/$name" "/usr/local/bin/$name"
    fi
done
image_from "$ETCD_IMAGE" scratch "$ETCD_BIN" /usr/local/bin/etcd
image_from "$COREDNS_IMAGE" scratch "$COREDNS_BIN" /coredns /coredns
image_from "$LPP_IMAGE" scratch "$LPP_BIN" /usr/local/bin/local-path-provisioner /usr/local/bin/local-path-provisioner
docker tag "$minbase" "$HELPER_IMAGE"
ALL_IMAGES=("${K8S_IMAGES[@]}" "$ETCD_IMAGE" "$COREDNS_IMAGE" "$PAUSE_IMAGE" "$LPP_IMAGE" "$HELPER_IMAGE")

# 3. kind's buildImage, with local archives instead of `ctr content fetch`.
build_container="kind-build-$(date +%s)-$$"
docker run -d --entrypoint=sleep --name "$build_container" --privileged \
    --security-opt seccomp=unconfined "$BASE_IMAGE" infinity >/dev/null
in_node() { docker exec -i --privileged "$build_container" "$@"; }
for b in kubeadm kubelet kubectl; do
    docker cp "$K8S_DIR/$b" "$build_container:/usr/bin/$b"
    in_node chown root:root "/usr/bin/$b"
    in_node chmod 0755 "/usr/bin/$b"
done
in_node mkdir -p /kind/manifests /etc/cni/net.d
echo "$K8S_VERSION" | in_node sh -c 'cat > /kind/version'
awk '/^const defaultStorageManifest = `/ {on = 1; next} on && /^`/ {exit} on' "$storage_go" |
    sed -e "s|\` + storageProvisionerImage + \`|$LPP_IMAGE|" -e "s|\` + storageHelperImage + \`|$HELPER_IMAGE|" |
    in_node sh -c 'cat > /kind/manifests/default-storage.yaml'
in_node grep -q "$LPP_IMAGE" /kind/manifests/default-storage.yaml || { say "storage manifest not written"; exit 1; }
in_node sh -c 'cat > /kind/manifests/default-cni.yaml' <<'EOF'
# Written by inthegrid's scripts/build-kind-node-image.sh in place of kind's kindnetd manifest:
# this node uses the static bridge configuration in /etc/cni/net.d (one node only; NetworkPolicies
# are not enforced). kind applies this file; the ConfigMap records that choice in the cluster.
apiVersion: v1
kind: ConfigMap
metadata:
  name: inthegrid-static-cni
  namespace: kube-system
data:
  cni: bridge (static, /etc/cni/net.d/10-inthegrid-bridge.conflist)
  networkPolicies: not enforced
  podSubnet: "{{ .PodSubnet }}"
EOF
in_node sh -c 'cat > /etc/cni/net.d/10-inthegrid-bridge.conflist' <<'EOF'
{
  "cniVersion": "0.4.0",
  "name": "inthegrid-bridge",
  "plugins": [
    {
      "type": "bridge",
      "bridge": "cni0",
      "isGateway": true,
      "ipMasq": true,
      "hairpinMode": true,
      "ipam": {
        "type": "host-local",
        "ranges": [[{"subnet": "10.244.0.0/24"}]],
        "routes": [{"dst": "0.0.0.0/0"}]
      }
    },
    {"type": "portmap", "capabilities": {"portMappings": true}}
  ]
}
EOF

# kubelet checks its cgroup root (kubelet.slice with the systemd driver) in every cgroup v1
# hierarchy; kind's entrypoint creates it only in those mounted when it runs, and on this host
# systemd mounts hugetlb, net_cls,net_prio and perf_event later ("cgroup ["kubelet"] has some
# missing paths: /sys/fs/cgroup/hugetlb/kubelet.slice"). Create what is missing before kubelet starts.
in_node sh -c 'cat > /etc/systemd/system/kubelet.service.d/20-inthegrid-cgroup-v1.conf' <<'UNIT'
[Service]
ExecStartPre=/bin/sh -euc 'if [ ! -f /sys/fs/cgroup/cgroup.controllers ]; then for d in /sys/fs/cgroup/*/; do case "$$d" in */unified/) continue ;; esac; [ -L "$${d%%/}" ] || mkdir -p "$${d}kubelet" "$${d}kubelet.slice" 2>/dev/null || true; done; fi'
UNIT

say "importing ${#ALL_IMAGES[@]} images into the node's containerd"
in_node bash -c "nohup containerd >/dev/null 2>&1 </dev/null &"
for i in $(seq 1 60); do
    in_node ctr version >/dev/null 2>&1 && break
    ((i < 60)) || { say "containerd did not start in the build container"; exit 1; }
    sleep 1
done
docker save "${ALL_IMAGES[@]}" |
    in_node ctr --namespace=k8s.io images import --all-platforms --no-unpack --digests -
imported="$(in_node ctr --namespace=k8s.io images list -q)"
for img in "${ALL_IMAGES[@]}"; do
    # docker save writes docker.io names in short form; containerd normalises them back.
    grep -qxF "$img" <<<"$imported" || grep -qxF "docker.io/library/$img" <<<"$imported" ||
        { say "image $img missing after import"; exit 1; }
done
in_node pkill containerd || true
for i in $(seq 1 30); do
    in_node pgrep -x containerd >/dev/null || break
    sleep 1
done

docker commit \
    --change 'ENTRYPOINT [ "/usr/local/bin/entrypoint", "/sbin/init" ]' \
    --change 'ENV HTTP_PROXY="" HTTPS_PROXY="" NO_PROXY=""' \
    "$build_container" "$IMAGE" >/dev/null
say "built $IMAGE in $((SECONDS - started)) s"
echo "$IMAGE"
