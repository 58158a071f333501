// Build-only module: crictl (sigs.k8s.io/cri-tools) for the kind node base image; kubeadm's
// preflight needs it. See scripts/build-kind-base-image.sh.
module inthegrid.invalid/tools/crictl

go 1.26.0

require sigs.k8s.io/cri-tools v1.34.0 // indirect
