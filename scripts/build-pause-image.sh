#!/usr/bin/env bash
# The pod sandbox image for the kind node built here: tools/pause (our own ~50-line Go program)
# FROM scratch, tagged as kind's containerd config names its sandbox_image (registry.k8s.io/pause:
# <version>, read from the kind module's images/base/files/etc/containerd/config.toml), so the node's
# containerd finds it without pulling. Prints the image name. See docs/kind-offline.md.
set -euo pipefail

ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
export GOWORK=off GOTOOLCHAIN=local GOFLAGS="-mod=mod -buildvcs=false"
GO="$(command -v go || echo /usr/local/go/bin/go)"
say() { echo "build-pause-image: $*" >&2; }

kind_dir="$(cd "$ROOT/tools/kind" && "$GO" mod download -json sigs.k8s.io/kind | jq -r .Dir)"
IMAGE="$(sed -n 's/^ *sandbox_image *= *"\(.*\)"/\1/p' "$kind_dir/images/base/files/etc/containerd/config.toml")"
[[ -n $IMAGE ]] || { say "no sandbox_image in kind's containerd config"; exit 2; }
if [[ "${1:-}" != "--force" ]] && docker image inspect "$IMAGE" >/dev/null 2>&1; then
    echo "$IMAGE"
    exit 0
fi

context="$(mktemp -d)"
trap 'rm -rf "$context"' EXIT
(cd "$ROOT/tools/pause" && CGO_ENABLED=0 "$GO" build -trimpath \
    -ldflags "-s -w -X main.version=${IMAGE##*:}" -o "$context/pause" .)
printf '%s\n' 'FROM scratch' 'COPY pause /pause' 'USER 65535:65535' 'ENTRYPOINT ["/pause"]' >"$context/Dockerfile"
DOCKER_BUILDKIT=0 docker build --quiet -t "$IMAGE" "$context" >/dev/null
say "built $IMAGE"
echo "$IMAGE"
