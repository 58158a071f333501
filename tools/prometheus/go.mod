// Build-only module: compiles the Prometheus server (github.com/prometheus/prometheus, whose Go module
// versions are v0.<major*100+minor>.<patch>: v0.316.0 is Prometheus 3.16.0) for the chart's optional
// bundled Prometheus. See scripts/build-prometheus-image.sh; its dependencies resolve at build time.
module inthegrid.invalid/tools/prometheus

go 1.26.0

require github.com/prometheus/prometheus v0.316.0
