#!/usr/bin/env bash
# `make image`: the Python base (scripts/build-base-image.sh, cached by recipe), then the project
# image from the Dockerfile, in one or more variants, built one after another.
#
#   scripts/build-image.sh                  the full image only
#   scripts/build-image.sh full services operator
#
#   variant   tag                        extras (pyproject)                         runs
#   full      $IMAGE:$IMAGE_TAG          the Dockerfile's default (every component)  everything
#   services  $IMAGE:$IMAGE_TAG-services services                                   feed, calculator,
#                                                                                   recorder, gateway
#                                                                                   (no /dashboard)
#   operator  $IMAGE:$IMAGE_TAG-operator operator                                   operator
#
# IMAGE (default inthegrid) and IMAGE_TAG (default dev, what k8s/overlays/dev and `kind load
# docker-image inthegrid:dev` use) name the images; PYTHON_IMAGE overrides the base (e.g. the
# public python:3.11.14-slim-bookworm where it can be pulled). Ends with each image's size and
# build time.
set -euo pipefail

ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
IMAGE="${IMAGE:-inthegrid}"
IMAGE_TAG="${IMAGE_TAG:-dev}"
variants=("$@")
((${#variants[@]})) || variants=(full)

say() { echo "build-image: $*" >&2; }

base="${PYTHON_IMAGE:-}"
if [[ -z $base ]]; then
    base="$(bash "$ROOT/scripts/build-base-image.sh")"
fi

summary=()
for variant in "${variants[@]}"; do
    args=()
    case "$variant" in
        full) tag="$IMAGE:$IMAGE_TAG" ;;
        services | operator) tag="$IMAGE:$IMAGE_TAG-$variant"; args=(--build-arg "EXTRAS=$variant") ;;
        *) say "unknown variant $variant (full, services, operator)"; exit 2 ;;
    esac
    say "building $tag on $base"
    started=$SECONDS
    # --network host: the build's pip reaches PyPI the way this machine does (no bridge NAT needed).
    # DOCKER_BUILDKIT=0: the classic builder needs no frontend image from a registry.
    log="${TMPDIR:-/tmp}/inthegrid-image-$variant.log"
    if ! DOCKER_BUILDKIT=0 docker build --network host \
        --build-arg "PYTHON_IMAGE=$base" "${args[@]}" \
        -t "$tag" "$ROOT" >"$log" 2>&1; then
        say "building $tag failed; last lines of $log:"
        tail -n 40 "$log" >&2
        exit 1
    fi
    seconds=$((SECONDS - started))
    bytes="$(docker image inspect --format '{{.Size}}' "$tag")"
    summary+=("$(printf '%-28s %6d MB %5d s' "$tag" $((bytes / 1000000)) "$seconds")")
done
say "image                          size    build"
for line in "${summary[@]}"; do say "$line"; done
