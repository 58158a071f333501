#!/usr/bin/env bash
# The kind CLI from the Go module proxy, at tools/kind/go.mod's version; prints its path.
# Cached in ${INTHEGRID_TOOLS_DIR:-$HOME/.cache/inthegrid/tools}/kind-<version>/kind.
set -euo pipefail

ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
TOOLS_DIR="${INTHEGRID_TOOLS_DIR:-$HOME/.cache/inthegrid/tools}"
version="$(awk '$1 == "sigs.k8s.io/kind" {print $2; exit}' "$ROOT/tools/kind/go.mod")"
binary="$TOOLS_DIR/kind-$version/kind"
if [[ ! -x $binary || "${1:-}" == "--force" ]]; then
    GO="$(command -v go || echo /usr/local/go/bin/go)"
    mkdir -p "$(dirname "$binary")"
    started=$SECONDS
    (cd "$ROOT/tools/kind" &&
        GOWORK=off GOTOOLCHAIN=local GOFLAGS="-mod=mod -buildvcs=false" CGO_ENABLED=0 \
            "$GO" build -trimpath -ldflags "-s -w" -o "$binary.tmp" sigs.k8s.io/kind)
    mv -f "$binary.tmp" "$binary"
    echo "build-kind-cli: built kind $version in $((SECONDS - started)) s" >&2
fi
echo "$binary"
