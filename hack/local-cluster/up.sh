#!/usr/bin/env bash
# up.sh starts the local cluster (see docs/local-cluster.md): installs the
# Debian packages it needs when missing, builds the control plane once
# (cached), builds the node simulator and the orchestrator, and runs
# `local-cluster up`. Idempotent: a healthy running cluster is left as is.
#
# Environment: NODES (default 2), IPAM (spiderpool, the default: ipkeeper; or host-local),
#              STATE_DIR (default <repo>/.local), KEEP_ON_FAILURE=1 keeps a failed start,
#              REAL_NODES=1: real nodes (kubelet, containerd, kube-proxy, Multus) with
#              ipkeeper installed by its chart from `make images` (opt-in for now).
set -euo pipefail

root=$(cd "$(dirname "$0")/../.." && pwd)
state=${STATE_DIR:-$root/.local}
UP_STARTED_AT=$(date +%s.%N)
export UP_STARTED_AT
say() { printf '>> [%5ss] %s\n' "$(awk -v now="$(date +%s.%N)" -v t0="$UP_STARTED_AT" 'BEGIN { printf "%.1f", now - t0 }')" "$*"; }

if [ "$(id -u)" -ne 0 ]; then
	echo "up.sh: the local cluster needs root (network namespaces, mounts); try: sudo -E $0" >&2
	exit 1
fi

say "checking packages"
REAL_NODES=${REAL_NODES:-} "$root/hack/local-cluster/packages.sh"

say "building the Kubernetes control plane (cached after the first time)"
k8s_bin=$("$root/hack/build-k8s.sh" | tail -n1)
say "control plane binaries in $k8s_bin"

say "building ipkeeper, ipkeeper-nodesim and local-cluster"
bins=(ipkeeper-nodesim local-cluster ipkeeper-agent ipkeeper-controller spiderpool)
mkdir -p "$state/bin" "$state/bin.new" "$state/bin/cni"
(cd "$root" && go build -o "$state/bin.new/" ./test/localcluster/cmd/ipkeeper-nodesim ./test/localcluster/cmd/local-cluster ./cmd/ipkeeper-agent ./cmd/ipkeeper-controller)
# The CNI plugin ships static: it runs on hosts whose C library is not known.
(cd "$root" && CGO_ENABLED=0 go build -o "$state/bin.new/" ./cmd/spiderpool)
# Rename over the old binaries: running ones cannot be overwritten in place.
for b in "${bins[@]}"; do mv -f "$state/bin.new/$b" "$state/bin/"; done
mv -f "$state/bin/spiderpool" "$state/bin/cni/spiderpool"
rmdir "$state/bin.new"

if [ -n "${REAL_NODES:-}" ]; then
	say "building Multus and helm (cached after the first time)"
	multus_dir=$("$root/hack/build-multus.sh" | tail -n1)
	helm=$("$root/hack/build-helm.sh" | tail -n1)
	tag=$(cd "$root" && git describe --tags --always --dirty 2>/dev/null || echo dev)
	arch=$(go env GOARCH)
	say "building the images (tag $tag, linux/$arch)"
	make -s -C "$root" images IMAGE_PLATFORMS="linux/$arch" VERSION="$tag" BIN="$state/bin" >/dev/null
	images=()
	for f in "$state/bin/images/"*-"$tag-$arch.tar"; do images+=(--image "$f"); done
	say "starting the cluster"
	exec "$state/bin/local-cluster" up \
		--real-nodes \
		--state-dir "$state" \
		--nodes "${NODES:-2}" \
		--ipam "${IPAM:-spiderpool}" \
		--k8s-bin-dir "$k8s_bin" \
		--multus-dir "$multus_dir" \
		--helm "$helm" \
		--chart "$root/charts/ipkeeper" \
		--image-tag "$tag" \
		"${images[@]}"
fi

say "starting the cluster"
exec "$state/bin/local-cluster" up \
	--state-dir "$state" \
	--nodes "${NODES:-2}" \
	--ipam "${IPAM:-spiderpool}" \
	--agent "$state/bin/ipkeeper-agent" \
	--controller "$state/bin/ipkeeper-controller" \
	--plugin-dir "$state/bin/cni" \
	--k8s-bin-dir "$k8s_bin" \
	--nodesim "$state/bin/ipkeeper-nodesim" \
	--crd-dir "$root/config/crd/bases"
