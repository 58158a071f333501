#!/usr/bin/env bash
# Copy the canonical Grafana dashboards (dashboards/*.json) and Prometheus rules
# (prometheus/rules/inthegrid.rules.yml) into the chart, which helm can only read from inside
# charts/inthegrid/. tests/k8s checks the copies are equal to the originals.
set -euo pipefail
ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
CHART="$ROOT/charts/inthegrid"
rm -f "$CHART"/files/dashboards/*.json
mkdir -p "$CHART/files/dashboards" "$CHART/files/prometheus"
cp "$ROOT"/dashboards/*.json "$CHART/files/dashboards/"
cp "$ROOT/prometheus/rules/inthegrid.rules.yml" "$CHART/files/prometheus/inthegrid.rules.yml"
echo "sync-chart-files: dashboards and rules copied into $CHART/files"
