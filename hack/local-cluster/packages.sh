#!/usr/bin/env bash
# packages.sh installs the Debian packages the local cluster needs when they
# are missing: etcd-server, containernetworking-plugins, iproute2, util-linux;
# with REAL_NODES set also containerd, runc, iptables and conntrack.
set -euo pipefail

missing=()
[ -x /usr/bin/etcd ] || missing+=(etcd-server)
[ -x /usr/lib/cni/macvlan ] && [ -x /usr/lib/cni/host-local ] || missing+=(containernetworking-plugins)
command -v ip >/dev/null || missing+=(iproute2)
command -v nsenter >/dev/null || missing+=(util-linux)
if [ -n "${REAL_NODES:-}" ]; then
	for p in containerd runc iptables conntrack; do command -v "$p" >/dev/null || missing+=("$p"); done
fi

if [ "${#missing[@]}" -eq 0 ]; then
	echo ">> packages present: etcd-server containernetworking-plugins iproute2${REAL_NODES:+ containerd runc iptables conntrack}"
	exit 0
fi
echo ">> installing ${missing[*]}"
export DEBIAN_FRONTEND=noninteractive
apt-get update -qq
apt-get install -y -qq "${missing[@]}" >/dev/null
echo ">> installed ${missing[*]}"
