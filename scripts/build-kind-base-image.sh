#!/usr/bin/env bash
# kind's node base image, built here without a registry (issue #12, section 2; a first step).
#
#   scripts/build-kind-base-image.sh           build unless the image exists; prints its name
#   scripts/build-kind-base-image.sh --force   rebuild
#
# kind's own recipe (images/base in the sigs.k8s.io/kind module, version pinned by
# tools/kind/go.mod) starts FROM debian:trixie-slim and downloads or compiles containerd, runc,
# crictl and the CNI plugins. Here, instead:
# - the root filesystem comes from mmdebstrap (bookworm: its systemd 252 still boots on this host's
#   cgroup v1, which trixie's systemd 257 no longer does) with kind's package list;
# - containerd (1.6), runc (1.1) and the CNI plugins (1.1) are Debian's packages, linked where
#   kind's files expect them (/usr/local/bin, /usr/local/sbin, /opt/cni/bin); crictl, not packaged
#   in bookworm, is built from sigs.k8s.io/cri-tools at tools/crictl/go.mod's version (cached in
#   ${INTHEGRID_TOOLS_DIR:-$HOME/.cache/inthegrid/tools}/crictl-<version>/);
# - kind's files (entrypoint, systemd units, containerd config, sysctls) are read from the module
#   in the Go module cache at build time, not copied into this repository.
# - containerd's CRI keeps pods' oom_score_adj no lower than its own (restrict_oom_score_adj, which
#   kind sets only for rootless nodes): a pod sandbox asks for -998, and lowering it needs
#   CAP_SYS_RESOURCE, which this host's bounding set lacks, so runc's init died ("can't get final
#   child's PID from pipe: EOF") on every pod.
# The result runs with `docker run --privileged` through the runc-bounded runtime
# (scripts/install-docker.sh) and boots systemd with containerd; it has no Kubernetes binaries yet.
set -euo pipefail

ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
REPOSITORY="${INTHEGRID_KIND_BASE_REPOSITORY:-inthegrid-kind-base}"
SUITE=bookworm
# kind's list (images/base/Dockerfile) less nfs-common and open-iscsi (storage e2e tests only),
# plus the container runtime from Debian.
PACKAGES=systemd,systemd-sysv,dbus,conntrack,iptables,nftables,iproute2,ethtool,util-linux,mount,kmod
PACKAGES+=,libseccomp2,pigz,fuse-overlayfs,e2fsprogs,bash,ca-certificates,curl,jq,procps
PACKAGES+=,containerd,runc,containernetworking-plugins

say() { echo "build-kind-base-image: $*" >&2; }

export GOWORK=off GOTOOLCHAIN=local GOFLAGS="-mod=mod -buildvcs=false"
GO="$(command -v go || echo /usr/local/go/bin/go)"
# go.mod's `require M v` line or a `M v` line inside a require block.
mod_version() { awk -v m="$2" '$1 == m {print $2; exit} $1 == "require" && $2 == m {print $3; exit}' "$1"; }
kind_version="$(mod_version "$ROOT/tools/kind/go.mod" sigs.k8s.io/kind)"
IMAGE="$REPOSITORY:$kind_version-$SUITE"  # bump --force after changing this recipe
force=0
[[ "${1:-}" == "--force" ]] && force=1
if ((!force)) && docker image inspect "$IMAGE" >/dev/null 2>&1; then
    say "$IMAGE exists; not rebuilding"
    echo "$IMAGE"
    exit 0
fi

# crictl (kubeadm's preflight wants it), from its Go module.
TOOLS_DIR="${INTHEGRID_TOOLS_DIR:-$HOME/.cache/inthegrid/tools}"
crictl_version="$(mod_version "$ROOT/tools/crictl/go.mod" sigs.k8s.io/cri-tools)"
[[ -n $kind_version && -n $crictl_version ]] || { say "cannot read versions from tools/*/go.mod"; exit 2; }
crictl="$TOOLS_DIR/crictl-$crictl_version/crictl"
if [[ ! -x $crictl ]]; then
    say "building crictl $crictl_version"
    mkdir -p "$(dirname "$crictl")"
    (cd "$ROOT/tools/crictl" && CGO_ENABLED=0 "$GO" build -trimpath -o "$crictl.tmp" \
        -ldflags "-s -w -X sigs.k8s.io/cri-tools/pkg/version.Version=$crictl_version" \
        sigs.k8s.io/cri-tools/cmd/crictl)
    mv -f "$crictl.tmp" "$crictl"
fi

kind_dir="$(cd "$ROOT/tools/kind" && "$GO" mod download -json sigs.k8s.io/kind | jq -r .Dir)"
files="$kind_dir/images/base/files"
[[ -d $files ]] || { say "no images/base/files in $kind_dir"; exit 2; }

work="$(mktemp -d)"
trap 'rm -rf "$work"' EXIT
say "building $IMAGE (kind $kind_version files, $SUITE packages)"
started=$SECONDS
mmdebstrap --variant=minbase --quiet \
    --include="$PACKAGES" \
    --hook-dir=/usr/share/mmdebstrap/hooks/merged-usr \
    --dpkgopt='path-exclude=/usr/share/man/*' \
    --dpkgopt='path-exclude=/usr/share/doc/*' \
    --dpkgopt='path-include=/usr/share/doc/*/copyright' \
    --customize-hook="cp -r '$files'/. \"\$1/\"" \
    --customize-hook='chmod 0755 "$1"/usr/local/bin/* "$1"/kind "$1"/kind/bin "$1"/kind/bin/*' \
    --customize-hook='chmod -R go-w "$1"/etc/systemd/system "$1"/etc/containerd "$1"/etc/sysctl.d' \
    --customize-hook='sed -i "s/restrict_oom_score_adj = false/restrict_oom_score_adj = true/" "$1/etc/containerd/config.toml"' \
    --customize-hook='for b in containerd ctr containerd-shim-runc-v2; do ln -sf /usr/bin/$b "$1/usr/local/bin/$b"; done' \
    --customize-hook='mkdir -p "$1/usr/local/sbin" && ln -sf /usr/sbin/runc "$1/usr/local/sbin/runc"' \
    --customize-hook="install -m 0755 '$crictl' \"\$1/usr/local/bin/crictl\"" \
    --customize-hook='mkdir -p "$1/opt/cni/bin" && for p in host-local loopback ptp portmap bridge; do ln -sf /usr/lib/cni/$p "$1/opt/cni/bin/$p"; done' \
    --customize-hook='chroot "$1" sh -c "ctr oci spec | jq \".hooks.createContainer[.hooks.createContainer | length] |= . + {\\\"path\\\": \\\"/kind/bin/mount-product-files.sh\\\"} | del(.process.rlimits)\" > /etc/containerd/cri-base.json"' \
    --customize-hook='chroot "$1" sh -c "
        find /lib/systemd/system/sysinit.target.wants/ -name systemd-tmpfiles-setup.service -delete
        rm -f /lib/systemd/system/multi-user.target.wants/* /etc/systemd/system/*.wants/*
        rm -f /lib/systemd/system/local-fs.target.wants/* /lib/systemd/system/sockets.target.wants/*udev*
        rm -f /lib/systemd/system/sockets.target.wants/*initctl* /lib/systemd/system/basic.target.wants/*
        echo ReadKMsg=no >> /etc/systemd/journald.conf
        systemctl enable containerd.service undo-mount-hacks.service
        systemctl mask systemd-binfmt.service
        mkdir -p /etc/kubernetes/manifests"' \
    --customize-hook='rm -rf "$1"/var/lib/apt/lists/* "$1"/var/cache/apt/* "$1"/var/log/*.log' \
    "$SUITE" "$work/rootfs.tar"

# What kind's final stage sets: systemd learns it runs in a container; SIGRTMIN+3 stops it.
# (docker 20.10's import cannot set STOPSIGNAL, hence the one-line build on top.)
docker import --message "kind $kind_version base from $SUITE packages (scripts/build-kind-base-image.sh)" \
    "$work/rootfs.tar" "$IMAGE-rootfs" >/dev/null
rm -f "$work/rootfs.tar"  # not part of the build context below
printf '%s\n' "FROM $IMAGE-rootfs" 'ENV container=docker' 'STOPSIGNAL SIGRTMIN+3' \
    'ENTRYPOINT ["/usr/local/bin/entrypoint", "/sbin/init"]' >"$work/Dockerfile"
DOCKER_BUILDKIT=0 docker build --quiet -t "$IMAGE" "$work" >/dev/null
docker rmi "$IMAGE-rootfs" >/dev/null
say "built $IMAGE in $((SECONDS - started)) s ($(docker image inspect --format '{{.Size}}' "$IMAGE") bytes)"
echo "$IMAGE"
