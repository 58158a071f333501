// The pod sandbox ("pause") program of the kind node image built here; see
// scripts/build-kind-base-image.sh. Standard library only.
module inthegrid.invalid/tools/pause

go 1.26.0
