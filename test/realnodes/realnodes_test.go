//go:build e2e

// Package realnodes is the end-to-end test of the local cluster with real
// nodes (kubelet, containerd, kube-proxy and Multus in each node's
// namespaces) and ipkeeper installed by its own chart from `make images`:
// pods on two nodes get ipkeeper addresses and reach each other over the
// underlay, a ClusterIP Service works from a hostNetwork pod through the
// node's kube-proxy, no packet of the cluster leaves the machine, and Down
// leaves the host as it was. It imports test/framework, test/localcluster,
// client-go and the standard library.
package realnodes

import (
	"context"
	"fmt"
	"net/netip"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/util/intstr"

	"github.com/ipkeeper/ipkeeper/test/framework"
	"github.com/ipkeeper/ipkeeper/test/localcluster"
	"github.com/ipkeeper/ipkeeper/test/seedwalk"
)

// defaultPool is the subnet of localcluster.DefaultPool.
var defaultPool = netip.MustParsePrefix("10.6.0.0/16")

func TestRealNodes(t *testing.T) {
	if os.Geteuid() != 0 {
		t.Skip("real nodes need root")
	}
	host := snapshotHost(t)
	watch := watchTraffic(t)
	// Registered first, so it runs last: after the cluster is down.
	t.Cleanup(func() {
		frames, sent, leaks := watch.stop()
		t.Logf("traffic: the machine's interfaces sent %d packets during the run (anyone's; %d captured), %d of them the cluster's",
			sent, frames, len(leaks))
		if sent > 0 && frames == 0 {
			t.Errorf("the capture saw none of the %d packets the machine's interfaces sent: it is not working", sent)
		}
		for _, l := range leaks {
			t.Errorf("a packet of the cluster left the machine: %s", l)
		}
		if t.Failed() && os.Getenv("KEEP_CLUSTER") != "" {
			return
		}
		host.check(t)
	})

	start := time.Now()
	env := framework.Start(t, framework.Options{Nodes: 2, RealNodes: true, Ipkeeper: true, Fresh: true})
	host.prefix, host.stateDir = env.Cluster.Prefix(), env.Cluster.StateDir()
	t.Logf("2 real nodes Ready with ipkeeper installed by its chart in %s (images built and imported, helm install --wait)",
		time.Since(start).Round(100*time.Millisecond))
	for _, n := range env.Cluster.Nodes() {
		t.Logf("%s: %s", n.Name, nodeMemory(t, n))
	}

	t.Run("chart", func(t *testing.T) { checkChart(t, env) })
	t.Run("pods across nodes", func(t *testing.T) { checkPodsAcrossNodes(t, env) })
	t.Run("additional network", func(t *testing.T) { checkAdditionalNetwork(t, env) })
	t.Run("pod deletion", func(t *testing.T) { checkPodDeletion(t, env) })
	t.Run("helm upgrade", func(t *testing.T) { checkUpgrade(t, env) })
	t.Run("seed 000 statefulset", func(t *testing.T) { seedwalk.StatefulSet(t, env) })
	t.Run("seed 000 statefulset pod moves node", func(t *testing.T) { checkStatefulSetMovesNode(t, env) })
	t.Run("seed 003 reserved ip", func(t *testing.T) { seedwalk.ReservedIP(t, env) })
	t.Run("seed 004 subnet auto pool", func(t *testing.T) { seedwalk.SubnetAutoPool(t, env) })
	t.Run("malformed annotation", func(t *testing.T) { seedwalk.MalformedAnnotation(t, env) })
	t.Run("agent deleted during pod starts", func(t *testing.T) { checkAgentDeletedDuringPodStarts(t, env) })
	t.Run("coordinator service and node", func(t *testing.T) { checkCoordinator(t, env) })
	t.Run("coordinator multi-nic", func(t *testing.T) { checkCoordinatorMultiNIC(t, env) })
	t.Run("ip conflict and gateway detection", func(t *testing.T) { checkDetection(t, env) })
	t.Run("kubectl ipkeeper check", func(t *testing.T) { checkNothingLeakedOrDoubled(t, env) })
	// Last: it removes ipkeeper.
	t.Run("helm uninstall", func(t *testing.T) { checkHelmUninstall(t, env) })
}

// checkChart: the agent DaemonSet and the controller Deployment are
// available, and the agent's init container put spiderpool and coordinator
// into every node's CNI bin dir.
func checkChart(t *testing.T, env *framework.Env) {
	ctx := t.Context()
	// helm --wait accepts a DaemonSet with maxUnavailable (1) pods not ready.
	env.WaitFor(t, time.Minute, "both agents ready", func(ctx context.Context) (bool, error) {
		ds, err := env.Client.AppsV1().DaemonSets("kube-system").Get(ctx, "ipkeeper-agent", metav1.GetOptions{})
		return err == nil && ds.Status.NumberReady == 2, nil
	})
	deploy, err := env.Client.AppsV1().Deployments("kube-system").Get(ctx, "ipkeeper-controller", metav1.GetOptions{})
	if err != nil {
		t.Fatal(err)
	}
	if deploy.Status.AvailableReplicas < 1 {
		t.Errorf("controller Deployment: %d available replicas", deploy.Status.AvailableReplicas)
	}
	for _, n := range env.Cluster.Nodes() {
		for _, plugin := range []string{"spiderpool", "coordinator"} {
			if st, err := os.Stat(filepath.Join(n.CNIBinDir(), plugin)); err != nil || st.Mode()&0o111 == 0 {
				t.Errorf("%s: no executable %s in /opt/cni/bin: %v", n.Name, plugin, err)
			}
		}
	}
}

// checkPodsAcrossNodes starts the nginx stand-in on each node (pulled as the
// seeds' manifests have it, from the local registry), checks the
// addresses come from ipkeeper's default pool, that the pod on node1 reaches
// the one on node2 over the macvlan underlay, and that a hostNetwork pod on
// node1 reaches the node2 pod through a ClusterIP Service (node1's
// kube-proxy).
func checkPodsAcrossNodes(t *testing.T, env *framework.Env) {
	ns := env.Namespace(t)
	ctx := t.Context()
	pods := map[string]*corev1.Pod{}
	for _, p := range []struct {
		name, node  string
		hostNetwork bool
	}{{"web1", "node1", false}, {"web2", "node2", false}, {"client1", "node1", true}} {
		pod := &corev1.Pod{
			ObjectMeta: metav1.ObjectMeta{Name: p.name, Labels: map[string]string{"app": p.name}},
			Spec: corev1.PodSpec{
				NodeName: p.node, HostNetwork: p.hostNetwork,
				// As the seeds write it: nginx means nginx:latest, pulled Always,
				// from the local registry (the nodes' mirror of docker.io).
				Containers: []corev1.Container{{Name: "web", Image: "nginx"}},
			},
		}
		if p.hostNetwork { // :80 of the node is free, but keep clear of it
			pod.Spec.Containers[0].Args = []string{"serve", "127.0.0.1:8080"}
		}
		if _, err := env.Client.CoreV1().Pods(ns).Create(ctx, pod, metav1.CreateOptions{}); err != nil {
			t.Fatal(err)
		}
	}
	for name := range map[string]bool{"web1": true, "web2": true, "client1": true} {
		env.WaitFor(t, 2*time.Minute, name+" Running", func(ctx context.Context) (bool, error) {
			p, err := env.Client.CoreV1().Pods(ns).Get(ctx, name, metav1.GetOptions{})
			if err != nil || p.Status.Phase != corev1.PodRunning || p.Status.PodIP == "" {
				return false, nil
			}
			pods[name] = p
			return true, nil
		})
	}
	for _, name := range []string{"web1", "web2"} {
		addr, err := netip.ParseAddr(pods[name].Status.PodIP)
		if err != nil || !defaultPool.Contains(addr) {
			t.Errorf("%s has address %q, want one of ipkeeper's default pool", name, pods[name].Status.PodIP)
		}
	}
	body := env.RunKubectl(t, "-n", ns, "exec", "web1", "--", "/webserver", "get", "http://"+pods["web2"].Status.PodIP+"/")
	if !strings.Contains(body, "Welcome") {
		t.Errorf("web1 → web2 over the underlay: got %q", body)
	}

	svc, err := env.Client.CoreV1().Services(ns).Create(ctx, &corev1.Service{
		ObjectMeta: metav1.ObjectMeta{Name: "web2"},
		Spec: corev1.ServiceSpec{Selector: map[string]string{"app": "web2"},
			Ports: []corev1.ServicePort{{Port: 8000, TargetPort: intstr.FromInt32(80)}}},
	}, metav1.CreateOptions{})
	if err != nil {
		t.Fatal(err)
	}
	url := "http://" + svc.Spec.ClusterIP + ":8000/"
	// kube-proxy programs the Service within a second or so: poll.
	var last string
	env.WaitFor(t, time.Minute, "client1 (hostNetwork, node1) → Service web2", func(ctx context.Context) (bool, error) {
		out, err := exec.CommandContext(ctx, env.KubectlPath, "--kubeconfig", env.Kubeconfig, "-n", ns,
			"exec", "client1", "--", "/webserver", "get", url).CombinedOutput()
		last = string(out)
		return err == nil && strings.Contains(last, "Welcome"), nil
	})
	if t.Failed() {
		t.Logf("last answer: %s", last)
	}
}

// nodeMemory sums the resident memory of a node's kubelet, containerd and
// shims (and kube-proxy), read from the node's cgroup.
func nodeMemory(t *testing.T, n localcluster.Node) string {
	data, err := os.ReadFile(filepath.Join("/sys/fs/cgroup/memory", n.Cgroup(), "system", "cgroup.procs"))
	if err != nil {
		return fmt.Sprintf("memory unknown: %v", err)
	}
	byComm := map[string]int{}
	count := map[string]int{}
	for _, f := range strings.Fields(string(data)) {
		comm, _ := os.ReadFile("/proc/" + f + "/comm")
		status, _ := os.ReadFile("/proc/" + f + "/status")
		for _, line := range strings.Split(string(status), "\n") {
			if v, ok := strings.CutPrefix(line, "VmRSS:"); ok {
				kb, _ := strconv.Atoi(strings.TrimSuffix(strings.TrimSpace(v), " kB"))
				name := strings.TrimSpace(string(comm))
				byComm[name] += kb
				count[name]++
			}
		}
	}
	total := 0
	var parts []string
	for name, kb := range byComm {
		total += kb
		parts = append(parts, fmt.Sprintf("%s×%d %.0f MiB", name, count[name], float64(kb)/1024))
	}
	t.Helper()
	return fmt.Sprintf("RSS %.0f MiB (%s)", float64(total)/1024, strings.Join(parts, ", "))
}
