#!/usr/bin/env bash
# packages.sh installs the Debian packages the local cluster needs when they
# are missing: etcd-server, containernetworking-plugins, iproute2, util-linux.
set -euo pipefail

missing=()
[ -x /usr/bin/etcd ] || missing+=(etcd-server)
[ -x /usr/lib/cni/macvlan ] && [ -x /usr/lib/cni/host-local ] || missing+=(containernetworking-plugins)
command -v ip >/dev/null || missing+=(iproute2)
command -v nsenter >/dev/null || missing+=(util-linux)

if [ "${#missing[@]}" -eq 0 ]; then
	echo ">> packages present: etcd-server containernetworking-plugins iproute2"
	exit 0
fi
echo ">> installing ${missing[*]}"
export DEBIAN_FRONTEND=noninteractive
apt-get update -qq
apt-get install -y -qq "${missing[@]}" >/dev/null
echo ">> installed ${missing[*]}"
