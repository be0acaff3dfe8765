//go:build e2e

package realnodes

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net/netip"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/containernetworking/plugins/pkg/ns"
	"github.com/vishvananda/netlink"
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/util/intstr"

	"github.com/ipkeeper/ipkeeper/test/framework"
	"github.com/ipkeeper/ipkeeper/test/seedwalk"
)

// seedNetwork is the seeds' macvlan network, with enableCoordinator: true.
const seedNetwork = "kube-system/macvlan-ens192"

// checkCoordinator: a pod on the seeds' network (coordinator chained)
// reaches a ClusterIP Service whose endpoint is on the other node, and its
// own node's address, and its node reaches it; a pod of a network without
// the coordinator, on the same node and underlay, can do none of it.
func checkCoordinator(t *testing.T, env *framework.Env) {
	ns := env.Namespace(t)
	ctx := t.Context()
	seedwalk.Network(t, env)
	node1 := env.Node(t, "node1")
	applyManifest(t, env, `apiVersion: spiderpool.spidernet.io/v2beta1
kind: SpiderMultusConfig
metadata:
  name: macvlan-plain
  namespace: `+ns+`
spec:
  cniType: macvlan
  enableCoordinator: false
  macvlan:
    master:
    - ens192
`)
	waitNAD(t, env, ns, "macvlan-plain")
	scc := env.RunKubectl(t, "get", "spidercoordinators", "default", "-o", "jsonpath={.status.phase} {.status.serviceCIDR}")
	if !strings.HasPrefix(scc, "Synced ") || !strings.Contains(scc, "10.96.0.0/16") {
		t.Errorf("SpiderCoordinator default: phase and serviceCIDR %q, want Synced with 10.96.0.0/16", scc)
	}

	backend := startPod(t, env, ns, "backend", "node2", map[string]string{"v1.multus-cni.io/default-network": seedNetwork})
	client := startPod(t, env, ns, "client", "node1", map[string]string{"v1.multus-cni.io/default-network": seedNetwork})
	plain := startPod(t, env, ns, "plain", "node1", map[string]string{"v1.multus-cni.io/default-network": ns + "/macvlan-plain"})
	nodeURL := "http://" + node1.Address.Addr().String() + ":8080/"
	startHostPod(t, env, ns, "nodeprobe", "node1", node1.Address.Addr().String()+":8080")
	svc, err := env.Client.CoreV1().Services(ns).Create(ctx, &corev1.Service{
		ObjectMeta: metav1.ObjectMeta{Name: "backend"},
		Spec: corev1.ServiceSpec{Selector: map[string]string{"app": "backend"},
			Ports: []corev1.ServicePort{{Port: 8000, TargetPort: intstr.FromInt32(80)}}},
	}, metav1.CreateOptions{})
	if err != nil {
		t.Fatal(err)
	}
	svcURL := "http://" + svc.Spec.ClusterIP + ":8000/"
	t.Logf("backend %s on node2 behind %s; client %s and plain %s on node1 (%s)",
		backend.Status.PodIP, svcURL, client.Status.PodIP, plain.Status.PodIP, node1.Address.Addr())

	// kube-proxy programs the Service within a second or so: poll.
	waitGet(t, env, ns, "client", svcURL, "client (coordinator) → Service backend (endpoint on node2)")
	if body, err := get(ctx, env, ns, "client", nodeURL); err != nil || !strings.Contains(body, "Welcome") {
		t.Errorf("client → its node %s: %v %s", nodeURL, err, body)
	}
	if body, err := get(ctx, env, ns, "nodeprobe", "http://"+client.Status.PodIP+"/"); err != nil || !strings.Contains(body, "Welcome") {
		t.Errorf("node1 (hostNetwork) → client %s: %v %s", client.Status.PodIP, err, body)
	}

	// What a user sees (docs/coordinator.md shows it).
	t.Logf("kubectl get spidercoordinators:\n%s", env.RunKubectl(t, "get", "spidercoordinators"))
	t.Logf("NetworkAttachmentDefinition %s: %s", seedNetwork, env.RunKubectl(t, "get", "network-attachment-definitions", "-n", "kube-system",
		"macvlan-ens192", "-o", "jsonpath={.spec.config}"))
	clientNS := podNetNS(t, netip.MustParseAddr(client.Status.PodIP))
	for _, args := range [][]string{{"-br", "link"}, {"route"}, {"rule"}, {"route", "show", "table", "all", "dev", "veth0"}, {"neigh", "show", "dev", "veth0"}} {
		t.Logf("client: ip %s\n%s", strings.Join(args, " "), ipIn(t, clientNS.Path(), args...))
	}
	for _, args := range [][]string{{"rule"}, {"route", "show", "table", "500"}} {
		t.Logf("node1: ip %s\n%s", strings.Join(args, " "), ipIn(t, node1.NetNSPath, args...))
	}

	// The same from the pod without the coordinator fails, with the Service
	// programmed (the client reached it) and the node's server up.
	for what, probe := range map[string]struct{ pod, url string }{
		"plain → Service backend":           {"plain", svcURL},
		"plain → its node":                  {"plain", nodeURL},
		"node1 (hostNetwork) → plain's pod": {"nodeprobe", "http://" + plain.Status.PodIP + "/"},
	} {
		body, err := get(ctx, env, ns, probe.pod, probe.url)
		if err == nil {
			t.Errorf("%s succeeded without the coordinator (%q): the test cannot tell what the coordinator adds", what, body)
		} else {
			t.Logf("%s without the coordinator fails, as it should: %s", what, firstLine(body))
		}
	}
}

// checkCoordinatorMultiNIC: a pod with eth0 and net1 from two pools on one
// subnet, its default route on net1 by annotation: the main table's default
// route is net1's, each interface has its own table and rule, and a
// request to net1's address from a pod on the other node is answered by
// net1 (the main table alone would answer by eth0, the first route to the
// subnet): the pod's eth0 never learns the peer's MAC.
func checkCoordinatorMultiNIC(t *testing.T, env *framework.Env) {
	ns := env.Namespace(t)
	seedwalk.Network(t, env)
	applyManifest(t, env, `apiVersion: spiderpool.spidernet.io/v2beta1
kind: SpiderIPPool
metadata:
  name: coord-a-`+ns+`
spec:
  subnet: 10.6.0.0/16
  gateway: 10.6.0.1
  ips:
  - 10.6.171.1-10.6.171.20
---
apiVersion: spiderpool.spidernet.io/v2beta1
kind: SpiderIPPool
metadata:
  name: coord-b-`+ns+`
spec:
  subnet: 10.6.0.0/16
  gateway: 10.6.0.1
  ips:
  - 10.6.172.1-10.6.172.20
---
apiVersion: spiderpool.spidernet.io/v2beta1
kind: SpiderMultusConfig
metadata:
  name: macvlan-net1
  namespace: `+ns+`
spec:
  cniType: macvlan
  macvlan:
    master:
    - ens192
---
apiVersion: spiderpool.spidernet.io/v2beta1
kind: SpiderMultusConfig
metadata:
  name: macvlan-net1-untuned
  namespace: `+ns+`
spec:
  cniType: macvlan
  coordinator:
    tunePodRoutes: false
  macvlan:
    master:
    - ens192
`)
	t.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
		defer cancel()
		_, _ = seedwalk.Kubectl(ctx, env, "", "delete", "spiderippool", "coord-a-"+ns, "coord-b-"+ns, "--wait=false")
	})
	waitNAD(t, env, ns, "macvlan-net1")
	waitNAD(t, env, ns, "macvlan-net1-untuned")
	multi := startPod(t, env, ns, "multi", "node1", map[string]string{
		"v1.multus-cni.io/default-network":    seedNetwork,
		"k8s.v1.cni.cncf.io/networks":         ns + "/macvlan-net1",
		"ipam.spidernet.io/ippools":           `[{"interface":"eth0","ipv4":["coord-a-` + ns + `"]},{"interface":"net1","ipv4":["coord-b-` + ns + `"]}]`,
		"ipam.spidernet.io/default-route-nic": "net1",
	})
	peer := startPod(t, env, ns, "peer", "node2", map[string]string{"v1.multus-cni.io/default-network": seedNetwork})
	eth0, net1 := podAddress(t, multi, 0), podAddress(t, multi, 1)
	t.Logf("multi: eth0 %s, net1 %s (node1); peer %s (node2)", eth0, net1, peer.Status.PodIP)

	podNS := podNetNS(t, netip.MustParseAddr(multi.Status.PodIP))
	routes := podRoutes(t, podNS)
	for _, want := range []string{
		"main default dev net1 via 10.6.0.1",
		"from " + eth0.String() + " table eth0",
		"from " + net1.String() + " table net1",
		"eth0 default dev eth0 via 10.6.0.1",
		"net1 default dev net1 via 10.6.0.1",
		"net1 10.6.0.0/16 dev net1 via ",
	} {
		if !strings.Contains(routes, want+"\n") {
			t.Errorf("multi's routing lacks %q:\n%s", want, routes)
		}
	}
	if strings.Contains(routes, "main default dev eth0") {
		t.Errorf("multi's main table keeps eth0's default route; want net1's alone:\n%s", routes)
	}

	waitGet(t, env, ns, "peer", "http://"+net1.String()+"/", "peer (node2) → multi's net1")
	byLink := neighbours(t, podNS, netip.MustParseAddr(peer.Status.PodIP))
	if !byLink["net1"] || byLink["eth0"] {
		t.Errorf("multi's neighbour entries for the peer %s by interface: %v; want net1 only (the reply left by net1)", peer.Status.PodIP, byLink)
	}
	t.Logf("multi: ip rule\n%s", ipIn(t, podNS.Path(), "rule"))

	// The control: net1 without its own table (tunePodRoutes: false on its
	// network) answers the same request by eth0, so the check above is
	// what the table and rule make.
	untuned := startPod(t, env, ns, "untuned", "node1", map[string]string{
		"v1.multus-cni.io/default-network":    seedNetwork,
		"k8s.v1.cni.cncf.io/networks":         ns + "/macvlan-net1-untuned",
		"ipam.spidernet.io/ippools":           `[{"interface":"eth0","ipv4":["coord-a-` + ns + `"]},{"interface":"net1","ipv4":["coord-b-` + ns + `"]}]`,
		"ipam.spidernet.io/default-route-nic": "net1",
	})
	untunedNet1 := podAddress(t, untuned, 1)
	waitGet(t, env, ns, "peer", "http://"+untunedNet1.String()+"/", "peer (node2) → untuned's net1")
	byLink = neighbours(t, podNetNS(t, netip.MustParseAddr(untuned.Status.PodIP)), netip.MustParseAddr(peer.Status.PodIP))
	if !byLink["eth0"] {
		t.Errorf("untuned's neighbour entries for the peer by interface: %v; want eth0 (the main table's first route to the subnet): the check on multi proves nothing", byLink)
	}
}

func applyManifest(t *testing.T, env *framework.Env, manifest string) {
	t.Helper()
	if out, err := seedwalk.Kubectl(t.Context(), env, manifest, "apply", "-f", "-"); err != nil {
		t.Fatalf("apply: %v: %s", err, out)
	}
}

func waitNAD(t *testing.T, env *framework.Env, ns, name string) {
	t.Helper()
	env.WaitFor(t, time.Minute, "NetworkAttachmentDefinition "+name, func(ctx context.Context) (bool, error) {
		_, err := seedwalk.Kubectl(ctx, env, "", "-n", ns, "get", "network-attachment-definitions", name)
		return err == nil, nil
	})
}

// startHostPod runs the web server in node's network namespace on addr.
func startHostPod(t *testing.T, env *framework.Env, ns, name, node, addr string) {
	t.Helper()
	pod := &corev1.Pod{
		ObjectMeta: metav1.ObjectMeta{Name: name},
		Spec: corev1.PodSpec{NodeName: node, HostNetwork: true,
			Containers: []corev1.Container{{Name: "web", Image: "nginx", ImagePullPolicy: corev1.PullIfNotPresent, Args: []string{"serve", addr}}}},
	}
	if _, err := env.Client.CoreV1().Pods(ns).Create(t.Context(), pod, metav1.CreateOptions{}); err != nil {
		t.Fatal(err)
	}
	env.WaitFor(t, 2*time.Minute, name+" Running", func(ctx context.Context) (bool, error) {
		p, err := env.Client.CoreV1().Pods(ns).Get(ctx, name, metav1.GetOptions{})
		return err == nil && p.Status.Phase == corev1.PodRunning, nil
	})
}

// get runs the web server's client in pod.
func get(ctx context.Context, env *framework.Env, ns, pod, url string) (string, error) {
	out, err := exec.CommandContext(ctx, env.KubectlPath, "--kubeconfig", env.Kubeconfig, "-n", ns,
		"exec", pod, "--", "/webserver", "get", url).CombinedOutput()
	return string(out), err
}

func waitGet(t *testing.T, env *framework.Env, ns, pod, url, what string) {
	t.Helper()
	var last string
	env.WaitFor(t, time.Minute, what, func(ctx context.Context) (bool, error) {
		out, err := get(ctx, env, ns, pod, url)
		last = out
		return err == nil && strings.Contains(out, "Welcome"), nil
	})
	if t.Failed() {
		t.Logf("%s: last answer %s", what, last)
	}
}

// ipIn runs iproute2's ip in the network namespace at path.
func ipIn(t *testing.T, path string, args ...string) string {
	t.Helper()
	out, err := exec.CommandContext(t.Context(), "nsenter", append([]string{"--net=" + path, "ip"}, args...)...).CombinedOutput()
	if err != nil {
		t.Errorf("ip %s in %s: %v: %s", strings.Join(args, " "), path, err, out)
	}
	return strings.TrimSpace(string(out))
}

func firstLine(s string) string {
	line, _, _ := strings.Cut(strings.TrimSpace(s), "\n")
	return line
}

// podAddress is the address of the pod's i-th interface in its network-status.
func podAddress(t *testing.T, pod *corev1.Pod, i int) netip.Addr {
	t.Helper()
	var status []struct {
		Interface string   `json:"interface"`
		IPs       []string `json:"ips"`
	}
	if err := json.Unmarshal([]byte(pod.Annotations["k8s.v1.cni.cncf.io/network-status"]), &status); err != nil || len(status) <= i || len(status[i].IPs) == 0 {
		t.Fatalf("network-status of %s: %v %+v", pod.Name, err, status)
	}
	return netip.MustParseAddr(status[i].IPs[0])
}

// podNetNS opens the network namespace holding addr, found through the
// processes of the machine (a sandbox's netns pin lives in its node's mount
// namespace, not the host's).
func podNetNS(t *testing.T, addr netip.Addr) ns.NetNS {
	t.Helper()
	procs, _ := filepath.Glob("/proc/[0-9]*/ns/net")
	seen := map[uint64]bool{}
	for _, p := range procs {
		var st syscall.Stat_t
		if syscall.Stat(p, &st) != nil || seen[st.Ino] {
			continue
		}
		seen[st.Ino] = true
		netns, err := ns.GetNS(p)
		if err != nil {
			continue
		}
		found := false
		_ = netns.Do(func(ns.NetNS) error {
			addrs, err := netlink.AddrList(nil, netlink.FAMILY_V4)
			for _, a := range addrs {
				found = found || err == nil && a.IP.Equal(addr.AsSlice())
			}
			return nil
		})
		if found {
			t.Cleanup(func() { netns.Close() })
			return netns
		}
		netns.Close()
	}
	t.Fatalf("no network namespace holds %s", addr)
	return nil
}

// podRoutes describes the pod's rules and the routes of its main and
// per-interface tables, one per line, tables named by their interface.
func podRoutes(t *testing.T, netns ns.NetNS) string {
	t.Helper()
	var b strings.Builder
	err := netns.Do(func(ns.NetNS) error {
		links, err := netlink.LinkList()
		if err != nil {
			return err
		}
		names, tables := map[int]string{}, map[int]string{254: "main"}
		for _, l := range links {
			names[l.Attrs().Index] = l.Attrs().Name
			tables[100+l.Attrs().Index] = l.Attrs().Name
		}
		rules, err := netlink.RuleList(netlink.FAMILY_V4)
		if err != nil {
			return err
		}
		for _, r := range rules {
			if r.Src != nil && tables[r.Table] != "" {
				fmt.Fprintf(&b, "from %s table %s\n", r.Src.IP, tables[r.Table])
			}
		}
		routes, err := netlink.RouteListFiltered(netlink.FAMILY_V4, &netlink.Route{}, netlink.RT_FILTER_TABLE)
		if err != nil {
			return err
		}
		for _, r := range routes {
			table, ok := tables[r.Table]
			if !ok {
				continue
			}
			dst, gw := "default", ""
			if r.Dst != nil && r.Dst.IP.To4() != nil && !r.Dst.IP.Equal(make([]byte, 4)) {
				dst = r.Dst.String()
			}
			if r.Gw != nil {
				gw = r.Gw.String()
			}
			fmt.Fprintf(&b, "%s %s dev %s via %s\n", table, dst, names[r.LinkIndex], gw)
		}
		return nil
	})
	if err != nil {
		t.Fatalf("routes of the pod: %v", err)
	}
	return b.String()
}

// neighbours reports on which of the pod's interfaces addr has a neighbour
// entry.
func neighbours(t *testing.T, netns ns.NetNS, addr netip.Addr) map[string]bool {
	t.Helper()
	out := map[string]bool{}
	err := netns.Do(func(ns.NetNS) error {
		neighs, err := netlink.NeighList(0, netlink.FAMILY_V4)
		if err != nil {
			return err
		}
		for _, n := range neighs {
			if !n.IP.Equal(addr.AsSlice()) || n.State&(netlink.NUD_FAILED|netlink.NUD_INCOMPLETE) != 0 {
				continue
			}
			l, err := netlink.LinkByIndex(n.LinkIndex)
			if err != nil {
				return err
			}
			out[l.Attrs().Name] = true
		}
		return nil
	})
	if err != nil && !errors.Is(err, os.ErrNotExist) {
		t.Fatalf("neighbours of the pod: %v", err)
	}
	return out
}
