#!/usr/bin/env bash
# The chart's optional bundled Prometheus (monitoring.prometheus.bundled), built here: the server
# compiled from the Go module github.com/prometheus/prometheus (version pinned in tools/prometheus/go.mod)
# into an image FROM scratch. The kind tier installs the chart with it to prove that every component
# is scraped and every recording rule answers (tests/e2e/test_kind_monitoring.py).
#
#   scripts/build-prometheus-image.sh           build unless the image exists; prints its name
#   scripts/build-prometheus-image.sh --force   rebuild (binary and image)
#   scripts/build-prometheus-image.sh --name    print the name only
#
# The binary is cached in ${INTHEGRID_TOOLS_DIR:-$HOME/.cache/inthegrid/tools}/prometheus-<v>/; the
# image is tagged <v without the leading v>-<first 8 hex of this script's sha256>, so a change of the
# recipe gets a new tag. No web UI assets are embedded (the API, which the tests use, is complete).
# The binary runs as nobody (65534) unless the pod says otherwise. Install the chart with
#   --set monitoring.prometheus.bundled.enabled=true
#   --set monitoring.prometheus.bundled.image.repository=inthegrid-prometheus
#   --set monitoring.prometheus.bundled.image.tag=<tag> --set monitoring.prometheus.bundled.image.pullPolicy=Never
set -euo pipefail

ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
TOOLS_DIR="${INTHEGRID_TOOLS_DIR:-$HOME/.cache/inthegrid/tools}"
REPOSITORY="${INTHEGRID_PROMETHEUS_REPOSITORY:-inthegrid-prometheus}"
MODULE=github.com/prometheus/prometheus

say() { echo "build-prometheus-image: $*" >&2; }

version="$(awk -v m="$MODULE" '$1 == "require" && $2 == m {print $3; exit} $1 == m {print $2; exit}' \
    "$ROOT/tools/prometheus/go.mod")"
[[ -n $version ]] || { say "no $MODULE in tools/prometheus/go.mod"; exit 2; }
recipe="$(sha256sum "${BASH_SOURCE[0]}" | cut -c1-8)"
IMAGE="$REPOSITORY:${version#v}-$recipe"

mode="${1:-}"
case "$mode" in --name | --force | "") ;; *) say "unknown option $mode"; exit 2 ;; esac
[[ $mode == --name ]] && { echo "$IMAGE"; exit 0; }
if [[ $mode != --force ]] && docker image inspect "$IMAGE" >/dev/null 2>&1; then
    echo "$IMAGE"
    exit 0
fi

binary="$TOOLS_DIR/prometheus-$version/prometheus"
if [[ $mode == --force || ! -x $binary ]]; then
    GO="$(command -v go || echo /usr/local/go/bin/go)"
    [[ -x $GO ]] || { say "Go is needed to build Prometheus $version"; exit 2; }
    say "building Prometheus $version with $("$GO" env GOVERSION) (several minutes cold)"
    mkdir -p "$(dirname "$binary")"
    started=$SECONDS
    build="$(mktemp -d)"
    # A copy of the module: -mod=mod writes the resolved requirements (go.mod, go.sum) there, not here.
    cp "$ROOT/tools/prometheus/go.mod" "$build/"
    (cd "$build" &&
        GOWORK=off GOTOOLCHAIN=local GOFLAGS="-mod=mod -buildvcs=false" CGO_ENABLED=0 \
            "$GO" build -trimpath -ldflags "-s -w" -o "$binary.tmp" "$MODULE/cmd/prometheus")
    rm -rf "$build"
    mv -f "$binary.tmp" "$binary"
    say "built $binary in $((SECONDS - started)) s"
fi

context="$(mktemp -d)"
trap 'rm -rf "$context"' EXIT
cp "$binary" "$context/prometheus"
cat >"$context/Dockerfile" <<DOCKERFILE
FROM scratch
LABEL org.opencontainers.image.title="prometheus" \\
      org.opencontainers.image.version="$version" \\
      org.opencontainers.image.description="Prometheus server $version built from the Go module (scripts/build-prometheus-image.sh)"
COPY prometheus /usr/local/bin/prometheus
USER 65534:65534
EXPOSE 9090
ENTRYPOINT ["/usr/local/bin/prometheus"]
DOCKERFILE
DOCKER_BUILDKIT=0 docker build --quiet -t "$IMAGE" "$context" >/dev/null
say "built $IMAGE ($(docker image inspect --format '{{.Size}}' "$IMAGE") bytes)"
echo "$IMAGE"
