//go:build e2e

package cni

// IP-conflict and gateway detection (docs/ip-conflict.md) against hosts on
// the node's underlay: a bridge in the node's namespace that ens192 is
// plugged into, and "foreign hosts", namespaces of their own on that bridge
// holding an address. Every frame stays on that bridge.

import (
	"context"
	"net"
	"net/netip"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/containernetworking/plugins/pkg/ns"
	"github.com/vishvananda/netlink"
	eventsv1 "k8s.io/api/events/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"sigs.k8s.io/controller-runtime/pkg/client"

	"github.com/ipkeeper/ipkeeper/api/ipkeeper/v1alpha1"
	"github.com/ipkeeper/ipkeeper/api/v2beta1"
)

const underlayBridge = "underlay"

// withUnderlay plugs the node's ens192 into a bridge of the node's
// namespace that foreign hosts can join.
func withUnderlay(t *testing.T, n *node) {
	t.Helper()
	err := n.netns.Do(func(ns.NetNS) error {
		off := false
		br := &netlink.Bridge{LinkAttrs: netlink.LinkAttrs{Name: underlayBridge}, MulticastSnooping: &off}
		if err := netlink.LinkAdd(br); err != nil {
			return err
		}
		if err := netlink.LinkSetUp(br); err != nil {
			return err
		}
		peer, err := netlink.LinkByName(masterName + "-peer")
		if err != nil {
			return err
		}
		return netlink.LinkSetMaster(peer, br)
	})
	if err != nil {
		t.Fatalf("bridge the node's %s: %v", masterName, err)
	}
}

// host is a foreign host on the node's underlay bridge: a namespace whose
// eth0 holds addresses the cluster does not know of.
type host struct {
	netns ns.NetNS
	mac   net.HardwareAddr
}

// foreignHost joins a namespace to node n's underlay bridge with the
// addresses given (CIDR form; IPv6 without duplicate-address detection, so
// that it answers at once).
func foreignHost(t *testing.T, n *node, name string, cidrs ...string) *host {
	t.Helper()
	h := &host{netns: newNetNS(t)}
	err := n.netns.Do(func(ns.NetNS) error {
		veth := &netlink.Veth{LinkAttrs: netlink.LinkAttrs{Name: name}, PeerName: name + "-h"}
		if err := netlink.LinkAdd(veth); err != nil {
			return err
		}
		br, err := netlink.LinkByName(underlayBridge)
		if err != nil {
			return err
		}
		if err := netlink.LinkSetMaster(veth, br); err != nil {
			return err
		}
		if err := netlink.LinkSetUp(veth); err != nil {
			return err
		}
		inner, err := netlink.LinkByName(name + "-h")
		if err != nil {
			return err
		}
		return netlink.LinkSetNsFd(inner, int(h.netns.Fd()))
	})
	if err != nil {
		t.Fatalf("plug host %s into the underlay: %v", name, err)
	}
	err = h.netns.Do(func(ns.NetNS) error {
		link, err := netlink.LinkByName(name + "-h")
		if err != nil {
			return err
		}
		if err := netlink.LinkSetName(link, "eth0"); err != nil {
			return err
		}
		for _, cidr := range cidrs {
			a, err := netlink.ParseAddr(cidr)
			if err != nil {
				return err
			}
			a.Flags = nodadFlag
			if err := netlink.AddrAdd(link, a); err != nil {
				return err
			}
		}
		if err := netlink.LinkSetUp(link); err != nil {
			return err
		}
		h.mac = link.Attrs().HardwareAddr
		return nil
	})
	if err != nil {
		t.Fatalf("configure host %s: %v", name, err)
	}
	return h
}

// nodadFlag is IFA_F_NODAD.
const nodadFlag = 0x02

// drop removes addr from the host: it stops answering for it.
func (h *host) drop(t *testing.T, cidr string) {
	t.Helper()
	err := h.netns.Do(func(ns.NetNS) error {
		link, err := netlink.LinkByName("eth0")
		if err != nil {
			return err
		}
		a, err := netlink.ParseAddr(cidr)
		if err != nil {
			return err
		}
		return netlink.AddrDel(link, a)
	})
	if err != nil {
		t.Fatalf("remove %s from the host: %v", cidr, err)
	}
}

// detectingAgent starts node n's agent with the configuration lines given.
func detectingAgent(t *testing.T, n *node, socket string, conf ...string) {
	t.Helper()
	path := filepath.Join(t.TempDir(), "conf.yml")
	if err := os.WriteFile(path, []byte(strings.Join(conf, "\n")+"\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	startAgent(t, n, socket, "--config", path)
}

// testPool creates a pool of its own for the test, gateway "" for none.
func testPool(t *testing.T, subnet, gateway string, ips ...string) string {
	t.Helper()
	p := &v2beta1.SpiderIPPool{
		ObjectMeta: metav1.ObjectMeta{Name: objectName(t)},
		Spec:       v2beta1.SpiderIPPoolSpec{Subnet: subnet, IPs: ips},
	}
	if gateway != "" {
		p.Spec.Gateway = &gateway
	}
	mustCreate(t, p)
	t.Cleanup(func() { _ = kube.client.Delete(context.Background(), p) })
	return p.Name
}

// quarantined returns the quarantine claims of pool.
func quarantined(t *testing.T, pool string) map[string]v1alpha1.IPClaim {
	t.Helper()
	var list v1alpha1.IPClaimList
	if err := kube.client.List(t.Context(), &list, client.MatchingLabels{v1alpha1.LabelPool: pool, v1alpha1.LabelQuarantined: "true"}); err != nil {
		t.Fatal(err)
	}
	out := map[string]v1alpha1.IPClaim{}
	for _, c := range list.Items {
		out[c.Spec.Address] = c
	}
	return out
}

func addrsOf(t *testing.T, rt *runtime, sb *sandbox) []string {
	t.Helper()
	addrs, _ := summarize(rt.mustAdd(t, sb))
	return addrs
}

// A foreign host holds one of a pool's two addresses. With conflict
// detection on, no pod is given it: the first pod gets the other address,
// the second finds the foreign one taken, quarantines it and fails naming
// the pool; the quarantine claim names the host's MAC. Once the host lets
// the address go and the quarantine is cleared, it is handed out again.
func TestConflictDetectionNeverGivesAForeignHostsAddress(t *testing.T) {
	requireRoot(t)
	for _, fam := range []struct {
		name, subnet, foreign, free, prefix string
	}{
		{"IPv4", "10.7.0.0/16", "10.7.0.10", "10.7.0.11", "/16"},
		{"IPv6", "fd00:7::/64", "fd00:7::10", "fd00:7::11", "/64"},
	} {
		t.Run(fam.name, func(t *testing.T) {
			node := newNode(t)
			withUnderlay(t, node)
			h := foreignHost(t, node, "fh", fam.foreign+fam.prefix)
			pool := testPool(t, fam.subnet, "", fam.foreign, fam.free)
			socket := agentSocket(t)
			detectingAgent(t, node, socket, "enableIPConflictDetection: true", "ipConflictDetectionTimeoutMs: 300")
			opts := networkOptions{cniVersion: "1.0.0", socket: socket}
			if fam.name == "IPv4" {
				opts.ipv4Pools = []string{pool}
			} else {
				opts.ipv6Pools = []string{pool}
			}
			rt := newRuntime(t, node, opts)

			first := newSandbox(t, node, "first", nil)
			if got := addrsOf(t, rt, first); !slices.Equal(got, []string{fam.free + fam.prefix}) {
				t.Fatalf("first pod got %v, want %s: the foreign host holds %s", got, fam.free, fam.foreign)
			}
			wantView(t, first, podView{exists: true, addrs: []string{fam.free + fam.prefix}})

			second := newSandbox(t, node, "second", nil)
			_, err := rt.add(t, second)
			if err == nil || !strings.Contains(err.Error(), pool) || !strings.Contains(err.Error(), "exhausted") {
				t.Fatalf("second pod's ADD: %v; want a failure naming pool %s as exhausted", err, pool)
			}
			t.Logf("second pod's ADD: %v", err)
			q, ok := quarantined(t, pool)[fam.foreign]
			if !ok || q.Spec.Quarantine.HardwareAddress != h.mac.String() || q.Spec.Holder.Name != "" || q.Spec.Owner.Kind != v1alpha1.OwnerKindQuarantine {
				t.Fatalf("quarantine claims of %s: %+v; want %s quarantined, answered by %s, held by no pod", pool, quarantined(t, pool), fam.foreign, h.mac)
			}
			t.Logf("quarantined: %s by %s, detected by %s", q.Spec.Address, q.Spec.Quarantine.HardwareAddress, q.Spec.Quarantine.DetectedBy)
			wantClaims(t, node, fam.free+fam.prefix, fam.foreign+fam.prefix)
			if err := rt.del(t, second); err != nil {
				t.Fatalf("DEL of the failed sandbox: %v", err)
			}

			// The host lets the address go; the operator clears the quarantine.
			h.drop(t, fam.foreign+fam.prefix)
			if err := kube.client.Delete(t.Context(), &q, client.Preconditions{UID: &q.UID}); err != nil {
				t.Fatalf("clear the quarantine: %v", err)
			}
			retry := recreated(t, second)
			poll(t, 30*time.Second, "the cleared address to be handed out", func(context.Context) (bool, error) {
				got, err := rt.add(t, retry)
				if err != nil {
					t.Logf("ADD after clearing: %v", err)
					_ = rt.del(t, retry)
					return false, nil
				}
				addrs, _ := summarize(got)
				return slices.Equal(addrs, []string{fam.foreign + fam.prefix}), nil
			})
			if len(quarantined(t, pool)) != 0 {
				t.Fatalf("quarantine claims left: %v", quarantined(t, pool))
			}
		})
	}
}

// Without detection the same foreign host's address goes to a pod: the
// conflict the detection prevents.
func TestWithoutDetectionAPodGetsAForeignHostsAddress(t *testing.T) {
	requireRoot(t)
	node := newNode(t)
	withUnderlay(t, node)
	h := foreignHost(t, node, "fh", "10.7.1.10/16")
	pool := testPool(t, "10.7.0.0/16", "", "10.7.1.10")
	socket := agentSocket(t)
	startAgent(t, node, socket)
	rt := newRuntime(t, node, networkOptions{cniVersion: "1.0.0", socket: socket, ipv4Pools: []string{pool}})
	pod := newSandbox(t, node, "web", nil)
	if got := addrsOf(t, rt, pod); !slices.Equal(got, []string{"10.7.1.10/16"}) {
		t.Fatalf("pod got %v, want 10.7.1.10/16 (detection off)", got)
	}
	if len(quarantined(t, pool)) != 0 {
		t.Fatal("an address was quarantined with detection off")
	}
	t.Logf("pod got 10.7.1.10, which host %s holds as well", h.mac)
}

// A pool whose gateway does not answer: ADD fails naming pool and gateway,
// no claim is left, and the pod has an event saying so. Once a host answers
// as the gateway, ADD succeeds.
func TestGatewayDetection(t *testing.T) {
	requireRoot(t)
	node := newNode(t)
	withUnderlay(t, node)
	pool := testPool(t, "10.8.0.0/16", "10.8.0.1", "10.8.0.10-10.8.0.11")
	socket := agentSocket(t)
	detectingAgent(t, node, socket, "enableGatewayDetection: true", "gatewayDetectionTimeoutMs: 500")
	rt := newRuntime(t, node, networkOptions{cniVersion: "1.0.0", socket: socket, ipv4Pools: []string{pool}})
	pod := newSandbox(t, node, "web", nil)

	_, err := rt.add(t, pod)
	if err == nil || !strings.Contains(err.Error(), "gateway 10.8.0.1 of pool "+pool) || !strings.Contains(err.Error(), "did not answer") {
		t.Fatalf("ADD: %v; want a failure naming gateway 10.8.0.1 of pool %s", err, pool)
	}
	t.Logf("ADD: %v", err)
	wantClaims(t, node)
	poll(t, 30*time.Second, "a GatewayUnreachable event on the pod", func(ctx context.Context) (bool, error) {
		var list eventsv1.EventList
		if err := kube.client.List(ctx, &list, client.InNamespace(pod.pod.Namespace)); err != nil {
			return false, err
		}
		for _, e := range list.Items {
			if e.Reason == "GatewayUnreachable" && e.Regarding.Name == pod.pod.Name && strings.Contains(e.Note, pool) {
				t.Logf("event: %s %s", e.Reason, e.Note)
				return true, nil
			}
		}
		return false, nil
	})
	if err := rt.del(t, pod); err != nil {
		t.Fatalf("DEL: %v", err)
	}

	foreignHost(t, node, "gw", "10.8.0.1/16")
	got := addrsOf(t, rt, recreated(t, pod))
	if len(got) != 1 || !netip.MustParsePrefix(got[0]).Addr().Is4() || !strings.HasPrefix(got[0], "10.8.0.1") {
		t.Fatalf("ADD with the gateway answering gave %v, want an address of %s", got, pool)
	}
	wantClaims(t, node, got...)
}
