package coordinator

import (
	"errors"
	"fmt"
	"net/netip"

	"github.com/vishvananda/netlink"
	"golang.org/x/sys/unix"
)

// del removes what the ADD of the interface made, found by its marks: the
// interface's table and rules in the pod, the node's routes and neighbour
// entries to its addresses, and the veth pair when this interface's ADD
// made it. What is already gone is skipped; a.pod is nil when the pod's
// netns is gone (and with it the veth pair).
func (a *attachment) del() error {
	hostVeth, err := a.node.LinkByName(HostVethName(a.containerID))
	if ignoreGone(err) != nil {
		return fmt.Errorf("find node veth %s: %w", HostVethName(a.containerID), err)
	}
	var errs []error
	if a.pod != nil {
		addrs, err := a.delPodSide()
		if err != nil {
			errs = append(errs, err)
		}
		if hostVeth != nil {
			errs = append(errs, a.delNodeRoutes(hostVeth, addrs))
		}
		if podVeth, err := a.pod.LinkByName(PodVethName); err == nil && vethOwner(podVeth.Attrs().Alias) == a.ifName {
			errs = append(errs, ignoreGone(a.pod.LinkDel(podVeth)))
		}
	}
	// Deleting one end deletes both; the node's end remains when the pod's
	// netns could not be entered.
	if hostVeth != nil && vethOwner(hostVeth.Attrs().Alias) == a.ifName {
		errs = append(errs, ignoreGone(a.node.LinkDel(hostVeth)))
	}
	return errors.Join(errs...)
}

// delPodSide removes the interface's table and rules and returns its
// addresses (none when the interface is gone).
func (a *attachment) delPodSide() ([]netip.Addr, error) {
	link, err := a.pod.LinkByName(a.ifName)
	if err != nil {
		if ignoreGone(err) == nil {
			return nil, nil
		}
		return nil, fmt.Errorf("find pod interface %s: %w", a.ifName, err)
	}
	table := TableOf(link.Attrs().Index)
	var errs []error
	rules, err := retry(func() ([]netlink.Rule, error) { return a.pod.RuleList(netlink.FAMILY_ALL) })
	if err != nil {
		return nil, fmt.Errorf("list pod rules: %w", err)
	}
	for _, r := range rules {
		if r.Table == table && r.Priority == RulePriority {
			errs = append(errs, ignoreGone(a.pod.RuleDel(&r)))
		}
	}
	routes, err := retry(func() ([]netlink.Route, error) {
		return a.pod.RouteListFiltered(netlink.FAMILY_ALL, &netlink.Route{Table: table}, netlink.RT_FILTER_TABLE)
	})
	if err != nil {
		return nil, fmt.Errorf("list routes of table %d: %w", table, err)
	}
	for _, r := range routes {
		errs = append(errs, ignoreGone(a.pod.RouteDel(&r)))
	}
	addrs, err := retry(func() ([]netlink.Addr, error) { return a.pod.AddrList(link, netlink.FAMILY_ALL) })
	if err != nil {
		return nil, fmt.Errorf("list addresses of %s: %w", a.ifName, err)
	}
	var out []netip.Addr
	for _, ad := range addrs {
		if ip := addrOf(ad.IP); ip.IsGlobalUnicast() {
			out = append(out, ip)
		}
	}
	return out, errors.Join(errs...)
}

// delNodeRoutes removes the node's routes (in any table) and neighbour
// entries for addrs on the pod's veth: needed when the veth stays, because
// another interface of the pod made it.
func (a *attachment) delNodeRoutes(hostVeth netlink.Link, addrs []netip.Addr) error {
	var errs []error
	for _, ip := range addrs {
		routes, err := retry(func() ([]netlink.Route, error) {
			return a.node.RouteListFiltered(familyOf(ip), &netlink.Route{LinkIndex: hostVeth.Attrs().Index, Table: unix.RT_TABLE_UNSPEC},
				netlink.RT_FILTER_OIF|netlink.RT_FILTER_TABLE)
		})
		if err != nil {
			return fmt.Errorf("list node routes of %s: %w", hostVeth.Attrs().Name, err)
		}
		for _, r := range routes {
			if r.Dst != nil && r.Dst.String() == hostNet(ip).String() {
				errs = append(errs, ignoreGone(a.node.RouteDel(&r)))
			}
		}
		neigh := &netlink.Neigh{LinkIndex: hostVeth.Attrs().Index, Family: familyOf(ip), IP: ip.AsSlice()}
		errs = append(errs, ignoreGone(a.node.NeighDel(neigh)))
	}
	return errors.Join(errs...)
}
