package coordinator

import (
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"net"
	"net/netip"
	"strings"
)

const (
	// PodVethName is the pod's end of the veth pair to its node.
	PodVethName = "veth0"
	// hostVethPrefix starts the name of the node's end of every pod's veth.
	hostVethPrefix = "ipkc"
	// aliasPrefix starts the alias of both ends of a veth the plugin made,
	// followed by the pod interface whose ADD made it: its DEL removes it.
	aliasPrefix = "ipkeeper-coordinator:"
	// tableBase plus a pod interface's index is that interface's routing
	// table in the pod.
	tableBase = 100
	// RulePriority is the priority of the plugin's policy rules: in the pod
	// (from an interface's address to its table) and on the node (to the
	// pods' routes of hostRuleTable), ahead of the main table (32766).
	RulePriority = 1000
)

// HostVethName is the node's end of the veth of the sandbox containerID:
// stable, so that DEL finds it without any state, and 15 characters at most.
func HostVethName(containerID string) string {
	sum := sha256.Sum256([]byte(containerID))
	return hostVethPrefix + hex.EncodeToString(sum[:])[:11]
}

// IsHostVeth reports whether a node link is the node's end of a pod veth.
func IsHostVeth(name string) bool {
	return strings.HasPrefix(name, hostVethPrefix) && len(name) == 15
}

// vethAlias marks a veth as made by the ADD of pod interface ifName.
func vethAlias(ifName string) string { return aliasPrefix + ifName }

// vethOwner is the pod interface whose ADD made the veth with alias, "" when
// the plugin did not make it.
func vethOwner(alias string) string {
	owner, ok := strings.CutPrefix(alias, aliasPrefix)
	if !ok {
		return ""
	}
	return owner
}

// TableOf is the pod routing table of the interface with index ifIndex.
func TableOf(ifIndex int) int { return tableBase + ifIndex }

// MACFromPrefix is the MAC address a pod interface with IPv4 address ip
// gets under prefix ("0a:1b"): the prefix, then the address's four bytes,
// so that the same address always has the same MAC.
func MACFromPrefix(prefix string, ip netip.Addr) (net.HardwareAddr, error) {
	if !ip.Is4() {
		return nil, fmt.Errorf("podMACPrefix needs an IPv4 address, got %s", ip)
	}
	b := ip.As4()
	return net.ParseMAC(fmt.Sprintf("%s:%02x:%02x:%02x:%02x", prefix, b[0], b[1], b[2], b[3]))
}
