package cni

import (
	"errors"
	"fmt"
	"io"
	"net"
	"net/netip"

	"github.com/containernetworking/cni/pkg/types"
	current "github.com/containernetworking/cni/pkg/types/100"

	"github.com/ipkeeper/ipkeeper/internal/agentapi"
)

var (
	defaultRouteV4 = netip.MustParsePrefix("0.0.0.0/0")
	defaultRouteV6 = netip.MustParsePrefix("::/0")
)

// buildResult turns the agent's answer into a CNI result of the current spec
// version. It checks every address, so a malformed answer becomes an error
// instead of a result the main plugin would half apply.
//
// Routes: for each family whose first address has a gateway, a default route
// via that gateway, then the agent's routes. An explicit default route from
// the agent replaces the synthesized one of its family.
func buildResult(resp *agentapi.AddResponse) (*current.Result, error) {
	if resp == nil || len(resp.IPs) == 0 {
		return nil, errors.New("agent gave no address")
	}
	result := &current.Result{CNIVersion: current.ImplementedSpecVersion}
	seen := map[netip.Addr]bool{}
	gateways := map[bool]netip.Addr{} // keyed by Is4
	for _, ip := range resp.IPs {
		prefix, gw, err := parseIPConfig(ip)
		if err != nil {
			return nil, err
		}
		if seen[prefix.Addr()] {
			return nil, fmt.Errorf("agent gave address %s twice", prefix.Addr())
		}
		seen[prefix.Addr()] = true
		config := &current.IPConfig{Address: ipNet(prefix)}
		if gw.IsValid() {
			config.Gateway = gw.AsSlice()
			if _, ok := gateways[gw.Is4()]; !ok {
				gateways[gw.Is4()] = gw
			}
		}
		result.IPs = append(result.IPs, config)
	}
	routes, err := parseRoutes(resp.Routes)
	if err != nil {
		return nil, err
	}
	result.Routes = append(defaultRoutes(gateways, routes), routes...)
	return result, nil
}

// parseIPConfig parses one address and its gateway, which must be of the
// same family. The gateway is the zero Addr when there is none.
func parseIPConfig(ip agentapi.IPConfig) (netip.Prefix, netip.Addr, error) {
	prefix, err := netip.ParsePrefix(ip.Address)
	if err != nil {
		return netip.Prefix{}, netip.Addr{}, fmt.Errorf("agent gave malformed address %q: %w", ip.Address, err)
	}
	if err := checkAddr(prefix.Addr()); err != nil {
		return netip.Prefix{}, netip.Addr{}, fmt.Errorf("agent gave address %q: %w", ip.Address, err)
	}
	if ip.Gateway == "" {
		return prefix, netip.Addr{}, nil
	}
	gw, err := parseGateway(ip.Gateway, prefix.Addr())
	if err != nil {
		return netip.Prefix{}, netip.Addr{}, fmt.Errorf("address %s: %w", ip.Address, err)
	}
	return prefix, gw, nil
}

// parseGateway parses a gateway that must be of the family of peer.
func parseGateway(s string, peer netip.Addr) (netip.Addr, error) {
	gw, err := netip.ParseAddr(s)
	if err != nil {
		return netip.Addr{}, fmt.Errorf("malformed gateway %q: %w", s, err)
	}
	if err := checkAddr(gw); err != nil {
		return netip.Addr{}, fmt.Errorf("gateway %q: %w", s, err)
	}
	if gw.Is4() != peer.Is4() {
		return netip.Addr{}, fmt.Errorf("gateway %s is not of the family of %s", gw, peer)
	}
	return gw, nil
}

// checkAddr rejects what no interface or route can be given.
func checkAddr(addr netip.Addr) error {
	switch {
	case addr.Zone() != "":
		return errors.New("addresses with a zone are not supported")
	case addr.Is4In6():
		return errors.New("IPv4-mapped IPv6 addresses are not supported")
	case addr.IsUnspecified():
		return errors.New("unspecified address")
	}
	return nil
}

// parseRoutes parses the agent's routes, dropping exact duplicates.
func parseRoutes(in []agentapi.Route) ([]*types.Route, error) {
	type key struct {
		dst netip.Prefix
		gw  netip.Addr
	}
	seen := map[key]bool{}
	var routes []*types.Route
	for _, r := range in {
		dst, err := netip.ParsePrefix(r.Dst)
		if err != nil {
			return nil, fmt.Errorf("agent gave malformed route destination %q: %w", r.Dst, err)
		}
		dst = dst.Masked()
		route := &types.Route{Dst: ipNet(dst)}
		var gw netip.Addr
		if r.GW != "" {
			if gw, err = parseGateway(r.GW, dst.Addr()); err != nil {
				return nil, fmt.Errorf("route to %s: %w", r.Dst, err)
			}
			route.GW = gw.AsSlice()
		}
		if seen[key{dst, gw}] {
			continue
		}
		seen[key{dst, gw}] = true
		routes = append(routes, route)
	}
	return routes, nil
}

// defaultRoutes returns a default route via each family's gateway, except
// for a family the explicit routes already give a default route.
func defaultRoutes(gateways map[bool]netip.Addr, explicit []*types.Route) []*types.Route {
	var routes []*types.Route
	for _, dst := range []netip.Prefix{defaultRouteV4, defaultRouteV6} {
		gw, ok := gateways[dst.Addr().Is4()]
		if !ok || hasRoute(explicit, dst) {
			continue
		}
		routes = append(routes, &types.Route{Dst: ipNet(dst), GW: gw.AsSlice()})
	}
	return routes
}

func hasRoute(routes []*types.Route, dst netip.Prefix) bool {
	want := ipNet(dst)
	for _, r := range routes {
		if r.Dst.String() == want.String() {
			return true
		}
	}
	return false
}

// ipNet converts a prefix, keeping its address bits (10.6.168.101/16 stays
// that, as CNI results carry the interface address with the subnet's length).
func ipNet(p netip.Prefix) net.IPNet {
	addr := p.Addr()
	return net.IPNet{IP: addr.AsSlice(), Mask: net.CIDRMask(p.Bits(), addr.BitLen())}
}

// printResult writes result to w in the spec version the runtime asked for.
func printResult(w io.Writer, result *current.Result, cniVersion string) error {
	converted, err := result.GetAsVersion(cniVersion)
	if err != nil {
		return fmt.Errorf("convert result to CNI version %s: %w", cniVersion, err)
	}
	return converted.PrintTo(w)
}
