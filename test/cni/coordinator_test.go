//go:build e2e

package cni

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net"
	"net/netip"
	"os"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/containernetworking/cni/libcni"
	current "github.com/containernetworking/cni/pkg/types/100"
	"github.com/containernetworking/plugins/pkg/ns"
	"github.com/containernetworking/plugins/pkg/testutils"
	"github.com/google/go-cmp/cmp"
	"github.com/vishvananda/netlink"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	"github.com/ipkeeper/ipkeeper/api/v2beta1"
	"github.com/ipkeeper/ipkeeper/internal/coordinator"
)

// The coordinator tests chain macvlan (with spiderpool as its IPAM) and the
// coordinator plugin, as a SpiderMultusConfig with enableCoordinator renders
// them, and check both namespaces: the pod's (veth0, routes, rules,
// neighbours) and the node's (its end of the veth, routes back to the pod).
// They reach the node's address from the pod and the pod from the node over
// TCP, inside the test's own namespaces.

var (
	// nodeAddress is the simulated node's address on ens192.
	nodeAddress = netip.MustParsePrefix("10.6.0.10/16")
	// The SpiderCoordinator the tests share: its status as the controller
	// would write it, a hijack CIDR in its spec.
	serviceCIDR = netip.MustParsePrefix("10.96.0.0/16")
	hijackCIDR  = netip.MustParsePrefix("10.99.0.0/16")
	sccOnce     sync.Once
)

// ensureCoordinator creates the cluster's SpiderCoordinator once.
func ensureCoordinator(t *testing.T) {
	t.Helper()
	sccOnce.Do(func() {
		ctx := context.Background()
		scc := &v2beta1.SpiderCoordinator{ObjectMeta: metav1.ObjectMeta{Name: v2beta1.CoordinatorName},
			Spec: v2beta1.SpiderCoordinatorSpec{HijackCIDR: []string{hijackCIDR.String()}}}
		if err := kube.client.Create(ctx, scc); err != nil {
			t.Fatalf("create SpiderCoordinator: %v", err)
		}
		scc.Status = v2beta1.SpiderCoordinatorStatus{Phase: v2beta1.CoordinatorPhaseSynced, ServiceCIDR: []string{serviceCIDR.String()}}
		if err := kube.client.Status().Update(ctx, scc); err != nil {
			t.Fatalf("write SpiderCoordinator status: %v", err)
		}
	})
}

// newCoordNode is a node whose ens192 has nodeAddress, with its agent.
func newCoordNode(t *testing.T) (*node, string) {
	t.Helper()
	ensureCoordinator(t)
	n := newNode(t)
	err := n.netns.Do(func(ns.NetNS) error {
		link, err := netlink.LinkByName(masterName)
		if err != nil {
			return err
		}
		return netlink.AddrAdd(link, &netlink.Addr{IPNet: prefixNet(nodeAddress)})
	})
	if err != nil {
		t.Fatalf("address %s of the node: %v", masterName, err)
	}
	socket := agentSocket(t)
	startAgent(t, n, socket)
	return n, socket
}

// coordRuntime is a runtime of a network of macvlan with pools, chained with
// the coordinator when coord is set.
func coordRuntime(t *testing.T, n *node, socket string, coord map[string]any, pools ...string) *runtime {
	t.Helper()
	ipam := map[string]any{"type": "spiderpool", "ipam_unix_socket_path": socket, "default_ipv4_ippool": pools}
	plugins := []any{map[string]any{"type": "macvlan", "master": masterName, "mode": "bridge", "ipam": ipam}}
	if coord != nil {
		c := map[string]any{"type": "coordinator", "unixSocketPath": socket}
		for k, v := range coord {
			c[k] = v
		}
		plugins = append(plugins, c)
	}
	data, err := json.Marshal(map[string]any{"cniVersion": "1.0.0", "name": networkName, "plugins": plugins})
	if err != nil {
		t.Fatal(err)
	}
	list, err := libcni.ConfListFromBytes(data)
	if err != nil {
		t.Fatalf("parse conflist: %v", err)
	}
	return &runtime{node: n, cni: libcni.NewCNIConfigWithCacheDir([]string{pluginDir, debianPluginDir}, t.TempDir(), nil), list: list}
}

// onInterface is sb on another interface of the same sandbox.
func onInterface(sb *sandbox, ifName string) *sandbox {
	rt := *sb.rt
	rt.IfName = ifName
	return &sandbox{netns: sb.netns, rt: &rt, pod: sb.pod}
}

func createPool(t *testing.T, subnet, gateway string, ips ...string) string {
	t.Helper()
	p := ipPool(objectName(t), subnet, gateway, ips...)
	mustCreate(t, p)
	t.Cleanup(func() { _ = kube.client.Delete(context.Background(), p) })
	return p.Name
}

// TestCoordinatorUnderlay: one pod interface. Without the coordinator the
// pod cannot reach its node (macvlan keeps it from its master); with it, the
// veth carries the pod to the node's address, the Service and hijack CIDRs
// through the node, and the node back to the pod; DEL leaves both
// namespaces as they were.
func TestCoordinatorUnderlay(t *testing.T) {
	requireRoot(t)
	n, socket := newCoordNode(t)
	nodeListener := listenIn(t, n.netns, nodeAddress.Addr())

	t.Run("without coordinator", func(t *testing.T) {
		rt := coordRuntime(t, n, socket, nil, "p1")
		sb := newSandbox(t, n, "plain", nil)
		rt.mustAdd(t, sb)
		if err := dialFrom(sb.netns, nodeListener, 2*time.Second); err == nil {
			t.Errorf("pod reached its node %s with macvlan alone; the test cannot tell what the coordinator adds", nodeListener)
		}
		if err := rt.del(t, sb); err != nil {
			t.Fatalf("DEL: %v", err)
		}
	})

	rt := coordRuntime(t, n, socket, map[string]any{}, "p1")
	sb := newSandbox(t, n, "web", nil)
	nodeBefore, podBefore := snapshot(t, n.netns), snapshot(t, sb.netns)
	result := rt.mustAdd(t, sb)
	addrs, _ := summarize(result)
	if len(addrs) != 1 {
		t.Fatalf("ADD result addresses %v, want one", addrs)
	}
	podIP := netip.MustParsePrefix(addrs[0]).Addr()
	if len(result.Interfaces) == 0 || result.Interfaces[len(result.Interfaces)-1].Name != podIfName {
		t.Errorf("result interfaces %+v: want macvlan's, passed through", result.Interfaces)
	}
	hostVeth := coordinator.HostVethName(sb.rt.ContainerID)
	hostMAC, podVethMAC := linkMAC(t, n.netns, hostVeth), linkMAC(t, sb.netns, coordinator.PodVethName)

	pod := snapshot(t, sb.netns)
	eth0 := linkIndex(t, sb.netns, podIfName)
	table := coordinator.TableOf(eth0)
	wantHas(t, "pod", pod, []string{
		"link veth0 alias=ipkeeper-coordinator:eth0",
		fmt.Sprintf("route table=254 %s/32 dev=veth0 gw= src=%s", nodeAddress.Addr(), podIP),
		fmt.Sprintf("route table=254 %s dev=veth0 gw=%s src=%s", serviceCIDR, nodeAddress.Addr(), podIP),
		fmt.Sprintf("route table=254 %s dev=veth0 gw=%s src=%s", hijackCIDR, nodeAddress.Addr(), podIP),
		"route table=254 0.0.0.0/0 dev=eth0 gw=10.6.0.1 src=",
		fmt.Sprintf("route table=%d %s dev=veth0 gw=%s src=%s", table, serviceCIDR, nodeAddress.Addr(), podIP),
		fmt.Sprintf("route table=%d 0.0.0.0/0 dev=eth0 gw=10.6.0.1 src=", table),
		fmt.Sprintf("rule pref=1000 from=%s/32 table=%d", podIP, table),
		fmt.Sprintf("neigh veth0 %s %s", nodeAddress.Addr(), hostMAC),
		"sysctl rp_filter all=0 eth0=0",
	})
	wantHas(t, "node", snapshot(t, n.netns), []string{
		"link " + hostVeth + " alias=ipkeeper-coordinator:eth0",
		fmt.Sprintf("route table=500 %s/32 dev=%s gw= src=", podIP, hostVeth),
		"rule pref=1000 from= table=500",
		fmt.Sprintf("neigh %s %s %s", hostVeth, podIP, podVethMAC),
	})

	if err := dialFrom(sb.netns, nodeListener, 5*time.Second); err != nil {
		t.Errorf("pod → its node %s through veth0: %v", nodeListener, err)
	}
	podListener := listenIn(t, sb.netns, podIP)
	if err := dialFrom(n.netns, podListener, 5*time.Second); err != nil {
		t.Errorf("node → pod %s through %s: %v", podListener, hostVeth, err)
	}
	if err := rt.check(t, sb); err != nil {
		t.Errorf("CHECK: %v", err)
	}
	if err := rt.del(t, sb); err != nil {
		t.Fatalf("DEL: %v", err)
	}
	// What stays: the node's one rule for hostRuleTable, shared by its pods.
	wantSame(t, "node after DEL", nodeBefore, withoutSharedRule(snapshot(t, n.netns)))
	wantSame(t, "pod after DEL", podBefore, withoutLink(snapshot(t, sb.netns), podIfName))
	if err := rt.del(t, sb); err != nil {
		t.Errorf("second DEL: %v", err)
	}
}

// TestCoordinatorRollback: a step that fails late in ADD (the node's route
// to the pod's address is taken) leaves neither namespace changed.
func TestCoordinatorRollback(t *testing.T) {
	requireRoot(t)
	n, socket := newCoordNode(t)
	pool := createPool(t, "10.6.0.0/16", "10.6.0.1", "10.6.169.5")
	taken := &netlink.Route{Dst: prefixNet(netip.MustParsePrefix("10.6.169.5/32")), Table: coordinator.DefaultHostRuleTable}
	err := n.netns.Do(func(ns.NetNS) error {
		link, err := netlink.LinkByName(masterName)
		if err != nil {
			return err
		}
		taken.LinkIndex, taken.Scope = link.Attrs().Index, netlink.SCOPE_LINK
		return netlink.RouteAdd(taken)
	})
	if err != nil {
		t.Fatalf("take the route: %v", err)
	}
	rt := coordRuntime(t, n, socket, map[string]any{}, pool)
	sb := newSandbox(t, n, "rollback", nil)
	nodeBefore := snapshot(t, n.netns)
	_, err = rt.add(t, sb)
	if err == nil || !strings.Contains(err.Error(), "hostRuleTable") {
		t.Fatalf("ADD = %v, want a failure naming hostRuleTable", err)
	}
	t.Logf("ADD failed as it should: %v", err)
	wantSame(t, "node after the failed ADD", nodeBefore, withoutSharedRule(snapshot(t, n.netns)))
	pod := snapshot(t, sb.netns)
	for _, s := range pod {
		if strings.Contains(s, "veth0") || strings.HasPrefix(s, "rule pref=1000") || strings.Contains(s, "table=1") && !strings.Contains(s, "table=1 ") {
			t.Errorf("pod after the failed ADD still has %q", s)
		}
	}
	wantHas(t, "pod after the failed ADD", pod, []string{"route table=254 0.0.0.0/0 dev=eth0 gw=10.6.0.1 src="})
	if err := rt.del(t, sb); err != nil {
		t.Errorf("DEL after the failed ADD: %v", err)
	}
}

// TestCoordinatorMultiNIC: eth0 and net1 from two pools, the default route
// on net1 by the pod's annotation: each interface has its table and rules,
// the main table's default route is net1's, replies from each address leave
// by its own interface, and DEL of both leaves nothing.
func TestCoordinatorMultiNIC(t *testing.T) {
	requireRoot(t)
	n, socket := newCoordNode(t)
	pool2 := createPool(t, "10.7.0.0/16", "10.7.0.1", "10.7.0.100-10.7.0.110")
	eth0RT := coordRuntime(t, n, socket, map[string]any{"podMACPrefix": "0a:1b"}, "p1")
	net1RT := coordRuntime(t, n, socket, map[string]any{}, pool2)
	sb := newSandbox(t, n, "multi", map[string]string{"ipam.spidernet.io/default-route-nic": "net1"})
	net1 := onInterface(sb, "net1")
	nodeBefore, podBefore := snapshot(t, n.netns), snapshot(t, sb.netns)

	r0 := eth0RT.mustAdd(t, sb)
	a0, _ := summarize(r0)
	a1, _ := summarize(net1RT.mustAdd(t, net1))
	if len(a0) != 1 || len(a1) != 1 {
		t.Fatalf("addresses eth0 %v, net1 %v; want one each", a0, a1)
	}
	ip0, ip1 := netip.MustParsePrefix(a0[0]).Addr(), netip.MustParsePrefix(a1[0]).Addr()
	// podMACPrefix on eth0's network: the prefix, then the address's bytes,
	// on the link and in the result.
	wantMAC, _ := coordinator.MACFromPrefix("0a:1b", ip0)
	if got := linkMAC(t, sb.netns, "eth0"); got != wantMAC.String() {
		t.Errorf("eth0 MAC %s, want %s (podMACPrefix 0a:1b)", got, wantMAC)
	}
	if macs := resultMACs(r0); !slices.Contains(macs, wantMAC.String()) {
		t.Errorf("ADD result MACs %v, want eth0's %s", macs, wantMAC)
	}
	t0, t1 := coordinator.TableOf(linkIndex(t, sb.netns, "eth0")), coordinator.TableOf(linkIndex(t, sb.netns, "net1"))
	pod := snapshot(t, sb.netns)
	wantHas(t, "pod", pod, []string{
		"route table=254 0.0.0.0/0 dev=net1 gw=10.7.0.1 src=",
		fmt.Sprintf("route table=%d 0.0.0.0/0 dev=eth0 gw=10.6.0.1 src=", t0),
		fmt.Sprintf("route table=%d 0.0.0.0/0 dev=net1 gw=10.7.0.1 src=", t1),
		fmt.Sprintf("route table=%d %s dev=veth0 gw=%s src=%s", t1, serviceCIDR, nodeAddress.Addr(), ip0),
		fmt.Sprintf("rule pref=1000 from=%s/32 table=%d", ip0, t0),
		fmt.Sprintf("rule pref=1000 from=%s/32 table=%d", ip1, t1),
	})
	if slices.Contains(pod, "route table=254 0.0.0.0/0 dev=eth0 gw=10.6.0.1 src=") {
		t.Errorf("the main table still has eth0's default route; want net1's alone")
	}
	hostVeth := coordinator.HostVethName(sb.rt.ContainerID)
	wantHas(t, "node", snapshot(t, n.netns), []string{
		fmt.Sprintf("route table=500 %s/32 dev=%s gw= src=", ip0, hostVeth),
		fmt.Sprintf("route table=500 %s/32 dev=%s gw= src=", ip1, hostVeth),
	})
	// Replies: the kernel's choice for a reply from each address to a
	// peer outside both subnets.
	for from, want := range map[netip.Addr]string{ip0: "eth0", ip1: "net1"} {
		if got := routeGet(t, sb.netns, netip.MustParseAddr("192.0.2.7"), from); got != want {
			t.Errorf("reply from %s leaves by %s, want %s", from, got, want)
		}
	}
	// The node reaches net1's address too, through the veth.
	podListener := listenIn(t, sb.netns, ip1)
	if err := dialFrom(n.netns, podListener, 5*time.Second); err != nil {
		t.Errorf("node → pod's net1 %s: %v", podListener, err)
	}

	// Multus deletes in reverse order.
	if err := net1RT.del(t, net1); err != nil {
		t.Fatalf("DEL net1: %v", err)
	}
	if err := eth0RT.del(t, sb); err != nil {
		t.Fatalf("DEL eth0: %v", err)
	}
	wantSame(t, "node after DEL", nodeBefore, withoutSharedRule(snapshot(t, n.netns)))
	wantSame(t, "pod after DEL", podBefore, withoutLink(withoutLink(snapshot(t, sb.netns), "eth0"), "net1"))
}

// TestCoordinatorBesideOverlay: in auto mode, net1 of a pod whose eth0 the
// coordinator did not set up (another CNI's, as with Calico) gets its table
// and rule but no veth: that eth0 already reaches Services and the node,
// and keeps its default route.
func TestCoordinatorBesideOverlay(t *testing.T) {
	requireRoot(t)
	n, socket := newCoordNode(t)
	noGateway := &v2beta1.SpiderIPPool{ObjectMeta: metav1.ObjectMeta{Name: objectName(t)},
		Spec: v2beta1.SpiderIPPoolSpec{Subnet: "10.8.0.0/16", IPs: []string{"10.8.0.100-10.8.0.110"}}}
	mustCreate(t, noGateway)
	t.Cleanup(func() { _ = kube.client.Delete(context.Background(), noGateway) })
	eth0RT := coordRuntime(t, n, socket, nil, "p1")
	net1RT := coordRuntime(t, n, socket, map[string]any{}, noGateway.Name)
	sb := newSandbox(t, n, "overlay", nil)
	net1 := onInterface(sb, "net1")
	nodeBefore, podBefore := snapshot(t, n.netns), snapshot(t, sb.netns)
	eth0RT.mustAdd(t, sb)
	a1, _ := summarize(net1RT.mustAdd(t, net1))
	ip1 := netip.MustParsePrefix(a1[0]).Addr()
	t1 := coordinator.TableOf(linkIndex(t, sb.netns, "net1"))
	pod := snapshot(t, sb.netns)
	wantHas(t, "pod", pod, []string{
		"route table=254 0.0.0.0/0 dev=eth0 gw=10.6.0.1 src=",
		fmt.Sprintf("rule pref=1000 from=%s/32 table=%d", ip1, t1),
		fmt.Sprintf("route table=%d 10.8.0.0/16 dev=net1 gw= src=", t1),
	})
	for _, s := range pod {
		if strings.Contains(s, "veth0") {
			t.Errorf("pod has %q; want no veth beside another CNI's eth0", s)
		}
	}
	if err := net1RT.del(t, net1); err != nil {
		t.Fatalf("DEL net1: %v", err)
	}
	if err := eth0RT.del(t, sb); err != nil {
		t.Fatalf("DEL eth0: %v", err)
	}
	wantSame(t, "node after DEL", nodeBefore, withoutSharedRule(snapshot(t, n.netns)))
	wantSame(t, "pod after DEL", podBefore, withoutLink(withoutLink(snapshot(t, sb.netns), "eth0"), "net1"))
}

// TestCoordinatorAddCost logs what the coordinator adds to a pod's ADD: the
// chain's ADD time with and without it, p50 and p99 of 20 each (the same
// agent, pool and node; DEL between them).
func TestCoordinatorAddCost(t *testing.T) {
	requireRoot(t)
	n, socket := newCoordNode(t)
	measure := func(coord map[string]any) (p50, p99 time.Duration) {
		rt := coordRuntime(t, n, socket, coord, "p1")
		var took []time.Duration
		for i := range 20 {
			sb := newSandbox(t, n, fmt.Sprintf("cost-%t-%d", coord != nil, i), nil)
			start := time.Now()
			rt.mustAdd(t, sb)
			took = append(took, time.Since(start))
			if err := rt.del(t, sb); err != nil {
				t.Fatalf("DEL: %v", err)
			}
		}
		slices.Sort(took)
		return took[len(took)/2], took[len(took)-1]
	}
	b50, b99 := measure(nil)
	c50, c99 := measure(map[string]any{})
	t.Logf("ADD of macvlan + spiderpool: p50 %s, p99 %s; with the coordinator: p50 %s, p99 %s",
		b50.Round(time.Millisecond), b99.Round(time.Millisecond), c50.Round(time.Millisecond), c99.Round(time.Millisecond))
}

// TestCoordinatorDelNetNSGone: DEL after the pod's netns went (and with it
// the veth pair) succeeds and leaves the node as it was.
func TestCoordinatorDelNetNSGone(t *testing.T) {
	requireRoot(t)
	n, socket := newCoordNode(t)
	rt := coordRuntime(t, n, socket, map[string]any{}, "p1")
	netns, err := testutils.NewNS()
	if err != nil {
		t.Fatal(err)
	}
	sb := newSandbox(t, n, "gone", nil)
	sb.netns, sb.rt.NetNS = netns, netns.Path()
	nodeBefore := snapshot(t, n.netns)
	rt.mustAdd(t, sb)
	_ = netns.Close()
	if err := testutils.UnmountNS(netns); err != nil {
		t.Fatalf("remove the pod's netns: %v", err)
	}
	if err := rt.del(t, sb); err != nil {
		t.Fatalf("DEL with the netns gone: %v", err)
	}
	poll(t, 10*time.Second, "the node's end of the veth to go with the netns", func(context.Context) (bool, error) {
		return slices.Equal(nodeBefore, withoutSharedRule(snapshot(t, n.netns))), nil
	})
}

func resultMACs(r *current.Result) []string {
	var out []string
	for _, itf := range r.Interfaces {
		out = append(out, itf.Mac)
	}
	return out
}

// snapshot describes a netns: links, routes of every table (but the local
// one), rules, permanent neighbours and the rp_filter settings.
func snapshot(t *testing.T, netns ns.NetNS) []string {
	t.Helper()
	var out []string
	err := netns.Do(func(ns.NetNS) error {
		links, err := netlink.LinkList()
		if err != nil {
			return err
		}
		names := map[int]string{}
		for _, l := range links {
			names[l.Attrs().Index] = l.Attrs().Name
			out = append(out, fmt.Sprintf("link %s alias=%s", l.Attrs().Name, l.Attrs().Alias))
		}
		routes, err := netlink.RouteListFiltered(netlink.FAMILY_V4, &netlink.Route{}, netlink.RT_FILTER_TABLE)
		if err != nil {
			return err
		}
		for _, r := range routes {
			if r.Table == 255 {
				continue
			}
			dst, gw, src := "0.0.0.0/0", "", ""
			if r.Dst != nil {
				dst = r.Dst.String()
			}
			if r.Gw != nil {
				gw = r.Gw.String()
			}
			if r.Src != nil && r.Protocol != netlink.RouteProtocol(2) { // the kernel's own subnet routes carry one
				src = r.Src.String()
			}
			out = append(out, fmt.Sprintf("route table=%d %s dev=%s gw=%s src=%s", r.Table, dst, names[r.LinkIndex], gw, src))
		}
		rules, err := netlink.RuleList(netlink.FAMILY_ALL)
		if err != nil {
			return err
		}
		for _, r := range rules {
			from := ""
			if r.Src != nil {
				from = r.Src.String()
			}
			out = append(out, fmt.Sprintf("rule pref=%d from=%s table=%d", r.Priority, from, r.Table))
		}
		neighs, err := netlink.NeighList(0, netlink.FAMILY_ALL)
		if err != nil {
			return err
		}
		for _, nb := range neighs {
			if nb.State&netlink.NUD_PERMANENT != 0 && nb.HardwareAddr != nil {
				out = append(out, fmt.Sprintf("neigh %s %s %s", names[nb.LinkIndex], nb.IP, nb.HardwareAddr))
			}
		}
		if _, err := netlink.LinkByName(podIfName); err == nil {
			all, _ := readSysctl("net/ipv4/conf/all/rp_filter")
			eth0, _ := readSysctl("net/ipv4/conf/eth0/rp_filter")
			out = append(out, fmt.Sprintf("sysctl rp_filter all=%s eth0=%s", all, eth0))
		}
		return nil
	})
	if err != nil {
		t.Fatalf("snapshot netns %s: %v", netns.Path(), err)
	}
	slices.Sort(out)
	return out
}

func wantHas(t *testing.T, where string, got, want []string) {
	t.Helper()
	for _, w := range want {
		if !slices.Contains(got, w) {
			t.Errorf("%s: no %q in\n  %s", where, w, strings.Join(got, "\n  "))
		}
	}
}

func wantSame(t *testing.T, where string, want, got []string) {
	t.Helper()
	if diff := cmp.Diff(want, got); diff != "" {
		t.Errorf("%s (-before +after):\n%s", where, diff)
	}
}

// withoutSharedRule drops the node's rule for hostRuleTable.
func withoutSharedRule(s []string) []string {
	return slices.DeleteFunc(s, func(v string) bool { return v == "rule pref=1000 from= table=500" })
}

// withoutLink drops what the main plugin made on link: the pod's link and
// its routes, which the coordinator does not own.
func withoutLink(s []string, link string) []string {
	return slices.DeleteFunc(s, func(v string) bool {
		return strings.HasPrefix(v, "link "+link+" ") || strings.Contains(v, "dev="+link+" ") ||
			strings.HasPrefix(v, "sysctl ")
	})
}

func linkMAC(t *testing.T, netns ns.NetNS, name string) (mac string) {
	t.Helper()
	err := netns.Do(func(ns.NetNS) error {
		l, err := netlink.LinkByName(name)
		if err == nil {
			mac = l.Attrs().HardwareAddr.String()
		}
		return err
	})
	if err != nil {
		t.Fatalf("link %s in %s: %v", name, netns.Path(), err)
	}
	return mac
}

func linkIndex(t *testing.T, netns ns.NetNS, name string) (index int) {
	t.Helper()
	err := netns.Do(func(ns.NetNS) error {
		l, err := netlink.LinkByName(name)
		if err == nil {
			index = l.Attrs().Index
		}
		return err
	})
	if err != nil {
		t.Fatalf("link %s in %s: %v", name, netns.Path(), err)
	}
	return index
}

// routeGet is the interface the kernel would send a packet from src to dst by.
func routeGet(t *testing.T, netns ns.NetNS, dst, src netip.Addr) (dev string) {
	t.Helper()
	err := netns.Do(func(ns.NetNS) error {
		routes, err := netlink.RouteGetWithOptions(dst.AsSlice(), &netlink.RouteGetOptions{SrcAddr: src.AsSlice()})
		if err != nil {
			return err
		}
		if len(routes) == 0 {
			return errors.New("no route")
		}
		l, err := netlink.LinkByIndex(routes[0].LinkIndex)
		if err == nil {
			dev = l.Attrs().Name
		}
		return err
	})
	if err != nil {
		t.Fatalf("route get %s from %s: %v", dst, src, err)
	}
	return dev
}

// listenIn serves TCP on addr inside netns until the test ends; each
// connection gets "ok".
func listenIn(t *testing.T, netns ns.NetNS, addr netip.Addr) string {
	t.Helper()
	var ln net.Listener
	err := netns.Do(func(ns.NetNS) (err error) {
		ln, err = net.Listen("tcp", netip.AddrPortFrom(addr, 0).String())
		return err
	})
	if err != nil {
		t.Fatalf("listen on %s: %v", addr, err)
	}
	t.Cleanup(func() { ln.Close() })
	go func() {
		for {
			c, err := ln.Accept()
			if err != nil {
				return
			}
			_, _ = c.Write([]byte("ok"))
			c.Close()
		}
	}()
	return ln.Addr().String()
}

// dialFrom connects from inside netns to addr and reads the greeting.
func dialFrom(netns ns.NetNS, addr string, timeout time.Duration) error {
	return netns.Do(func(ns.NetNS) error {
		c, err := net.DialTimeout("tcp", addr, timeout)
		if err != nil {
			return err
		}
		defer c.Close()
		_ = c.SetDeadline(time.Now().Add(timeout))
		buf := make([]byte, 2)
		if _, err := c.Read(buf); err != nil {
			return err
		}
		if string(buf) != "ok" {
			return fmt.Errorf("got %q", buf)
		}
		return nil
	})
}

func prefixNet(p netip.Prefix) *net.IPNet {
	return &net.IPNet{IP: p.Addr().AsSlice(), Mask: net.CIDRMask(p.Bits(), p.Addr().BitLen())}
}

func readSysctl(key string) (string, error) {
	data, err := os.ReadFile("/proc/sys/" + key)
	return strings.TrimSpace(string(data)), err
}
