#!/usr/bin/env bash
# skaffold (skaffold.yaml) on a machine that reaches no container registry: the skaffold CLI built
# from its Go module (scripts/build-skaffold.sh), profile `built-here`, and every image it needs
# built on this machine: the Python base for the Dockerfile (scripts/build-base-image.sh) and the
# chart's bundled NATS and TimescaleDB (scripts/build-nats-image.sh, build-timescaledb-image.sh),
# which `kind load docker-image` puts into the cluster's node before skaffold deploys.
#
#   scripts/skaffold.sh run [ARGS...]      build the image, load it into kind, helm install (make skaffold-run)
#   scripts/skaffold.sh delete [ARGS...]   helm uninstall the release
#   scripts/skaffold.sh COMMAND [ARGS...]  any other skaffold command (dev, build, render, ...)
#
# The cluster is the kind cluster INTHEGRID_KIND_CLUSTER (default inthegrid, k8s/kind-cluster.yaml's
# name; kube context kind-<name>). kind, helm and kubectl come from the build scripts' tools dir
# (scripts/build-kind-cli.sh, scripts/build-k8s-tools.sh). With a registry in reach none of this is
# needed: plain `skaffold run` pulls the public base, NATS and TimescaleDB images.
set -euo pipefail

ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
CLUSTER="${INTHEGRID_KIND_CLUSTER:-inthegrid}"
say() { echo "skaffold.sh: $*" >&2; }

(($#)) || { say "usage: scripts/skaffold.sh COMMAND [ARGS...] (run, delete, dev, ...)"; exit 2; }
command="$1"
shift

skaffold="$(bash "$ROOT/scripts/build-skaffold.sh")"
kind="$(bash "$ROOT/scripts/build-kind-cli.sh")"
tools_bin="$(bash "$ROOT/scripts/build-k8s-tools.sh" --print-bin-dir)"
# skaffold runs `kind load docker-image` and `helm` from PATH.
export PATH="$(dirname "$kind"):$tools_bin:$PATH"

nats="$(bash "$ROOT/scripts/build-nats-image.sh")"
database="$(bash "$ROOT/scripts/build-timescaledb-image.sh")"
export INTHEGRID_PYTHON_IMAGE="$(bash "$ROOT/scripts/build-base-image.sh")"
export INTHEGRID_NATS_IMAGE_REPOSITORY="${nats%:*}" INTHEGRID_NATS_IMAGE_TAG="${nats##*:}"
export INTHEGRID_DATABASE_IMAGE_REPOSITORY="${database%:*}" INTHEGRID_DATABASE_IMAGE_TAG="${database##*:}"

case "$command" in
    run | dev | deploy)
        for image in "$nats" "$database"; do
            say "kind load docker-image --name $CLUSTER $image"
            "$kind" load docker-image --name "$CLUSTER" "$image" >&2
        done
        ;;
esac
# Skaffold's own settings beside its binary, not in ~/.skaffold: no usage metrics sent (its first run
# would otherwise opt in), no update check or survey (nothing but the module proxy is reachable).
global_config="$(dirname "$skaffold")/global-config.yaml"
cat >"$global_config" <<'CONFIG'
global:
  collect-metrics: false
  update-check: false
  survey:
    disable-prompt: true
CONFIG
# Its artifact cache there too (skaffold reads a flag from SKAFFOLD_<FLAG>, for the commands that have it).
export SKAFFOLD_CACHE_FILE="$(dirname "$skaffold")/artifact-cache"
cd "$ROOT"
exec "$skaffold" "$command" --config "$global_config" --update-check=false --profile built-here \
    --kube-context "kind-$CLUSTER" "$@"
