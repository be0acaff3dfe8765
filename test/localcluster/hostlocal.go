package localcluster

import (
	"encoding/json"
	"fmt"
	"net/netip"
)

// HostLocalNetworkName is the name of the default network in IPAM=host-local.
const HostLocalNetworkName = "macvlan-hostlocal"

// HostLocalNetwork renders the node default network of IPAM=host-local:
// macvlan (bridge mode) on ens192 with Debian's host-local IPAM handing out
// the node's own /24 of the shared 10.6.0.0/16 underlay.
func HostLocalNetwork(n Node) ([]byte, error) {
	first := n.PodRange.Addr().Next()
	last := lastUsable(n.PodRange)
	conf := map[string]any{
		"cniVersion": "1.0.0",
		"name":       HostLocalNetworkName,
		"plugins": []any{map[string]any{
			"type":   "macvlan",
			"master": UnderlayInterface,
			"mode":   "bridge",
			"ipam": map[string]any{
				"type": "host-local",
				"ranges": [][]map[string]string{{{
					"subnet":     underlay.String(),
					"rangeStart": first.String(),
					"rangeEnd":   last.String(),
				}}},
			},
		}},
	}
	data, err := json.MarshalIndent(conf, "", "  ")
	if err != nil {
		return nil, fmt.Errorf("encode conflist: %w", err)
	}
	return data, nil
}

// lastUsable returns the address before the broadcast of a /24-or-smaller prefix.
func lastUsable(p netip.Prefix) netip.Addr {
	a := p.Masked().Addr().As4()
	host := uint32(1)<<(32-p.Bits()) - 1
	v := uint32(a[0])<<24 | uint32(a[1])<<16 | uint32(a[2])<<8 | uint32(a[3])
	v += host - 1
	return netip.AddrFrom4([4]byte{byte(v >> 24), byte(v >> 16), byte(v >> 8), byte(v)})
}
