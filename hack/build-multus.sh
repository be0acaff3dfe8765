#!/usr/bin/env bash
# build-multus.sh builds the Multus thin plugin (the `multus` CNI binary) from
# the module pinned in hack/tools/multus/go.mod, statically linked since it
# runs on the local cluster's nodes as their CNI, and caches it by version
# outside the checkout. A cached build returns at once.
#
# Usage: hack/build-multus.sh          (prints the binary directory on stdout last)
set -euo pipefail

here=$(cd "$(dirname "$0")" && pwd)
module=gopkg.in/k8snetworkplumbingwg/multus-cni.v4
version=$(awk -v m="$module" '$1 == "require" && $2 == m {print $3}' "$here/tools/multus/go.mod")
cache=${IPKEEPER_CACHE:-$HOME/.cache/ipkeeper}
bin="$cache/multus-$version"

if [ -x "$bin/multus" ]; then
	echo "$bin"
	exit 0
fi
echo ">> building Multus $version into $bin (about a minute, once per machine)" >&2
start=$SECONDS
rm -rf "$bin.tmp"
mkdir -p "$bin.tmp"
(cd "$here/tools/multus" && CGO_ENABLED=0 go build -trimpath -ldflags "-s -w" -o "$bin.tmp/multus" "$module/cmd/multus")
rm -rf "$bin"
mv "$bin.tmp" "$bin"
echo ">> built in $((SECONDS - start))s" >&2
echo "$bin"
