#!/usr/bin/env bash
# Render k8s/base/ (plain manifests for kustomize) from the Helm chart with default values and
# release name "inthegrid" in namespace "inthegrid". kustomize's helmCharts needs network access,
# so the base is generated here and tests/k8s checks it is current.
#
#   scripts/render-kustomize-base.sh         (helm from PATH or ~/.cache/inthegrid/tools/bin)
set -euo pipefail
ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
HELM="${HELM:-$(command -v helm || true)}"
if [[ -z "$HELM" ]]; then
    HELM="$("$ROOT/scripts/build-k8s-tools.sh" --print-bin-dir 2>/dev/null || true)/helm"
fi
[[ -x "$HELM" ]] || { echo "render-kustomize-base: helm not found (run scripts/build-k8s-tools.sh helm)" >&2; exit 1; }

"$ROOT/scripts/sync-chart-files.sh" >/dev/null
BASE="$ROOT/k8s/base"
mkdir -p "$BASE"
rm -f "$BASE"/*.yaml
# CRDs come from the chart's crds/ unchanged; everything else from `helm template`.
cp "$ROOT"/charts/inthegrid/crds/*.yaml "$BASE/" 2>/dev/null || true
# The generated Secrets are not rendered (they would hold random passwords and a random API key, new
# on every render): overlays supply `inthegrid-database` (keys password, replication-password, url) and
# `inthegrid-api-keys` (key apiKeys: comma-separated API keys) and `inthegrid-nats-users` (keys
# feed-password, calculator-password, recorder-password, gateway-password), as k8s/overlays/dev does. API keys stay
# required in the base, so an overlay that forgets the Secret leaves the gateway not starting rather
# than open.
"$HELM" template inthegrid "$ROOT/charts/inthegrid" --namespace inthegrid \
    --set database.bundled.existingSecret=inthegrid-database \
    --set gateway.apiKeysSecret=inthegrid-api-keys \
    --set nats.usersSecret=inthegrid-nats-users \
    | "$ROOT/.venv/bin/python" "$ROOT/scripts/split_manifests.py" "$BASE"
echo "render-kustomize-base: wrote $(ls "$BASE" | wc -l) files to $BASE"
