#!/usr/bin/env bash
# The chart's bundled NATS image, built here: nats-server compiled from the Go module proxy
# (tools/nats/go.mod pins the chart's nats.image.tag version) into an image FROM scratch.
#
#   scripts/build-nats-image.sh           build unless the image exists; prints its name
#   scripts/build-nats-image.sh --force   rebuild
#
# The binary is cached in ${INTHEGRID_TOOLS_DIR:-$HOME/.cache/inthegrid/tools}/nats-server-<v>/.
# The image has only /usr/local/bin/nats-server (static, CGO off) as its entrypoint, so the chart's
# `args: [--config, ...]` and its preStop `nats-server -sl=ldm=...` work as with the public image;
# it runs as uid 10001 unless the pod says otherwise. Install the chart with
#   --set nats.image.repository=inthegrid-nats --set nats.image.tag=<v> --set nats.image.pullPolicy=Never
set -euo pipefail

ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
TOOLS_DIR="${INTHEGRID_TOOLS_DIR:-$HOME/.cache/inthegrid/tools}"
REPOSITORY="${INTHEGRID_NATS_REPOSITORY:-inthegrid-nats}"
MODULE=github.com/nats-io/nats-server/v2

say() { echo "build-nats-image: $*" >&2; }

version="$(awk -v m="$MODULE" '$1 == m {print $2; exit}' "$ROOT/tools/nats/go.mod")"
[[ -n $version ]] || { say "no $MODULE in tools/nats/go.mod"; exit 2; }
IMAGE="$REPOSITORY:${version#v}"
force=0
[[ "${1:-}" == "--force" ]] && force=1

if ((!force)) && docker image inspect "$IMAGE" >/dev/null 2>&1; then
    say "$IMAGE exists; not rebuilding"
    echo "$IMAGE"
    exit 0
fi

binary="$TOOLS_DIR/nats-server-$version/nats-server"
if ((force)) || [[ ! -x $binary ]]; then
    GO="$(command -v go || echo /usr/local/go/bin/go)"
    [[ -x $GO ]] || { say "Go is needed to build nats-server $version"; exit 2; }
    say "building nats-server $version with $("$GO" env GOVERSION)"
    mkdir -p "$(dirname "$binary")"
    started=$SECONDS
    (cd "$ROOT/tools/nats" &&
        GOWORK=off GOTOOLCHAIN=local GOFLAGS="-mod=mod -buildvcs=false" CGO_ENABLED=0 \
            "$GO" build -trimpath -ldflags "-s -w" -o "$binary.tmp" "$MODULE")
    mv -f "$binary.tmp" "$binary"
    say "built $binary in $((SECONDS - started)) s"
fi

context="$(mktemp -d)"
trap 'rm -rf "$context"' EXIT
cp "$binary" "$context/nats-server"
cat >"$context/Dockerfile" <<DOCKERFILE
FROM scratch
LABEL org.opencontainers.image.title="nats-server" \\
      org.opencontainers.image.version="${version#v}" \\
      org.opencontainers.image.description="nats-server ${version} built from the Go module (scripts/build-nats-image.sh)"
COPY nats-server /usr/local/bin/nats-server
ENV PATH=/usr/local/bin
USER 10001:10001
EXPOSE 4222 6222 8222
ENTRYPOINT ["nats-server"]
DOCKERFILE
DOCKER_BUILDKIT=0 docker build --quiet -t "$IMAGE" "$context" >/dev/null
say "built $IMAGE ($(docker image inspect --format '{{.Size}}' "$IMAGE") bytes)"
echo "$IMAGE"
