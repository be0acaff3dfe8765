#!/usr/bin/env bash
# build-helm.sh builds the helm command from the helm.sh/helm/v3 module pinned in
# hack/tools/helm/go.mod and caches it by version outside the checkout. A cached
# build returns at once.
#
# Usage: hack/build-helm.sh            (prints the helm binary's path on stdout last)
set -euo pipefail

here=$(cd "$(dirname "$0")" && pwd)
mod="$here/tools/helm/go.mod"
version=$(awk '$1 == "require" && $2 == "helm.sh/helm/v3" {print $3}' "$mod")
cache=${IPKEEPER_CACHE:-$HOME/.cache/ipkeeper}
bin="$cache/helm-$version"

if [ -x "$bin/helm" ]; then
	echo "$bin/helm"
	exit 0
fi

mkdir -p "$bin.tmp"
echo ">> building helm $version into $bin (about 4 minutes on 2 cores, once per machine)" >&2
cd "$here/tools/helm"
# helm's own release build stamps its version and the Kubernetes version it was
# built against (client-go v0.M.N means Kubernetes 1.M); do the same.
kube_minor=$(awk '$1 == "k8s.io/client-go" {split($2, v, "."); print v[2]}' "$mod")
ldflags="-s -w -X helm.sh/helm/v3/internal/version.version=$version"
for p in helm.sh/helm/v3/pkg/lint/rules helm.sh/helm/v3/pkg/chartutil; do
	ldflags+=" -X $p.k8sVersionMajor=1 -X $p.k8sVersionMinor=$kube_minor"
done
start=$SECONDS
# go build -v names each package as it is compiled; turn that into a progress line.
CGO_ENABLED=0 go build -v -trimpath -ldflags "$ldflags" -o "$bin.tmp/helm" helm.sh/helm/v3/cmd/helm 2>&1 |
	awk '
		/^(go: |#|.*\.go:[0-9]+)/ { print > "/dev/stderr"; next }
		{ n++; if (n % 200 == 0) { printf ">> %d packages compiled\n", n > "/dev/stderr"; fflush("/dev/stderr") } }
		END { printf ">> %d packages compiled\n", n > "/dev/stderr" }'
status=${PIPESTATUS[0]}
if [ "$status" -ne 0 ]; then
	echo ">> build failed" >&2
	exit "$status"
fi
rm -rf "$bin"
mv "$bin.tmp" "$bin"
echo ">> built in $((SECONDS - start))s" >&2
echo "$bin/helm"
