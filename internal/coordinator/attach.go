package coordinator

import (
	"errors"
	"fmt"
	"net"
	"net/netip"
	"slices"

	"github.com/containernetworking/plugins/pkg/ns"
	"github.com/vishvananda/netlink"
	"golang.org/x/sys/unix"
)

// mainTable is the kernel's main routing table.
const mainTable = unix.RT_TABLE_MAIN

// attachment is one pod interface being set up or torn down: the handles of
// the node's netns (the plugin's own) and of the pod's, and the steps to
// undo should a later one fail.
type attachment struct {
	cfg         *Config
	containerID string
	ifName      string
	// addrs are the interface's addresses, from the previous result.
	addrs []netip.Prefix
	node  *netlink.Handle
	pod   *netlink.Handle
	podNS ns.NetNS
	// mac is the interface's MAC address after ADD, nil when unchanged.
	mac  net.HardwareAddr
	undo []func() error
}

// onFailure records how to undo a step that succeeded.
func (a *attachment) onFailure(f func() error) { a.undo = append(a.undo, f) }

// rollback undoes the recorded steps, last first.
func (a *attachment) rollback() error {
	var errs []error
	for _, f := range slices.Backward(a.undo) {
		if err := ignoreGone(f()); err != nil {
			errs = append(errs, err)
		}
	}
	a.undo = nil
	return errors.Join(errs...)
}

// srcFor is the interface's first address of dst's family, nil when none.
func (a *attachment) srcFor(dst netip.Addr) net.IP {
	for _, p := range a.addrs {
		if p.Addr().Is4() == dst.Is4() {
			return p.Addr().AsSlice()
		}
	}
	return nil
}

func (a *attachment) families() (v4, v6 bool) {
	for _, p := range a.addrs {
		v4, v6 = v4 || p.Addr().Is4(), v6 || p.Addr().Is6()
	}
	return v4, v6
}

// add sets the interface up for underlay mode. On error, the caller rolls back.
func (a *attachment) add() error {
	link, err := a.pod.LinkByName(a.ifName)
	if err != nil {
		return fmt.Errorf("find pod interface %s: %w", a.ifName, err)
	}
	if err := a.setMAC(link); err != nil {
		return err
	}
	if err := a.podSysctls(); err != nil {
		return err
	}
	hostVeth, podVeth, owner, err := a.ensureVeth()
	if err != nil {
		return err
	}
	if err := a.nodeRoutes(hostVeth, podVeth, owner); err != nil {
		return err
	}
	if owner {
		if err := a.podVethRoutes(hostVeth, podVeth); err != nil {
			return err
		}
	}
	if a.cfg.TunePodRoutes {
		if err := a.tuneRoutes(link, podVeth); err != nil {
			return err
		}
	}
	return a.keepDefaultRoute(link, podVeth)
}

// setMAC gives the interface the MAC address podMACPrefix asks for.
func (a *attachment) setMAC(link netlink.Link) error {
	if a.cfg.PodMACPrefix == "" {
		return nil
	}
	var v4 netip.Addr
	for _, p := range a.addrs {
		if p.Addr().Is4() {
			v4 = p.Addr()
			break
		}
	}
	if !v4.IsValid() {
		return nil // the prefix is completed from an IPv4 address
	}
	mac, err := MACFromPrefix(a.cfg.PodMACPrefix, v4)
	if err != nil {
		return err
	}
	old := link.Attrs().HardwareAddr
	if old.String() == mac.String() {
		return nil
	}
	if err := a.pod.LinkSetHardwareAddr(link, mac); err != nil {
		return fmt.Errorf("set MAC address %s of %s (podMACPrefix %s): %w", mac, a.ifName, a.cfg.PodMACPrefix, err)
	}
	a.onFailure(func() error { return a.pod.LinkSetHardwareAddr(link, old) })
	a.mac = mac
	return nil
}

// ensureVeth returns both ends of the pod's veth, making the pair when the
// pod has none yet; owner is true when this interface's ADD made it.
func (a *attachment) ensureVeth() (hostVeth, podVeth netlink.Link, owner bool, err error) {
	hostName := HostVethName(a.containerID)
	podVeth, err = a.pod.LinkByName(PodVethName)
	if err == nil {
		who := vethOwner(podVeth.Attrs().Alias)
		if who == "" {
			return nil, nil, false, fmt.Errorf("pod interface %s exists and was not made by the coordinator; the coordinator needs that name for its veth", PodVethName)
		}
		hostVeth, err = a.node.LinkByName(hostName)
		if err != nil {
			return nil, nil, false, fmt.Errorf("find node end %s of the pod's veth: %w", hostName, err)
		}
		return hostVeth, podVeth, who == a.ifName, nil
	}
	veth := &netlink.Veth{
		LinkAttrs: netlink.LinkAttrs{Name: hostName},
		PeerName:  PodVethName, PeerNamespace: netlink.NsFd(int(a.podNS.Fd())),
	}
	if err := a.node.LinkAdd(veth); err != nil {
		return nil, nil, false, fmt.Errorf("add veth pair %s (node) and %s (pod): %w", hostName, PodVethName, err)
	}
	a.onFailure(func() error { return a.node.LinkDel(veth) })
	if hostVeth, err = a.node.LinkByName(hostName); err != nil {
		return nil, nil, false, fmt.Errorf("find node end %s of the pod's veth: %w", hostName, err)
	}
	if podVeth, err = a.pod.LinkByName(PodVethName); err != nil {
		return nil, nil, false, fmt.Errorf("find pod end %s of the pod's veth: %w", PodVethName, err)
	}
	alias := vethAlias(a.ifName)
	for _, end := range []struct {
		h    *netlink.Handle
		link netlink.Link
	}{{a.node, hostVeth}, {a.pod, podVeth}} {
		if err := end.h.LinkSetAlias(end.link, alias); err != nil {
			return nil, nil, false, fmt.Errorf("mark veth %s: %w", end.link.Attrs().Name, err)
		}
		if err := end.h.LinkSetUp(end.link); err != nil {
			return nil, nil, false, fmt.Errorf("set veth %s up: %w", end.link.Attrs().Name, err)
		}
	}
	return hostVeth, podVeth, true, nil
}

// nodeRoutes routes the interface's addresses from the node to the pod's
// veth, in hostRuleTable, with permanent neighbour entries, and makes sure
// the node looks that table up.
func (a *attachment) nodeRoutes(hostVeth, podVeth netlink.Link, owner bool) error {
	table := a.cfg.HostRuleTable
	if owner && a.cfg.VethLinkAddress.IsValid() {
		addr := &netlink.Addr{IPNet: hostNet(a.cfg.VethLinkAddress), Scope: int(netlink.SCOPE_LINK)}
		if err := ignoreExist(a.node.AddrAdd(hostVeth, addr)); err != nil {
			return fmt.Errorf("add vethLinkAddress %s to node veth %s: %w", a.cfg.VethLinkAddress, hostVeth.Attrs().Name, err)
		}
	}
	for _, p := range a.addrs {
		ip := p.Addr()
		if err := a.ensureNodeRule(familyOf(ip), table); err != nil {
			return err
		}
		route := &netlink.Route{LinkIndex: hostVeth.Attrs().Index, Dst: hostNet(ip), Scope: netlink.SCOPE_LINK, Table: table}
		if err := a.node.RouteAdd(route); err != nil {
			if !errors.Is(err, unix.EEXIST) || !a.nodeRouteIsOurs(route) {
				return fmt.Errorf("route %s to the pod's veth in node table %d (hostRuleTable): %w", ip, table, err)
			}
		} else {
			a.onFailure(func() error { return a.node.RouteDel(route) })
		}
		neigh := &netlink.Neigh{LinkIndex: hostVeth.Attrs().Index, Family: familyOf(ip), State: netlink.NUD_PERMANENT,
			IP: ip.AsSlice(), HardwareAddr: podVeth.Attrs().HardwareAddr}
		if err := a.node.NeighSet(neigh); err != nil {
			return fmt.Errorf("neighbour entry for %s on node veth %s: %w", ip, hostVeth.Attrs().Name, err)
		}
		a.onFailure(func() error { return a.node.NeighDel(neigh) })
	}
	return nil
}

// nodeRouteIsOurs reports whether an existing route to route.Dst in its
// table already leads to our veth (a repeated ADD).
func (a *attachment) nodeRouteIsOurs(route *netlink.Route) bool {
	routes, err := a.node.RouteListFiltered(netlink.FAMILY_ALL, &netlink.Route{Table: route.Table, Dst: route.Dst},
		netlink.RT_FILTER_TABLE|netlink.RT_FILTER_DST)
	return err == nil && slices.ContainsFunc(routes, func(r netlink.Route) bool { return r.LinkIndex == route.LinkIndex })
}

// ensureNodeRule adds the node's one rule for hostRuleTable if it is missing.
// It is shared by every pod of the node, and never removed: it only sends
// lookups to a table that holds nothing but routes to pod veths.
func (a *attachment) ensureNodeRule(family, table int) error {
	rules, err := retry(func() ([]netlink.Rule, error) { return a.node.RuleList(family) })
	if err != nil {
		return fmt.Errorf("list node rules: %w", err)
	}
	for _, r := range rules {
		if r.Table == table && r.Priority == RulePriority && r.Src == nil && r.Dst == nil {
			return nil
		}
	}
	rule := netlink.NewRule()
	rule.Family, rule.Table, rule.Priority = family, table, RulePriority
	if err := ignoreExist(a.node.RuleAdd(rule)); err != nil {
		return fmt.Errorf("add node rule to look up table %d (hostRuleTable): %w", table, err)
	}
	return nil
}
