package coordinator

import (
	"fmt"
	"net"
	"net/netip"
	"strconv"

	"github.com/containernetworking/plugins/pkg/ns"
	"github.com/containernetworking/plugins/pkg/utils/sysctl"
	"github.com/vishvananda/netlink"
)

// podSysctls sets the pod's reverse path filter (podRPFilter) on all its
// interfaces and this one, and makes the interface answer ARP only for its
// own addresses, so that two interfaces on one subnet do not answer for
// each other.
func (a *attachment) podSysctls() error {
	return a.podNS.Do(func(ns.NetNS) error {
		if a.cfg.PodRPFilter >= 0 {
			v := strconv.Itoa(a.cfg.PodRPFilter)
			for _, dev := range []string{"all", a.ifName} {
				if _, err := sysctl.Sysctl("net/ipv4/conf/"+dev+"/rp_filter", v); err != nil {
					return fmt.Errorf("set rp_filter of %s to %s (podRPFilter): %w", dev, v, err)
				}
			}
		}
		if _, err := sysctl.Sysctl("net/ipv4/conf/"+a.ifName+"/arp_ignore", "1"); err != nil {
			return fmt.Errorf("set arp_ignore of %s: %w", a.ifName, err)
		}
		return nil
	})
}

// podVethRoutes routes, in the pod, the node's addresses over the veth
// (with permanent neighbour entries for the node's end), and the Service
// and hijack CIDRs through the node.
func (a *attachment) podVethRoutes(hostVeth, podVeth netlink.Link) error {
	nodeAddrs, err := nodeAddresses(a.node)
	if err != nil {
		return fmt.Errorf("list the node's addresses: %w", err)
	}
	v4, v6 := a.families()
	gateways := map[bool]netip.Addr{} // by Is4
	if a.cfg.VethLinkAddress.IsValid() {
		nodeAddrs = append([]netip.Addr{a.cfg.VethLinkAddress}, nodeAddrs...)
	}
	for _, ip := range nodeAddrs {
		if ip.Is4() && !v4 || ip.Is6() && !v6 {
			continue
		}
		if _, ok := gateways[ip.Is4()]; !ok {
			gateways[ip.Is4()] = ip
		}
		route := &netlink.Route{LinkIndex: podVeth.Attrs().Index, Dst: hostNet(ip), Scope: netlink.SCOPE_LINK, Src: a.srcFor(ip)}
		if err := ignoreExist(a.pod.RouteAdd(route)); err != nil {
			return fmt.Errorf("route node address %s over %s: %w", ip, PodVethName, err)
		}
		neigh := &netlink.Neigh{LinkIndex: podVeth.Attrs().Index, Family: familyOf(ip), State: netlink.NUD_PERMANENT,
			IP: ip.AsSlice(), HardwareAddr: hostVeth.Attrs().HardwareAddr}
		if err := a.pod.NeighSet(neigh); err != nil {
			return fmt.Errorf("neighbour entry for node address %s on %s: %w", ip, PodVethName, err)
		}
	}
	for field, cidrs := range map[string][]netip.Prefix{"serviceCIDR": a.cfg.ServiceCIDR, "hijackCIDR": a.cfg.HijackCIDR} {
		for _, c := range cidrs {
			if c.Addr().Is4() && !v4 || c.Addr().Is6() && !v6 {
				continue
			}
			gw, ok := gateways[c.Addr().Is4()]
			if !ok {
				return fmt.Errorf("%s %s: the node has no address of its family to route it through", field, c)
			}
			route := &netlink.Route{LinkIndex: podVeth.Attrs().Index, Dst: prefixNet(c), Gw: gw.AsSlice(), Src: a.srcFor(c.Addr())}
			if err := ignoreExist(a.pod.RouteAdd(route)); err != nil {
				return fmt.Errorf("route %s %s through the node (%s): %w", field, c, gw, err)
			}
		}
	}
	return nil
}

// tuneRoutes gives the interface its own table, a copy of its routes and of
// the veth's, and a rule per address, so replies from an address leave by
// its interface.
func (a *attachment) tuneRoutes(link, podVeth netlink.Link) error {
	table := TableOf(link.Attrs().Index)
	for _, from := range []netlink.Link{link, podVeth} {
		routes, err := a.mainRoutes(from)
		if err != nil {
			return err
		}
		for _, r := range routes {
			r.Table = table
			if err := ignoreExist(a.pod.RouteAdd(&r)); err != nil {
				return fmt.Errorf("copy route %s of %s into table %d: %w", routeDst(&r), from.Attrs().Name, table, err)
			}
			a.onFailure(func() error { return a.pod.RouteDel(&r) })
		}
	}
	for _, p := range a.addrs {
		rule := netlink.NewRule()
		rule.Family, rule.Src, rule.Table, rule.Priority = familyOf(p.Addr()), hostNet(p.Addr()), table, RulePriority
		if err := ignoreExist(a.pod.RuleAdd(rule)); err != nil {
			return fmt.Errorf("add rule from %s to table %d: %w", p.Addr(), table, err)
		}
		a.onFailure(func() error { return a.pod.RuleDel(rule) })
	}
	return nil
}

// keepDefaultRoute leaves the main table's default route only on the
// default-route interface: another interface's moves out (it stays in that
// interface's own table), and when this one is the default-route interface
// those of the interfaces set up before it move out.
func (a *attachment) keepDefaultRoute(link, podVeth netlink.Link) error {
	var from []netlink.Link
	if a.ifName != a.cfg.DefaultRouteNIC {
		from = []netlink.Link{link}
	} else {
		links, err := retry(a.pod.LinkList)
		if err != nil {
			return fmt.Errorf("list pod interfaces: %w", err)
		}
		for _, l := range links {
			at := l.Attrs()
			if at.Index != link.Attrs().Index && at.Index != podVeth.Attrs().Index && at.Flags&net.FlagLoopback == 0 {
				from = append(from, l)
			}
		}
	}
	for _, l := range from {
		routes, err := a.mainRoutes(l)
		if err != nil {
			return err
		}
		for _, r := range routes {
			if !isDefaultRoute(&r) {
				continue
			}
			if err := a.pod.RouteDel(&r); err != nil {
				return fmt.Errorf("move the default route of %s out of the main table (default route interface %s): %w",
					l.Attrs().Name, a.cfg.DefaultRouteNIC, err)
			}
			a.onFailure(func() error { return a.pod.RouteAdd(&r) })
		}
	}
	return nil
}

// mainRoutes lists the pod's main-table routes through link.
func (a *attachment) mainRoutes(link netlink.Link) ([]netlink.Route, error) {
	routes, err := retry(func() ([]netlink.Route, error) {
		return a.pod.RouteListFiltered(netlink.FAMILY_ALL, &netlink.Route{LinkIndex: link.Attrs().Index, Table: mainTable},
			netlink.RT_FILTER_OIF|netlink.RT_FILTER_TABLE)
	})
	if err != nil {
		return nil, fmt.Errorf("list routes of %s: %w", link.Attrs().Name, err)
	}
	return routes, nil
}

func routeDst(r *netlink.Route) string {
	if r.Dst == nil {
		return "default"
	}
	return r.Dst.String()
}
