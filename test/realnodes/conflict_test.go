//go:build e2e

package realnodes

import (
	"bytes"
	"context"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/containernetworking/plugins/pkg/ns"
	"github.com/containernetworking/plugins/pkg/testutils"
	"github.com/vishvananda/netlink"
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/cli-runtime/pkg/genericiooptions"

	"github.com/ipkeeper/ipkeeper/api/ipkeeper/v1alpha1"
	"github.com/ipkeeper/ipkeeper/internal/cli"
	"github.com/ipkeeper/ipkeeper/test/framework"
	"github.com/ipkeeper/ipkeeper/test/localcluster"
	"github.com/ipkeeper/ipkeeper/test/seedwalk"
)

// The pools of the detection test: inside the underlay's 10.6.0.0/16, clear
// of the default pool (10.6.10-19.x), the nodes (10.6.0.x), host-local
// (10.6.200+.x) and the seeds (10.6.168.x).
const (
	conflictPool = `apiVersion: spiderpool.spidernet.io/v2beta1
kind: SpiderIPPool
metadata:
  name: conflict-v4
spec:
  subnet: 10.6.0.0/16
  ips:
  - 10.6.150.10-10.6.150.11
`
	gatewayPool = `apiVersion: spiderpool.spidernet.io/v2beta1
kind: SpiderIPPool
metadata:
  name: gateway-v4
spec:
  subnet: 10.6.0.0/16
  gateway: 10.6.151.1
  ips:
  - 10.6.151.10-10.6.151.11
`
	foreignAddr = "10.6.150.10"
	freeAddr    = "10.6.150.11"
	silentGW    = "10.6.151.1"
)

// checkDetection: with both detections on (helm upgrade), a foreign host on
// the underlay bridge holding one of a pool's two addresses is never given
// to a pod: the first pod gets the other, the second finds the foreign one
// taken and waits with the pool exhausted; the address is quarantined,
// shown by kubectl ipkeeper, and once the host lets it go and the operator
// clears it, the waiting pod starts with it. A pool whose gateway does not
// answer keeps its pod from starting, holding no claim, until a host answers
// as the gateway. The detections are turned off again at the end.
func checkDetection(t *testing.T, env *framework.Env) {
	// Cleanups run last first: the pods go (namespace), the detections go
	// off, quarantines are cleared, and then the pools, which wait for
	// their claims.
	seedwalk.Apply(t, env, "", conflictPool)
	seedwalk.Apply(t, env, "", gatewayPool)
	t.Cleanup(func() { clearQuarantines(t, env) })
	helmDetection(t, env, true)
	t.Cleanup(func() { helmDetection(t, env, false) })
	ns := env.Namespace(t)

	foreign := foreignHost(t, env, "cf", foreignAddr+"/16")
	first := startPod(t, env, ns, "first", "node1", poolAnnotation("conflict-v4"))
	if first.Status.PodIP != freeAddr {
		t.Fatalf("first pod has %s, want %s: the foreign host holds %s", first.Status.PodIP, freeAddr, foreignAddr)
	}
	createPod(t, env, ns, "second", "node2", poolAnnotation("conflict-v4"))
	env.WaitFor(t, 2*time.Minute, foreignAddr+" quarantined", func(ctx context.Context) (bool, error) {
		out, err := seedwalk.Kubectl(ctx, env, "", "get", "ipclaim", foreignAddr, "-o", "jsonpath={.spec.quarantine.hardwareAddress}")
		return err == nil && strings.TrimSpace(out) == foreign.String(), nil
	})
	waitEvent(t, env, ns, "second", "exhausted")
	t.Logf("kubectl get po -o wide:\n%s", env.RunKubectl(t, "-n", ns, "get", "po", "-o", "wide"))
	t.Logf("kubectl get ipclaims -o wide:\n%s", env.RunKubectl(t, "get", "ipclaims", "-o", "wide"))
	t.Logf("kubectl ipkeeper pools:\n%s", ipkeeper(t, env, "pools"))
	who := ipkeeper(t, env, "who-has", foreignAddr)
	if !strings.Contains(who, "quarantined") || !strings.Contains(who, foreign.String()) {
		t.Fatalf("who-has %s:\n%s\nwant it quarantined, answered by %s", foreignAddr, who, foreign)
	}
	t.Logf("kubectl ipkeeper who-has %s:\n%s", foreignAddr, who)
	t.Logf("events of pod second:\n%s", env.RunKubectl(t, "-n", ns, "get", "events", "--field-selector", "involvedObject.name=second", "-o", "custom-columns=REASON:.reason,MESSAGE:.message"))

	dropAddress(t, foreign, foreignAddr+"/16")
	t.Logf("kubectl ipkeeper unquarantine %s:\n%s", foreignAddr, ipkeeper(t, env, "unquarantine", foreignAddr))
	second := waitRunning(t, env, ns, "second")
	if second.Status.PodIP != foreignAddr {
		t.Fatalf("second pod has %s after the quarantine was cleared, want %s", second.Status.PodIP, foreignAddr)
	}
	t.Logf("kubectl get po -o wide:\n%s", env.RunKubectl(t, "-n", ns, "get", "po", "-o", "wide"))

	createPod(t, env, ns, "behind-gw", "node1", poolAnnotation("gateway-v4"))
	waitEvent(t, env, ns, "behind-gw", "gateway "+silentGW+" of pool gateway-v4 did not answer")
	if out := env.RunKubectl(t, "get", "ipclaims", "-l", v1alpha1.LabelPool+"=gateway-v4", "-o", "name"); strings.TrimSpace(out) != "" {
		t.Fatalf("claims of gateway-v4 while its gateway is silent: %s; want none", out)
	}
	t.Logf("events of pod behind-gw:\n%s", env.RunKubectl(t, "-n", ns, "get", "events", "--field-selector", "involvedObject.name=behind-gw", "-o", "custom-columns=REASON:.reason,MESSAGE:.message"))
	foreignHost(t, env, "gw", silentGW+"/16")
	if p := waitRunning(t, env, ns, "behind-gw"); !strings.HasPrefix(p.Status.PodIP, "10.6.151.") {
		t.Fatalf("behind-gw has %s, want an address of gateway-v4", p.Status.PodIP)
	}
	t.Logf("kubectl get po behind-gw -o wide:\n%s", env.RunKubectl(t, "-n", ns, "get", "po", "behind-gw", "-o", "wide"))
}

func poolAnnotation(pool string) map[string]string {
	return map[string]string{"ipam.spidernet.io/ippool": `{"ipv4":["` + pool + `"]}`}
}

func createPod(t *testing.T, env *framework.Env, ns, name, node string, annotations map[string]string) {
	t.Helper()
	pod := &corev1.Pod{
		ObjectMeta: metav1.ObjectMeta{Name: name, Annotations: annotations},
		Spec: corev1.PodSpec{NodeName: node,
			Containers: []corev1.Container{{Name: "web", Image: "nginx", ImagePullPolicy: corev1.PullIfNotPresent}}},
	}
	if _, err := env.Client.CoreV1().Pods(ns).Create(t.Context(), pod, metav1.CreateOptions{}); err != nil {
		t.Fatal(err)
	}
}

func waitRunning(t *testing.T, env *framework.Env, ns, name string) *corev1.Pod {
	t.Helper()
	var pod *corev1.Pod
	env.WaitFor(t, 3*time.Minute, name+" Running", func(ctx context.Context) (bool, error) {
		p, err := env.Client.CoreV1().Pods(ns).Get(ctx, name, metav1.GetOptions{})
		if err != nil || p.Status.Phase != corev1.PodRunning || p.Status.PodIP == "" {
			return false, nil
		}
		pod = p
		return true, nil
	})
	return pod
}

// waitEvent waits for an event on the pod whose message contains text.
func waitEvent(t *testing.T, env *framework.Env, ns, pod, text string) {
	t.Helper()
	env.WaitFor(t, 2*time.Minute, "an event on "+pod+" saying "+text, func(ctx context.Context) (bool, error) {
		list, err := env.Client.CoreV1().Events(ns).List(ctx, metav1.ListOptions{FieldSelector: "involvedObject.name=" + pod})
		if err != nil {
			return false, nil
		}
		for _, e := range list.Items {
			if strings.Contains(e.Message, text) {
				return true, nil
			}
		}
		return false, nil
	})
}

func ipkeeper(t *testing.T, env *framework.Env, args ...string) string {
	t.Helper()
	var out bytes.Buffer
	cmd := cli.NewCommand(genericiooptions.IOStreams{In: strings.NewReader(""), Out: &out, ErrOut: &out})
	cmd.SetArgs(append([]string{"--kubeconfig", env.Kubeconfig}, args...))
	if err := cmd.ExecuteContext(t.Context()); err != nil {
		t.Fatalf("kubectl ipkeeper %v: %v: %s", args, err, out.String())
	}
	return out.String()
}

// helmDetection turns both detections on or off with helm upgrade and waits
// for the agents to roll (the configuration's checksum is in their template).
func helmDetection(t *testing.T, env *framework.Env, on bool) {
	t.Helper()
	root, err := localcluster.RepoRoot()
	if err != nil {
		t.Fatal(err)
	}
	helm, err := localcluster.Helm(root)
	if err != nil {
		t.Fatal(err)
	}
	v := "false"
	if on {
		v = "true"
	}
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Minute)
	defer cancel()
	cmd := exec.CommandContext(ctx, helm, "upgrade", "ipkeeper", filepath.Join(root, "charts", "ipkeeper"),
		"-n", "kube-system", "--kubeconfig", env.Kubeconfig, "--reuse-values", "--wait", "--timeout", "4m",
		"--set", "ipam.enableIPConflictDetection="+v, "--set", "ipam.enableGatewayDetection="+v)
	cmd.Env = append(cmd.Environ(), "HELM_CACHE_HOME="+t.TempDir(), "HELM_CONFIG_HOME="+t.TempDir(), "HELM_DATA_HOME="+t.TempDir())
	if out, err := cmd.CombinedOutput(); err != nil {
		t.Fatalf("helm upgrade (detection %s): %v: %s", v, err, out)
	}
	wait := func(ctx context.Context) (bool, error) {
		ds, err := env.Client.AppsV1().DaemonSets("kube-system").Get(ctx, "ipkeeper-agent", metav1.GetOptions{})
		if err != nil {
			return false, nil
		}
		return ds.Status.ObservedGeneration == ds.Generation && ds.Status.UpdatedNumberScheduled == 2 && ds.Status.NumberReady == 2, nil
	}
	if err := pollCtx(ctx, wait); err != nil {
		t.Fatalf("agents rolled with detection %s: %v", v, err)
	}
}

func pollCtx(ctx context.Context, cond func(context.Context) (bool, error)) error {
	for {
		if ok, err := cond(ctx); ok || err != nil {
			return err
		}
		select {
		case <-ctx.Done():
			return ctx.Err()
		case <-time.After(200 * time.Millisecond):
		}
	}
}

// clearQuarantines deletes every quarantine claim, so that the test's pools
// can go (a pool waits for its claims).
func clearQuarantines(t *testing.T, env *framework.Env) {
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	if out, err := seedwalk.Kubectl(ctx, env, "", "delete", "ipclaims", "-l", v1alpha1.LabelQuarantined+"=true", "--ignore-not-found"); err != nil {
		t.Errorf("clear quarantines: %v: %s", err, out)
	}
}

// foreignHost joins a namespace of its own to the cluster's underlay bridge
// with addr, as a machine outside the cluster on the same network; it is
// removed at the end of the test. It returns the host's hardware address.
func foreignHost(t *testing.T, env *framework.Env, name, addr string) *foreignNS {
	t.Helper()
	netns, err := testutils.NewNS()
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = netns.Close(); _ = testutils.UnmountNS(netns) })
	br, err := netlink.LinkByName(localcluster.BridgeName(env.Cluster.Prefix()))
	if err != nil {
		t.Fatal(err)
	}
	outer, inner := env.Cluster.Prefix()+name, env.Cluster.Prefix()+name+"p"
	veth := &netlink.Veth{LinkAttrs: netlink.LinkAttrs{Name: outer, MasterIndex: br.Attrs().Index}, PeerName: inner,
		PeerNamespace: netlink.NsFd(int(netns.Fd()))}
	if err := netlink.LinkAdd(veth); err != nil {
		t.Fatalf("add %s: %v", outer, err)
	}
	t.Cleanup(func() { _ = netlink.LinkDel(veth) })
	if err := netlink.LinkSetUp(veth); err != nil {
		t.Fatal(err)
	}
	h := &foreignNS{netns: netns, link: inner}
	err = netns.Do(func(ns.NetNS) error {
		l, err := netlink.LinkByName(inner)
		if err != nil {
			return err
		}
		a, err := netlink.ParseAddr(addr)
		if err != nil {
			return err
		}
		if err := netlink.AddrAdd(l, a); err != nil {
			return err
		}
		h.mac = l.Attrs().HardwareAddr.String()
		return netlink.LinkSetUp(l)
	})
	if err != nil {
		t.Fatalf("configure foreign host %s: %v", name, err)
	}
	return h
}

type foreignNS struct {
	netns ns.NetNS
	link  string
	mac   string
}

func (h *foreignNS) String() string { return h.mac }

func dropAddress(t *testing.T, h *foreignNS, addr string) {
	t.Helper()
	err := h.netns.Do(func(ns.NetNS) error {
		l, err := netlink.LinkByName(h.link)
		if err != nil {
			return err
		}
		a, err := netlink.ParseAddr(addr)
		if err != nil {
			return err
		}
		return netlink.AddrDel(l, a)
	})
	if err != nil {
		t.Fatalf("remove %s from the foreign host: %v", addr, err)
	}
}
