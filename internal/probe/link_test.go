package probe

import (
	"net"
	"net/netip"
	"os"
	"testing"
	"time"

	"github.com/containernetworking/plugins/pkg/ns"
	"github.com/containernetworking/plugins/pkg/testutils"
	"github.com/vishvananda/netlink"
)

// pair makes two network namespaces joined by a veth pair: "pod" (its end
// eth0, down, no address, as a main plugin leaves it for IPAM) and "peer"
// (its end eth0, up, with the addresses given).
func pair(t *testing.T, peerAddrs ...string) (pod, peer ns.NetNS, peerMAC net.HardwareAddr) {
	t.Helper()
	if os.Geteuid() != 0 {
		t.Skip("needs root: creates network namespaces")
	}
	mk := func() ns.NetNS {
		n, err := testutils.NewNS()
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { _ = n.Close(); _ = testutils.UnmountNS(n) })
		return n
	}
	pod, peer = mk(), mk()
	err := pod.Do(func(ns.NetNS) error {
		if err := netlink.LinkAdd(&netlink.Veth{LinkAttrs: netlink.LinkAttrs{Name: "eth0"}, PeerName: "peer0"}); err != nil {
			return err
		}
		p, err := netlink.LinkByName("peer0")
		if err != nil {
			return err
		}
		return netlink.LinkSetNsFd(p, int(peer.Fd()))
	})
	if err != nil {
		t.Fatal(err)
	}
	err = peer.Do(func(ns.NetNS) error {
		l, err := netlink.LinkByName("peer0")
		if err != nil {
			return err
		}
		for _, cidr := range peerAddrs {
			a, _ := netlink.ParseAddr(cidr)
			a.Flags = 0x02 // IFA_F_NODAD
			if err := netlink.AddrAdd(l, a); err != nil {
				return err
			}
		}
		peerMAC = l.Attrs().HardwareAddr
		return netlink.LinkSetUp(l)
	})
	if err != nil {
		t.Fatal(err)
	}
	return pod, peer, peerMAC
}

func linkUp(t *testing.T, n ns.NetNS) bool {
	t.Helper()
	var up bool
	_ = n.Do(func(ns.NetNS) error {
		l, err := netlink.LinkByName("eth0")
		if err != nil {
			t.Fatal(err)
		}
		up = l.Attrs().Flags&net.FlagUp != 0
		return nil
	})
	return up
}

func TestCheckOnARealLink(t *testing.T) {
	pod, _, peerMAC := pair(t, "10.9.0.1/16", "fd00:9::1/64", "10.9.0.66/16", "fd00:9::66/64")
	plan := Plan{Conflict: true, ConflictWait: 300 * time.Millisecond, Gateway: true, GatewayWait: 500 * time.Millisecond}
	taken := Plan{Targets: []Target{
		{Address: netip.MustParseAddr("10.9.0.66"), Gateway: netip.MustParseAddr("10.9.0.1")},
		{Address: netip.MustParseAddr("fd00:9::66"), Gateway: netip.MustParseAddr("fd00:9::1")},
	}}
	taken.Conflict, taken.ConflictWait, taken.Gateway, taken.GatewayWait = plan.Conflict, plan.ConflictWait, plan.Gateway, plan.GatewayWait
	out, err := Check(t.Context(), pod.Path(), "eth0", taken)
	if err != nil {
		t.Fatalf("Check: %v", err)
	}
	if len(out.Conflicts) != 2 {
		t.Fatalf("conflicts %+v: want both addresses, answered by %s", out.Conflicts, peerMAC)
	}
	for _, c := range out.Conflicts {
		if c.HardwareAddr.String() != peerMAC.String() {
			t.Errorf("%s answered by %s, want %s", c.Address, c.HardwareAddr, peerMAC)
		}
	}
	if linkUp(t, pod) {
		t.Fatal("Check left the pod's eth0 up; it found it down")
	}

	free := plan
	free.Targets = []Target{
		{Address: netip.MustParseAddr("10.9.0.67"), Gateway: netip.MustParseAddr("10.9.0.1")},
		{Address: netip.MustParseAddr("fd00:9::67"), Gateway: netip.MustParseAddr("fd00:9::1")},
	}
	if out, err := Check(t.Context(), pod.Path(), "eth0", free); err != nil || len(out.Conflicts)+len(out.Unreachable) != 0 {
		t.Fatalf("Check of free addresses with answering gateways: %+v, %v", out, err)
	}

	silent := plan
	silent.Targets = []Target{
		{Address: netip.MustParseAddr("10.9.0.67"), Gateway: netip.MustParseAddr("10.9.0.2")},
		{Address: netip.MustParseAddr("fd00:9::67"), Gateway: netip.MustParseAddr("fd00:9::2")},
	}
	if out, err := Check(t.Context(), pod.Path(), "eth0", silent); err != nil || len(out.Unreachable) != 2 {
		t.Fatalf("Check with silent gateways: %+v, %v; want both unreachable", out, err)
	}
}
