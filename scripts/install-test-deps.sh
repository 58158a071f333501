#!/usr/bin/env bash
# Installs the system tools the browser, k8s and operator test tiers use, where this machine allows:
# Debian's chromium (Playwright drives it; nothing is downloaded by Playwright), Debian's prometheus
# (promtool and a real Prometheus), and etcd/kube-apiserver/kube-controller-manager/kubectl/helm built
# from Go modules (scripts/build-k8s-tools.sh, cached outside the repository), and TimescaleDB from the
# vendored source against the embedded PostgreSQL (scripts/build-timescaledb.sh, cached likewise).
# Never fails the build: a tier whose tool is missing skips with the reason (the TimescaleDB test
# variants fail instead under CI=true).
set -u
cd "$(dirname "$0")/.."

need=()
command -v chromium >/dev/null 2>&1 || [ -x /usr/bin/chromium ] || need+=(chromium)
command -v promtool >/dev/null 2>&1 || need+=(prometheus)
if [ ${#need[@]} -gt 0 ]; then
  if [ "$(id -u)" = 0 ] && command -v apt-get >/dev/null 2>&1; then
    echo "installing ${need[*]} from Debian"
    (apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends "${need[@]}") \
      >/tmp/inthegrid-apt.log 2>&1 || echo "apt-get install ${need[*]} failed (see /tmp/inthegrid-apt.log); those tiers will skip"
  else
    echo "not root or no apt-get: ${need[*]} not installed; those tiers will skip"
  fi
fi

if [ -x scripts/build-k8s-tools.sh ] || [ -f scripts/build-k8s-tools.sh ]; then
  bash scripts/build-k8s-tools.sh || echo "building the Kubernetes test binaries failed; operator tests will skip"
fi
bash scripts/build-timescaledb.sh ||
  echo "TimescaleDB not built (see above); the TimescaleDB test variants will skip (fail under CI=true)"
exit 0
