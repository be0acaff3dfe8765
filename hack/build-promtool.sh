#!/usr/bin/env bash
# build-promtool.sh builds promtool from the Prometheus module pinned in
# hack/tools/prometheus/go.mod (it checks and unit-tests the chart's alert
# rules) and caches it by version outside the checkout. A cached build returns
# at once; the first takes long (its dependency tree is large).
#
# Usage: hack/build-promtool.sh        (prints the promtool binary's path on stdout last)
set -euo pipefail

here=$(cd "$(dirname "$0")" && pwd)
module=github.com/prometheus/prometheus
version=$(awk -v m="$module" '$1 == m {print $2}' "$here/tools/prometheus/go.mod")
cache=${IPKEEPER_CACHE:-$HOME/.cache/ipkeeper}
bin="$cache/promtool-$version"

if [ -x "$bin/promtool" ]; then
	echo "$bin/promtool"
	exit 0
fi
echo ">> building promtool $version into $bin (10 minutes or more on 2 cores, once per machine)" >&2
start=$SECONDS
rm -rf "$bin.tmp"
mkdir -p "$bin.tmp"
(cd "$here/tools/prometheus" && CGO_ENABLED=0 go build -trimpath -ldflags "-s -w" -o "$bin.tmp/promtool" "$module/cmd/promtool")
rm -rf "$bin"
mv "$bin.tmp" "$bin"
echo ">> built in $((SECONDS - start))s" >&2
echo "$bin/promtool"
