package localcluster

import (
	"errors"
	"fmt"
	"net"
	"net/netip"
	"os"
	"path/filepath"
	"strings"

	"github.com/containernetworking/plugins/pkg/ns"
	"github.com/vishvananda/netlink"

	"github.com/ipkeeper/ipkeeper/test/localcluster/nsmount"
)

// BridgeName is the underlay bridge of the cluster with this prefix.
func BridgeName(prefix string) string { return prefix + "br" }

// createBridge makes the underlay: a Linux bridge in the root namespace with
// no address of its own, so traffic stays inside the cluster's namespaces.
// With real nodes it has HostAddress, where the nodes reach the API server;
// the host does not forward, so that is as far as their packets go.
func (c *Cluster) createBridge() error {
	if len(c.st.Nodes) == 0 {
		return nil
	}
	br := &netlink.Bridge{LinkAttrs: netlink.LinkAttrs{Name: BridgeName(c.st.Prefix), MTU: 1500}}
	if err := netlink.LinkAdd(br); err != nil {
		return fmt.Errorf("add bridge %s: %w", br.Name, err)
	}
	// Bridged frames must not go through the host's iptables (br_netfilter).
	for _, knob := range []string{"nf_call_iptables", "nf_call_ip6tables", "nf_call_arptables"} {
		_ = os.WriteFile(filepath.Join("/sys/class/net", br.Name, "bridge", knob), []byte("0"), 0o644)
	}
	if err := netlink.LinkSetUp(br); err != nil {
		return fmt.Errorf("set bridge %s up: %w", br.Name, err)
	}
	if !c.st.RealNodes {
		return nil
	}
	if err := netlink.AddrAdd(br, &netlink.Addr{IPNet: prefixNet(HostAddress)}); err != nil {
		return fmt.Errorf("address bridge %s: %w", br.Name, err)
	}
	return nil
}

func prefixNet(p netip.Prefix) *net.IPNet {
	return &net.IPNet{IP: p.Addr().AsSlice(), Mask: net.CIDRMask(p.Bits(), p.Addr().BitLen())}
}

// createNodeNetwork makes the node's namespace and joins it to the bridge by a
// veth whose node end is ens192 with the node's underlay address.
func (c *Cluster) createNodeNetwork(n Node) error {
	if _, err := nsmount.Create(netnsDir, n.NetNS); err != nil {
		return err
	}
	nodeNS, err := ns.GetNS(n.NetNSPath)
	if err != nil {
		return fmt.Errorf("open netns of %s: %w", n.Name, err)
	}
	defer nodeNS.Close()
	br, err := netlink.LinkByName(BridgeName(c.st.Prefix))
	if err != nil {
		return fmt.Errorf("find bridge: %w", err)
	}
	veth := &netlink.Veth{
		LinkAttrs:     netlink.LinkAttrs{Name: n.HostVeth, MTU: 1500, MasterIndex: br.Attrs().Index},
		PeerName:      UnderlayInterface,
		PeerNamespace: netlink.NsFd(int(nodeNS.Fd())),
	}
	if err := netlink.LinkAdd(veth); err != nil {
		return fmt.Errorf("add veth %s: %w", n.HostVeth, err)
	}
	if err := netlink.LinkSetUp(veth); err != nil {
		return fmt.Errorf("set %s up: %w", n.HostVeth, err)
	}
	return nodeNS.Do(func(ns.NetNS) error { return configureUnderlay(n, c.st.RealNodes) })
}

// configureUnderlay runs inside the node's namespace. A real node also gets a
// route for the Service range towards the host, so that a connection to a
// Service VIP is routed at all (kube-proxy's DNAT then sends it to an
// endpoint); it has no default route, so nothing else leaves.
func configureUnderlay(n Node, real bool) error {
	link, err := netlink.LinkByName(UnderlayInterface)
	if err != nil {
		return fmt.Errorf("find %s in %s: %w", UnderlayInterface, n.Name, err)
	}
	addr := &netlink.Addr{IPNet: &net.IPNet{IP: n.Address.Addr().AsSlice(), Mask: net.CIDRMask(n.Address.Bits(), 32)}}
	if err := netlink.AddrAdd(link, addr); err != nil {
		return fmt.Errorf("address %s of %s: %w", UnderlayInterface, n.Name, err)
	}
	if err := netlink.LinkSetUp(link); err != nil {
		return fmt.Errorf("set %s of %s up: %w", UnderlayInterface, n.Name, err)
	}
	if !real {
		return nil
	}
	// A node forwards for its pods, as every Kubernetes node does: the
	// coordinator's pods reach Services through their node, whose
	// kube-proxy sends the connection on to an endpoint. This thread is in
	// the node's netns, so the setting is the node's, never the host's.
	if err := os.WriteFile("/proc/sys/net/ipv4/ip_forward", []byte("1"), 0o644); err != nil {
		return fmt.Errorf("turn on forwarding in %s: %w", n.Name, err)
	}
	route := &netlink.Route{LinkIndex: link.Attrs().Index, Dst: prefixNet(netip.MustParsePrefix(serviceCIDR)),
		Gw: HostAddress.Addr().AsSlice()}
	if err := netlink.RouteAdd(route); err != nil {
		return fmt.Errorf("route the Service range in %s: %w", n.Name, err)
	}
	return nil
}

// prefixInUse reports whether any link or named netns carries the prefix.
func prefixInUse(prefix string) (bool, error) {
	links, err := prefixedLinks(prefix)
	if err != nil {
		return false, err
	}
	pins, err := nsmount.List(netnsDir, prefix)
	if err != nil {
		return false, err
	}
	return len(links) > 0 || len(pins) > 0, nil
}

// prefixedLinks lists root-namespace links whose names start with prefix.
func prefixedLinks(prefix string) ([]netlink.Link, error) {
	links, err := linkList()
	if err != nil {
		return nil, fmt.Errorf("list links: %w", err)
	}
	var out []netlink.Link
	for _, l := range links {
		if strings.HasPrefix(l.Attrs().Name, prefix) {
			out = append(out, l)
		}
	}
	return out, nil
}

// removeNetwork deletes the cluster's netns pins (nodes and pod sandboxes)
// and then its remaining links; veths die with their namespaces.
func (c *Cluster) removeNetwork() error {
	var errs []error
	pins, err := nsmount.List(netnsDir, c.st.Prefix+"-")
	if err != nil {
		errs = append(errs, err)
	}
	for _, p := range pins {
		if err := nsmount.Remove(p); err != nil {
			errs = append(errs, err)
		}
	}
	links, err := prefixedLinks(c.st.Prefix)
	if err != nil {
		errs = append(errs, err)
	}
	for _, l := range links {
		if err := netlink.LinkDel(l); err != nil && !errors.Is(err, netlink.ErrNotImplemented) {
			if _, gone := netlink.LinkByIndex(l.Attrs().Index); gone != nil {
				continue // went away with its peer namespace
			}
			errs = append(errs, fmt.Errorf("delete link %s: %w", l.Attrs().Name, err))
		}
	}
	return errors.Join(errs...)
}

// linkList lists links, retrying a dump the kernel interrupted because links
// changed meanwhile (other clusters come and go on the same host).
func linkList() ([]netlink.Link, error) {
	for range 5 {
		links, err := netlink.LinkList()
		if !errors.Is(err, netlink.ErrDumpInterrupted) {
			return links, err
		}
	}
	return netlink.LinkList()
}
