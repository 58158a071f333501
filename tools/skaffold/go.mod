// Version pin only: the skaffold CLI (github.com/GoogleContainerTools/skaffold/v2) for `skaffold run`
// against the kind cluster (tests/e2e/test_kind_skaffold.py). Its own go.mod carries replace
// directives, which a dependent module ignores, so scripts/build-skaffold.sh builds inside a copy of
// the downloaded module instead of from here; this file only names the version.
module inthegrid.invalid/tools/skaffold

go 1.26.0

require github.com/GoogleContainerTools/skaffold/v2 v2.16.1
