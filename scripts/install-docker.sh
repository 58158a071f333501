#!/usr/bin/env bash
# A Docker engine for building and testing the images here, from Debian's packages only.
#
#   scripts/install-docker.sh            install what is missing, start dockerd if it is not running
#   scripts/install-docker.sh --check    exit 0 if the engine answers, 1 otherwise (installs nothing)
#
# - apt-get installs docker.io (dockerd 20.10, containerd, runc) and mmdebstrap (the base image's
#   root filesystem, scripts/build-base-image.sh; skipped when PYTHON_IMAGE names another base) when
#   they are missing. Root is needed only for that and for starting dockerd.
# - Without systemd as PID 1 nothing starts dockerd: it is started in the background with its log
#   in ${INTHEGRID_DOCKERD_LOG:-/var/log/inthegrid-dockerd.log}; the script waits for the socket.
# - dockerd gets the runtime `runc-bounded` (scripts/runc-bounded-caps, copied to a fixed path so
#   the engine does not depend on this checkout) as its default runtime: `docker run --privileged`
#   (kind's nodes) otherwise fails where the host's capability bounding set lacks a capability.
#   A dockerd that is already running is left alone; the script says if it lacks that runtime.
# Idempotent: a second run with everything in place only checks.
set -euo pipefail

ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
RUNTIME_NAME=runc-bounded
RUNTIME_PATH=/usr/local/libexec/inthegrid/runc-bounded-caps
LOG="${INTHEGRID_DOCKERD_LOG:-/var/log/inthegrid-dockerd.log}"
SOCKET=/var/run/docker.sock
WAIT_SECONDS="${INTHEGRID_DOCKERD_WAIT_SECONDS:-60}"

say() { echo "install-docker: $*" >&2; }

engine_answers() { docker version --format '{{.Server.Version}}' >/dev/null 2>&1; }

if [[ "${1:-}" == "--check" ]]; then
    engine_answers
    exit
fi

need_root() {
    if [[ $(id -u) -ne 0 ]]; then
        say "needs root to $1; run it as root or with sudo"
        exit 2
    fi
}

missing=()
command -v dockerd >/dev/null || missing+=(docker.io)
# mmdebstrap builds the Python base; not needed where PYTHON_IMAGE names a pullable base instead.
[[ -n ${PYTHON_IMAGE:-} ]] || command -v mmdebstrap >/dev/null || missing+=(mmdebstrap)
if ((${#missing[@]})); then
    need_root "install ${missing[*]}"
    say "installing ${missing[*]} with apt-get"
    export DEBIAN_FRONTEND=noninteractive
    apt-get update -qq
    # The packages' init scripts cannot start anything without an init system; that is expected.
    apt-get install -y -qq --no-install-recommends "${missing[@]}" iptables ca-certificates >/dev/null
fi

# The wrapper runtime, at a path that outlives this checkout (dockerd calls it for every container).
install_wrapper() {
    if ! cmp -s "$ROOT/scripts/runc-bounded-caps" "$RUNTIME_PATH" 2>/dev/null; then
        install -D -m 0755 "$ROOT/scripts/runc-bounded-caps" "$RUNTIME_PATH"
    fi
}

if engine_answers; then
    [[ $(id -u) -ne 0 ]] || install_wrapper
    if ! docker info --format '{{json .Runtimes}}' 2>/dev/null | grep -q "\"$RUNTIME_NAME\""; then
        say "dockerd is running without the $RUNTIME_NAME runtime: builds work, but" \
            "'docker run --privileged' (kind nodes) may fail where the capability bounding set is short"
    fi
    exit 0
fi

need_root "start dockerd"
install_wrapper
if pgrep -x dockerd >/dev/null; then
    say "a dockerd process exists but does not answer on $SOCKET; see $LOG"
else
    say "starting dockerd (log: $LOG)"
    mkdir -p "$(dirname "$LOG")"
    # setsid: the daemon must outlive this script and the shell that ran it.
    setsid dockerd \
        --add-runtime "$RUNTIME_NAME=$RUNTIME_PATH" \
        --default-runtime "$RUNTIME_NAME" \
        >>"$LOG" 2>&1 </dev/null &
fi

for ((i = 0; i < WAIT_SECONDS * 4; i++)); do
    if [[ -S $SOCKET ]] && engine_answers; then
        say "dockerd $(docker version --format '{{.Server.Version}}') answers on $SOCKET"
        exit 0
    fi
    sleep 0.25
done
say "dockerd did not answer within ${WAIT_SECONDS}s; last lines of $LOG:"
tail -n 20 "$LOG" >&2 || true
exit 1
