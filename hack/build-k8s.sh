#!/usr/bin/env bash
# build-k8s.sh builds kube-apiserver, kube-controller-manager, kube-scheduler,
# kubectl, kubelet and kube-proxy from the k8s.io/kubernetes module pinned in
# hack/tools/k8s/go.mod and caches them by version outside the checkout. A cached
# build returns at once; a cache missing some commands (one made before the
# kubelet and kube-proxy were added) gets only those built.
#
# Usage: hack/build-k8s.sh            (prints the binary directory on stdout last)
set -euo pipefail

here=$(cd "$(dirname "$0")" && pwd)
version=$(awk '$1 == "require" && $2 == "k8s.io/kubernetes" {print $3}' "$here/tools/k8s/go.mod")
cache=${IPKEEPER_CACHE:-$HOME/.cache/ipkeeper}
bin="$cache/k8s-$version"
cmds=(kube-apiserver kube-controller-manager kube-scheduler kubectl kubelet kube-proxy)

missing=()
for c in "${cmds[@]}"; do [ -x "$bin/$c" ] || missing+=("$c"); done
if [ "${#missing[@]}" -eq 0 ]; then
	echo "$bin"
	exit 0
fi

rm -rf "$bin.tmp"
mkdir -p "$bin.tmp"
echo ">> building Kubernetes $version (${missing[*]}) into $bin (about 11 minutes on 2 cores for all, once per machine)" >&2
cd "$here/tools/k8s"
ldflags="-s -w -X k8s.io/component-base/version.gitVersion=$version -X k8s.io/component-base/version.gitMajor=1 -X k8s.io/component-base/version.gitMinor=$(echo "$version" | cut -d. -f2)"
ldflags+=" -X k8s.io/client-go/pkg/version.gitVersion=$version"
start=$SECONDS
# go build -v names each package as it is compiled; turn that into a progress line.
go build -v -ldflags "$ldflags" -o "$bin.tmp/" \
	$(for c in "${missing[@]}"; do echo "k8s.io/kubernetes/cmd/$c"; done) 2>&1 |
	awk -v start="$start" '
		/^(go: |#|.*\.go:[0-9]+)/ { print > "/dev/stderr"; next }
		{ n++; if (n % 200 == 0) { printf ">> %d packages compiled\n", n > "/dev/stderr"; fflush("/dev/stderr") } }
		END { printf ">> %d packages compiled\n", n > "/dev/stderr" }'
status=${PIPESTATUS[0]}
if [ "$status" -ne 0 ]; then
	echo ">> build failed" >&2
	exit "$status"
fi
mkdir -p "$bin"
mv "$bin.tmp"/* "$bin/"
rmdir "$bin.tmp"
echo ">> built in $((SECONDS - start))s" >&2
echo "$bin"
