#!/usr/bin/env bash
# down.sh removes the local cluster started by up.sh: every process, network
# namespace, link and mount it made, and its state files. Idempotent.
#
# Environment: STATE_DIR (default <repo>/.local).
set -euo pipefail

root=$(cd "$(dirname "$0")/../.." && pwd)
state=${STATE_DIR:-$root/.local}

if [ ! -e "$state/cluster.json" ]; then
	echo ">> no cluster in $state; nothing to do"
	exit 0
fi
if [ "$(id -u)" -ne 0 ]; then
	echo "down.sh: removing the local cluster needs root; try: sudo -E $0" >&2
	exit 1
fi
mkdir -p "$state/bin"
if [ ! -x "$state/bin/local-cluster" ]; then
	(cd "$root" && go build -o "$state/bin/" ./test/localcluster/cmd/local-cluster)
fi
exec "$state/bin/local-cluster" down --state-dir "$state"
