//go:build e2e

package cni

import (
	"crypto/rand"
	"encoding/json"
	"errors"
	"net"
	"os"
	"testing"

	"github.com/containernetworking/cni/libcni"
	"github.com/containernetworking/cni/pkg/types"
	current "github.com/containernetworking/cni/pkg/types/100"
	"github.com/containernetworking/plugins/pkg/ns"
	"github.com/containernetworking/plugins/pkg/testutils"
	"github.com/vishvananda/netlink"
	corev1 "k8s.io/api/core/v1"
)

const (
	networkName = "macvlan-ens192"
	masterName  = "ens192"
	podIfName   = "eth0"
)

// newNetNS makes a network namespace, removed (with every link in it) at the
// end of the test.
func newNetNS(t *testing.T) ns.NetNS {
	t.Helper()
	netns, err := testutils.NewNS()
	if err != nil {
		t.Fatalf("create netns: %v", err)
	}
	t.Cleanup(func() {
		_ = netns.Close()
		if err := testutils.UnmountNS(netns); err != nil {
			t.Errorf("remove netns: %v", err)
		}
	})
	return netns
}

// node is a simulated node: a network namespace holding the underlay link
// ens192 (one end of a veth pair whose other end stays in the namespace
// too), and in the API server a Node of the same test-unique name and a
// namespace for the pods bound to it.
type node struct {
	netns ns.NetNS
	// name is the Node's, and the agent's --node-name.
	name string
	// podNamespace holds the test's pods.
	podNamespace string
}

func newNode(t *testing.T) *node {
	t.Helper()
	n := &node{netns: newNetNS(t), name: objectName(t)}
	n.podNamespace = n.name
	err := n.netns.Do(func(ns.NetNS) error {
		veth := &netlink.Veth{LinkAttrs: netlink.LinkAttrs{Name: masterName}, PeerName: masterName + "-peer"}
		if err := netlink.LinkAdd(veth); err != nil {
			return err
		}
		for _, name := range []string{masterName, masterName + "-peer"} {
			link, err := netlink.LinkByName(name)
			if err != nil {
				return err
			}
			if err := netlink.LinkSetUp(link); err != nil {
				return err
			}
		}
		return nil
	})
	if err != nil {
		t.Fatalf("create %s in the node's netns: %v", masterName, err)
	}
	createNodeObjects(t, n.name)
	return n
}

// sandbox is one pod sandbox: its namespace and how the runtime names it.
type sandbox struct {
	netns ns.NetNS
	rt    *libcni.RuntimeConf
	pod   *corev1.Pod
}

// newSandbox creates pod podName bound to node n, with the annotations
// given, and a sandbox for it that the runtime names as containerd does.
func newSandbox(t *testing.T, n *node, podName string, annotations map[string]string) *sandbox {
	t.Helper()
	pod := createPod(t, n, podName, annotations)
	netns := newNetNS(t)
	id := "ctr-" + rand.Text()[:12]
	// As containerd and CRI-O pass them: IgnoreUnknown first, so that
	// plugins that know no K8S_* key (macvlan) accept them.
	args := [][2]string{
		{"IgnoreUnknown", "1"},
		{"K8S_POD_NAMESPACE", pod.Namespace},
		{"K8S_POD_NAME", pod.Name},
		{"K8S_POD_UID", string(pod.UID)},
		{"K8S_POD_INFRA_CONTAINER_ID", id},
	}
	return &sandbox{
		netns: netns,
		rt:    &libcni.RuntimeConf{ContainerID: id, NetNS: netns.Path(), IfName: podIfName, Args: args},
		pod:   pod,
	}
}

// chain says how the runtime reaches the plugin.
type chain int

const (
	// viaMacvlan: the plugin is macvlan's IPAM, as on a real node.
	viaMacvlan chain = iota
	// direct: the plugin is the network's only plugin, so the runtime
	// calls it as a main plugin would. Used for spec 1.1.0 (GC, STATUS):
	// Debian's macvlan stops at 1.0.0, and no main plugin of
	// containernetworking/plugins v1.9.1 forwards GC to its IPAM.
	direct
)

// runtime is a CNI runtime (libcni) running in a node's namespace with its
// own result cache.
type runtime struct {
	node *node
	cni  *libcni.CNIConfig
	list *libcni.NetworkConfigList
}

type networkOptions struct {
	cniVersion string
	socket     string
	chain      chain
	ipv4Pools  []string
	ipv6Pools  []string
}

func newRuntime(t *testing.T, n *node, opts networkOptions) *runtime {
	t.Helper()
	list, err := libcni.ConfListFromBytes(conflist(t, opts))
	if err != nil {
		t.Fatalf("parse conflist: %v", err)
	}
	return &runtime{
		node: n,
		cni:  libcni.NewCNIConfigWithCacheDir([]string{pluginDir, debianPluginDir}, t.TempDir(), nil),
		list: list,
	}
}

func conflist(t *testing.T, opts networkOptions) []byte {
	ipam := map[string]any{"type": "spiderpool", "ipam_unix_socket_path": opts.socket}
	if opts.ipv4Pools != nil {
		ipam["default_ipv4_ippool"] = opts.ipv4Pools
	}
	if opts.ipv6Pools != nil {
		ipam["default_ipv6_ippool"] = opts.ipv6Pools
	}
	plugin := map[string]any{"type": "macvlan", "master": masterName, "mode": "bridge", "ipam": ipam}
	if opts.chain == direct {
		plugin = map[string]any{"type": "spiderpool", "ipam": ipam}
	}
	data, err := json.Marshal(map[string]any{
		"cniVersion": opts.cniVersion,
		"name":       networkName,
		"plugins":    []any{plugin},
	})
	if err != nil {
		t.Fatal(err)
	}
	return data
}

// inNode runs fn in the node's namespace: the plugins libcni executes start
// there, as they would on the node.
func (r *runtime) inNode(fn func() error) error {
	return r.node.netns.Do(func(ns.NetNS) error { return fn() })
}

func (r *runtime) add(t *testing.T, sb *sandbox) (*current.Result, error) {
	var result types.Result
	err := r.inNode(func() (err error) {
		result, err = r.cni.AddNetworkList(t.Context(), r.list, sb.rt)
		return err
	})
	if err != nil {
		return nil, err
	}
	if result.Version() != r.list.CNIVersion {
		t.Errorf("result version = %s, want the network's %s", result.Version(), r.list.CNIVersion)
	}
	return current.NewResultFromResult(result)
}

func (r *runtime) mustAdd(t *testing.T, sb *sandbox) *current.Result {
	t.Helper()
	result, err := r.add(t, sb)
	if err != nil {
		t.Fatalf("ADD: %v", err)
	}
	return result
}

func (r *runtime) check(t *testing.T, sb *sandbox) error {
	return r.inNode(func() error { return r.cni.CheckNetworkList(t.Context(), r.list, sb.rt) })
}

func (r *runtime) del(t *testing.T, sb *sandbox) error {
	return r.inNode(func() error { return r.cni.DelNetworkList(t.Context(), r.list, sb.rt) })
}

func (r *runtime) gc(t *testing.T, valid ...*sandbox) error {
	args := &libcni.GCArgs{ValidAttachments: []types.GCAttachment{}}
	for _, sb := range valid {
		args.ValidAttachments = append(args.ValidAttachments, types.GCAttachment{ContainerID: sb.rt.ContainerID, IfName: sb.rt.IfName})
	}
	return r.inNode(func() error { return r.cni.GCNetworkList(t.Context(), r.list, args) })
}

func (r *runtime) status(t *testing.T) error {
	return r.inNode(func() error { return r.cni.GetStatusNetworkList(t.Context(), r.list) })
}

// podView is what the pod sees on its interface.
type podView struct {
	exists bool
	addrs  []string          // global addresses, CIDR form
	gws    map[string]string // default route's gateway by family ("4", "6")
}

func (sb *sandbox) view(t *testing.T) podView {
	t.Helper()
	view := podView{gws: map[string]string{}}
	err := sb.netns.Do(func(ns.NetNS) error {
		link, err := netlink.LinkByName(podIfName)
		if errors.As(err, new(netlink.LinkNotFoundError)) {
			return nil
		}
		if err != nil {
			return err
		}
		view.exists = true
		addrs, err := netlink.AddrList(link, netlink.FAMILY_ALL)
		if err != nil {
			return err
		}
		for _, a := range addrs {
			if a.IP.IsGlobalUnicast() {
				view.addrs = append(view.addrs, a.IPNet.String())
			}
		}
		routes, err := netlink.RouteList(link, netlink.FAMILY_ALL)
		if err != nil {
			return err
		}
		for _, r := range routes {
			if r.Gw != nil && (r.Dst == nil || isDefault(r.Dst)) {
				view.gws[family(r.Gw)] = r.Gw.String()
			}
		}
		return nil
	})
	if err != nil {
		t.Fatalf("inspect the pod's %s: %v", podIfName, err)
	}
	return view
}

func isDefault(dst *net.IPNet) bool {
	ones, _ := dst.Mask.Size()
	return ones == 0
}

func family(ip net.IP) string {
	if ip.To4() != nil {
		return "4"
	}
	return "6"
}

// agentSocket returns a socket path short enough for a unix socket, in a
// directory removed at the end of the test.
func agentSocket(t *testing.T) string {
	t.Helper()
	dir, err := os.MkdirTemp("", "ipk-agent-")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = os.RemoveAll(dir) })
	return dir + "/agent.sock"
}

// recreated is a new sandbox of sb's pod, as the runtime makes it after a
// node reboot or its own restart: the same pod UID, a new container ID and
// network namespace.
func recreated(t *testing.T, sb *sandbox) *sandbox {
	t.Helper()
	netns := newNetNS(t)
	id := "ctr-" + rand.Text()[:12]
	args := make([][2]string, 0, len(sb.rt.Args))
	for _, kv := range sb.rt.Args {
		if kv[0] == "K8S_POD_INFRA_CONTAINER_ID" {
			kv[1] = id
		}
		args = append(args, kv)
	}
	return &sandbox{
		netns: netns,
		rt:    &libcni.RuntimeConf{ContainerID: id, NetNS: netns.Path(), IfName: sb.rt.IfName, Args: args},
		pod:   sb.pod,
	}
}
