#!/usr/bin/env bash
# Audit the locked dependencies (requirements.lock) against PyPI's vulnerability data with pip-audit.
#
# Exit status:
#   0  every locked package was audited and none has a known vulnerability;
#   0  SKIPPED: PyPI cannot be reached, or PyPI has no per-release data for some packages (they are
#      named); set AUDIT_STRICT=1 to make unaudited packages fail instead;
#   1  at least one known vulnerability (each is listed with the versions that fix it);
#   2  pip-audit itself failed (its output is shown).
#
# Usage: scripts/audit-deps.sh [LOCK_FILE]      (default: requirements.lock)
# Environment: PIP_AUDIT (default .venv/bin/pip-audit), AUDIT_STRICT=1, AUDIT_TIMEOUT (seconds, default 15),
#   AUDIT_RESULTS=FILE to report on a saved `pip-audit -f json` result instead of running pip-audit.
set -euo pipefail

ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
LOCK="${1:-$ROOT/requirements.lock}"
PYTHON="${PYTHON:-$ROOT/.venv/bin/python}"
PIP_AUDIT="${PIP_AUDIT:-$ROOT/.venv/bin/pip-audit}"
TIMEOUT="${AUDIT_TIMEOUT:-15}"
PYPI="${AUDIT_PYPI_URL:-https://pypi.org}"  # only the reachability probe; pip-audit asks pypi.org

[ -x "$PYTHON" ] || PYTHON="$(command -v python3)"
if [ ! -f "$LOCK" ]; then
    echo "audit-deps: lock file $LOCK not found" >&2
    exit 2
fi

results="${AUDIT_RESULTS:-}"
if [ -z "$results" ]; then
    if [ ! -x "$PIP_AUDIT" ]; then
        echo "audit-deps: pip-audit not found at $PIP_AUDIT (install the dev extra)" >&2
        exit 2
    fi
    # pip-audit asks pypi.org itself (not the configured index), so probe that host first: offline is a skip.
    if ! "$PYTHON" - "$PYPI/simple/pip/" "$TIMEOUT" <<'EOF'
import sys
import urllib.request

try:
    urllib.request.urlopen(sys.argv[1], timeout=float(sys.argv[2])).close()
except OSError as exc:
    print(f"audit-deps: {sys.argv[1]} unreachable: {exc}", file=sys.stderr)
    sys.exit(1)
EOF
    then
        echo "audit-deps: SKIPPED: PyPI cannot be reached, so nothing was audited"
        exit 0
    fi
    workdir="$(mktemp -d)"
    trap 'rm -rf "$workdir"' EXIT
    results="$workdir/audit.json"
    echo "audit-deps: auditing $(grep -cE '^[A-Za-z0-9]' "$LOCK") pinned packages of $LOCK against $PYPI"
    # --no-deps --disable-pip: the lock is complete and pinned, so nothing is resolved or installed.
    # pip-audit exits 1 on findings; the report below decides the exit status from the JSON.
    set +e
    "$PIP_AUDIT" -r "$LOCK" --no-deps --disable-pip --progress-spinner off --timeout "$TIMEOUT" \
        -f json -o "$results" >"$workdir/pip-audit.log" 2>&1
    status=$?
    set -e
    if [ ! -s "$results" ]; then
        cat "$workdir/pip-audit.log" >&2
        if grep -qiE 'connection|timed out|resolve host|network is unreachable' "$workdir/pip-audit.log"; then
            echo "audit-deps: SKIPPED: PyPI stopped answering during the audit"
            exit 0
        fi
        echo "audit-deps: pip-audit failed (exit $status) without a result" >&2
        exit 2
    fi
fi

AUDIT_STRICT="${AUDIT_STRICT:-0}" "$PYTHON" - "$results" <<'EOF'
"""Turn pip-audit's JSON into a short verdict: vulnerable packages with their fixes, then unaudited ones."""
import json
import os
import sys

report = json.load(open(sys.argv[1]))
deps = report.get("dependencies", [])
vulnerable = [d for d in deps if d.get("vulns")]
unaudited = [d for d in deps if d.get("skip_reason")]
audited = len(deps) - len(unaudited)

for dep in vulnerable:
    print(f"VULNERABLE {dep['name']}=={dep['version']}")
    for vuln in dep["vulns"]:
        fixes = ", ".join(vuln.get("fix_versions") or []) or "no fixed version yet"
        aliases = ", ".join(vuln.get("aliases") or [])
        print(f"  {vuln['id']}{f' ({aliases})' if aliases else ''}: fixed in {fixes}")
if unaudited:
    print(f"NOT AUDITED ({len(unaudited)}): PyPI returned no data for these pinned releases:")
    for dep in unaudited:
        print(f"  {dep['name']}: {dep['skip_reason']}")

findings = sum(len(d["vulns"]) for d in vulnerable)
print(
    f"audit-deps: {audited} of {len(deps)} packages audited, {findings} known vulnerabilities"
    f" in {len(vulnerable)} packages, {len(unaudited)} not audited"
)
if vulnerable:
    print("audit-deps: FAILED: upgrade the packages above to a fixed version and re-lock")
    sys.exit(1)
if unaudited:
    if os.environ.get("AUDIT_STRICT") == "1":
        print("audit-deps: FAILED: some packages could not be audited (AUDIT_STRICT=1)")
        sys.exit(1)
    print("audit-deps: SKIPPED for the packages not audited (set AUDIT_STRICT=1 to fail instead)")
    sys.exit(0)
print("audit-deps: OK: no known vulnerabilities")
EOF
