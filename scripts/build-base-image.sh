#!/usr/bin/env bash
# The Python 3.11 base image for the Dockerfile, built from Debian packages where the public
# python:3.11-slim-bookworm image cannot be pulled (no container registry reachable).
#
#   scripts/build-base-image.sh           build it unless an image of the same recipe exists;
#                                         prints the image name (the Dockerfile's PYTHON_IMAGE)
#   scripts/build-base-image.sh --force   rebuild (e.g. to pick up Debian security updates)
#   scripts/build-base-image.sh --name    print the image name only, build nothing
#
# Recipe: mmdebstrap --variant=minbase bookworm with python3.11, python3.11-venv (its ensurepip
# gives each virtualenv its own pip, so Debian's python3-pip is not needed), ca-certificates and
# passwd (useradd for the Dockerfile); bookworm-updates and bookworm-security included (mmdebstrap
# adds them for Debian suites); /usr merged by mmdebstrap's hook rather than the usrmerge package
# (which would pull in perl, 50 MB); a `python` link; and the certificate
# authorities this machine added under /usr/local/share/ca-certificates (so pip inside the build
# trusts the same TLS as the host). No documentation, man pages or apt lists. `docker import`.
# The tag ends in a hash of this recipe (this script + those certificates), so a changed recipe
# builds a new image and an unchanged one is reused.
set -euo pipefail

REPOSITORY="${INTHEGRID_BASE_REPOSITORY:-inthegrid-python}"
SUITE=bookworm
PACKAGES=python3.11,python3.11-venv,ca-certificates,passwd
LOCAL_CAS=(/usr/local/share/ca-certificates/*.crt)
[[ -e ${LOCAL_CAS[0]} ]] || LOCAL_CAS=()

say() { echo "build-base-image: $*" >&2; }

recipe_hash() {
    { cat "${BASH_SOURCE[0]}"; ((${#LOCAL_CAS[@]} == 0)) || cat "${LOCAL_CAS[@]}"; } |
        sha256sum | cut -c1-12
}
IMAGE="$REPOSITORY:3.11-$SUITE-$(recipe_hash)"

case "${1:-}" in
    --name) echo "$IMAGE"; exit 0 ;;
    --force) force=1 ;;
    "") force=0 ;;
    *) say "unknown option $1"; exit 2 ;;
esac

if ((!force)) && docker image inspect "$IMAGE" >/dev/null 2>&1; then
    say "$IMAGE exists (same recipe); not rebuilding"
    echo "$IMAGE"
    exit 0
fi
command -v mmdebstrap >/dev/null || { say "mmdebstrap missing: run scripts/install-docker.sh"; exit 2; }

work="$(mktemp -d)"
trap 'rm -rf "$work"' EXIT
if ((${#LOCAL_CAS[@]})); then
    mkdir -p "$work/cas"
    cp "${LOCAL_CAS[@]}" "$work/cas/"
fi

say "building $IMAGE with mmdebstrap (minbase $SUITE + $PACKAGES)"
started=$SECONDS
# dpkg path-exclude keeps documentation out of the image (as Docker's official Debian images do);
# copyright files stay.
mmdebstrap --variant=minbase --quiet \
    --include="$PACKAGES" \
    --hook-dir=/usr/share/mmdebstrap/hooks/merged-usr \
    --dpkgopt='path-exclude=/usr/share/man/*' \
    --dpkgopt='path-exclude=/usr/share/doc/*' \
    --dpkgopt='path-include=/usr/share/doc/*/copyright' \
    --dpkgopt='path-exclude=/usr/share/info/*' \
    --dpkgopt='path-exclude=/usr/share/locale/*' \
    --customize-hook='chroot "$1" ln -sf python3.11 /usr/bin/python' \
    --customize-hook="if [ -d '$work/cas' ]; then cp '$work'/cas/*.crt \"\$1/usr/local/share/ca-certificates/\" && chroot \"\$1\" update-ca-certificates >/dev/null; fi" \
    --customize-hook='rm -rf "$1"/var/lib/apt/lists/* "$1"/var/cache/apt/* "$1"/var/log/*.log' \
    "$SUITE" "$work/rootfs.tar"

docker import \
    --change 'ENV LANG=C.UTF-8' \
    --change 'ENV PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin' \
    --change 'CMD ["python3"]' \
    --message "mmdebstrap --variant=minbase $SUITE + $PACKAGES (scripts/build-base-image.sh)" \
    "$work/rootfs.tar" "$IMAGE" >/dev/null
docker tag "$IMAGE" "$REPOSITORY:3.11-$SUITE"
say "built $IMAGE in $((SECONDS - started)) s ($(docker image inspect --format '{{.Size}}' "$IMAGE") bytes)"
echo "$IMAGE"
