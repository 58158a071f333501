#!/usr/bin/env bash
# The skaffold CLI, built here from its Go module (version pinned in tools/skaffold/go.mod), so that
# `skaffold run` (skaffold.yaml) can be run against the kind cluster offline (make skaffold-run,
# tests/e2e/test_kind_skaffold.py).
#
#   scripts/build-skaffold.sh           build unless cached; prints the binary's path
#   scripts/build-skaffold.sh --force   rebuild
#   scripts/build-skaffold.sh --path    print the binary's path only (exit 1 if it is not built)
#
# Cached in ${INTHEGRID_TOOLS_DIR:-$HOME/.cache/inthegrid/tools}/skaffold-<version>/skaffold.
# Skaffold's go.mod has replace directives, which Go applies only in the main module, so the build
# runs inside a writable copy of the downloaded module rather than from a wrapper module (as
# tools/helm does). Measured cold on 2 cores: several minutes (see README's test table).
set -euo pipefail

ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
TOOLS_DIR="${INTHEGRID_TOOLS_DIR:-$HOME/.cache/inthegrid/tools}"
MODULE=github.com/GoogleContainerTools/skaffold/v2

say() { echo "build-skaffold: $*" >&2; }

version="$(awk -v m="$MODULE" '$1 == "require" && $2 == m {print $3; exit} $1 == m {print $2; exit}' \
    "$ROOT/tools/skaffold/go.mod")"
[[ -n $version ]] || { say "no $MODULE in tools/skaffold/go.mod"; exit 2; }
binary="$TOOLS_DIR/skaffold-$version/skaffold"

mode="${1:-}"
case "$mode" in --path | --force | "") ;; *) say "unknown option $mode"; exit 2 ;; esac
if [[ $mode == --path ]]; then
    echo "$binary"
    [[ -x $binary ]]
    exit
fi
if [[ $mode != --force && -x $binary ]]; then
    echo "$binary"
    exit 0
fi

GO="$(command -v go || echo /usr/local/go/bin/go)"
[[ -x $GO ]] || { say "Go is needed to build skaffold $version"; exit 2; }
export GOWORK=off GOTOOLCHAIN=local GOFLAGS="-mod=mod -buildvcs=false" CGO_ENABLED=0
mkdir -p "$TOOLS_DIR/skaffold-$version"
# One build at a time per tools dir (two cold Go builds would only thrash 2 cores).
exec 9>"$TOOLS_DIR/.skaffold-build.lock"
flock 9
[[ $mode != --force && -x $binary ]] && { echo "$binary"; exit 0; }

say "building skaffold $version with $("$GO" env GOVERSION) (several minutes cold)"
started=$SECONDS
source_dir="$("$GO" mod download -json "$MODULE@$version" | awk -F'"' '$2 == "Dir" {print $4}')"
[[ -d $source_dir ]] || { say "go mod download $MODULE@$version gave no directory"; exit 1; }
build="$(mktemp -d)"
trap 'chmod -R u+w "$build" 2>/dev/null; rm -rf "$build"' EXIT
cp -r "$source_dir/." "$build/"
chmod -R u+w "$build"
# The version skaffold reports (`skaffold version`) is a link-time constant, as in its Makefile.
(cd "$build" && "$GO" build -trimpath \
    -ldflags "-s -w -X $MODULE/pkg/skaffold/version.version=$version" \
    -o "$binary.tmp" ./cmd/skaffold)
mv -f "$binary.tmp" "$binary"
say "built $binary in $((SECONDS - started)) s"
echo "$binary"
