//go:build e2e

package e2e

import (
	"context"
	"fmt"
	"net/netip"
	"os/exec"
	"slices"
	"strings"
	"testing"
	"time"

	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	"github.com/ipkeeper/ipkeeper/test/framework"
	"github.com/ipkeeper/ipkeeper/test/seeds"
)

// The seeds' walkthroughs (shared/seeds/000, 003, 004) with their YAML as
// written (package test/seeds); only the namespace is the test's own.

// kubectlIn runs kubectl with stdin and returns its combined output.
func kubectlIn(t *testing.T, env *framework.Env, stdin string, args ...string) string {
	t.Helper()
	cmd := exec.CommandContext(t.Context(), env.KubectlPath, append([]string{"--kubeconfig", env.Kubeconfig}, args...)...)
	cmd.Stdin = strings.NewReader(stdin)
	out, err := cmd.CombinedOutput()
	if err != nil {
		t.Fatalf("kubectl %v: %v: %s", args, err, out)
	}
	return string(out)
}

// applyCleanup applies yaml and deletes it (waiting) when the test ends.
func applyCleanup(t *testing.T, env *framework.Env, ns, yaml string) {
	t.Helper()
	kubectlIn(t, env, yaml, "apply", "-n", ns, "-f", "-")
	t.Cleanup(func() {
		cmd := exec.Command(env.KubectlPath, "--kubeconfig", env.Kubeconfig, "delete", "-n", ns, "--ignore-not-found", "--wait", "--timeout=2m", "-f", "-")
		cmd.Stdin = strings.NewReader(yaml)
		if out, err := cmd.CombinedOutput(); err != nil {
			t.Errorf("clean up: %v: %s", err, out)
		}
	})
}

// seedNetwork creates the seeds' SpiderMultusConfig (shared by every test)
// and waits for the NetworkAttachmentDefinition it renders.
func seedNetwork(t *testing.T, env *framework.Env) {
	t.Helper()
	kubectlIn(t, env, seeds.MultusConfig, "apply", "-f", "-")
	env.WaitFor(t, time.Minute, "NetworkAttachmentDefinition kube-system/macvlan-ens192", func(ctx context.Context) (bool, error) {
		out, err := exec.CommandContext(ctx, env.KubectlPath, "--kubeconfig", env.Kubeconfig,
			"get", "network-attachment-definitions.k8s.cni.cncf.io", "-n", "kube-system", "macvlan-ens192", "-o", "jsonpath={.spec.config}").Output()
		return err == nil && strings.Contains(string(out), `"master":"ens192"`) && strings.Contains(string(out), `"type":"spiderpool"`), nil
	})
}

// podIPs returns pod name → IP of the pods matching selector once n of them
// are Ready.
func podIPs(t *testing.T, env *framework.Env, ns, selector string, n int) map[string]string {
	t.Helper()
	out := map[string]string{}
	for _, p := range waitReadyPods(t, env, ns, selector, n) {
		out[p.Name] = p.Status.PodIP
	}
	return out
}

func inRange(t *testing.T, ip, first, last string) {
	t.Helper()
	a, err := netip.ParseAddr(ip)
	if err != nil || a.Less(netip.MustParseAddr(first)) || netip.MustParseAddr(last).Less(a) {
		t.Errorf("address %q outside %s-%s", ip, first, last)
	}
}

func deleteAllPods(t *testing.T, env *framework.Env, ns, selector string) {
	t.Helper()
	env.RunKubectl(t, "delete", "pod", "-n", ns, "-l", selector, "--wait=false")
}

func waitPoolCounts(t *testing.T, env *framework.Env, pool, want string) {
	t.Helper()
	waitCounts(t, env, "sp", pool, want)
}

// waitCounts waits until ALLOCATED-IP-COUNT/TOTAL-IP-COUNT of a pool (sp) or
// subnet (ss) reads want.
func waitCounts(t *testing.T, env *framework.Env, kind, name, want string) {
	t.Helper()
	env.WaitFor(t, 30*time.Second, kind+" "+name+" counts "+want, func(ctx context.Context) (bool, error) {
		out, err := exec.CommandContext(ctx, env.KubectlPath, "--kubeconfig", env.Kubeconfig, "get", kind, name,
			"-o", "jsonpath={.status.allocatedIPCount}/{.status.totalIPCount}").Output()
		return err == nil && strings.TrimSpace(string(out)) == want, nil
	})
}

// Seed 000: StatefulSet pods keep their addresses across restarts; scaling
// down releases the removed ordinal's address.
func TestSeedStatefulSetKeepsAddresses(t *testing.T) {
	env := localCluster.Get(t)
	ns := env.Namespace(t)
	seedNetwork(t, env)
	applyCleanup(t, env, "default", seeds.StatefulSetPool)
	applyCleanup(t, env, ns, seeds.StatefulSet)

	first := podIPs(t, env, ns, "app=test-sts", 2)
	for _, ip := range first {
		inRange(t, ip, "10.6.168.101", "10.6.168.110")
	}
	if first["test-sts-0"] == first["test-sts-1"] {
		t.Fatalf("both pods got %s", first["test-sts-0"])
	}
	waitPoolCounts(t, env, "test-ippool", "2/10")

	restarted := restartPods(t, env, ns, "app=test-sts")
	if !mapsEqual(first, restarted) {
		t.Fatalf("after deleting both pods: %v, want %v", restarted, first)
	}

	env.RunKubectl(t, "scale", "sts", "test-sts", "-n", ns, "--replicas", "3")
	three := podIPs(t, env, ns, "app=test-sts", 3)
	inRange(t, three["test-sts-2"], "10.6.168.101", "10.6.168.110")
	if three["test-sts-2"] == first["test-sts-0"] || three["test-sts-2"] == first["test-sts-1"] {
		t.Fatalf("ordinal 2 got %s, held by another ordinal", three["test-sts-2"])
	}
	if again := restartPods(t, env, ns, "app=test-sts"); !mapsEqual(three, again) {
		t.Fatalf("after deleting all three: %v, want %v", again, three)
	}

	env.RunKubectl(t, "scale", "sts", "test-sts", "-n", ns, "--replicas", "2")
	env.WaitFor(t, podsTimeout, "test-sts-2 gone", func(ctx context.Context) (bool, error) {
		_, err := env.Client.CoreV1().Pods(ns).Get(ctx, "test-sts-2", metav1.GetOptions{})
		return err != nil, nil
	})
	if two := podIPs(t, env, ns, "app=test-sts", 2); !mapsEqual(two, first) {
		t.Fatalf("after scaling to 2: %v, want %v", two, first)
	}
	waitPoolCounts(t, env, "test-ippool", "2/10")
	if out := env.RunKubectl(t, "get", "ipc", "-o", "name"); strings.Contains(out, three["test-sts-2"]+"\n") {
		t.Errorf("the address of scaled-down ordinal 2 (%s) is still claimed:\n%s", three["test-sts-2"], out)
	}
}

// restartPods deletes the pods matching selector and waits until pods of the
// same names are back, with new UIDs and Ready; it returns their addresses.
func restartPods(t *testing.T, env *framework.Env, ns, selector string) map[string]string {
	t.Helper()
	pods, err := env.Client.CoreV1().Pods(ns).List(t.Context(), metav1.ListOptions{LabelSelector: selector})
	if err != nil {
		t.Fatal(err)
	}
	old := map[string]string{}
	for _, p := range pods.Items {
		old[p.Name] = string(p.UID)
	}
	deleteAllPods(t, env, ns, selector)
	got := map[string]string{}
	env.WaitFor(t, podsTimeout, fmt.Sprintf("%d pods recreated", len(old)), func(ctx context.Context) (bool, error) {
		pods, err := env.Client.CoreV1().Pods(ns).List(ctx, metav1.ListOptions{LabelSelector: selector})
		if err != nil {
			return false, nil
		}
		clear(got)
		for _, p := range pods.Items {
			if uid, ok := old[p.Name]; ok && uid != string(p.UID) && podReady(&p) {
				got[p.Name] = p.Status.PodIP
			}
		}
		return len(got) == len(old), nil
	})
	return got
}

func mapsEqual(a, b map[string]string) bool {
	if len(a) != len(b) {
		return false
	}
	for k, v := range a {
		if b[k] != v {
			return false
		}
	}
	return true
}

// podsByState splits the pods matching selector into Ready ones (name → IP)
// and the others.
func podsByState(t *testing.T, env *framework.Env, ns, selector string) (map[string]string, []string) {
	t.Helper()
	pods, err := env.Client.CoreV1().Pods(ns).List(t.Context(), metav1.ListOptions{LabelSelector: selector})
	if err != nil {
		t.Fatal(err)
	}
	ready := map[string]string{}
	var waiting []string
	for _, p := range pods.Items {
		if p.DeletionTimestamp != nil {
			continue
		}
		if podReady(&p) {
			ready[p.Name] = p.Status.PodIP
		} else {
			waiting = append(waiting, p.Name)
		}
	}
	return ready, waiting
}

// Seed 003: reserved addresses are never handed out, also when a pod held
// one before it was reserved; removing the reservation frees them.
func TestSeedReservedIPs(t *testing.T) {
	env := localCluster.Get(t)
	ns := env.Namespace(t)
	seedNetwork(t, env)
	applyCleanup(t, env, "default", seeds.ReservedIP)
	applyCleanup(t, env, "default", seeds.ReservedIPPool)
	applyCleanup(t, env, ns, seeds.ReservedIPDeployment)

	var running map[string]string
	var stuck string
	env.WaitFor(t, podsTimeout, "one pod Running, one waiting", func(context.Context) (bool, error) {
		ready, waiting := podsByState(t, env, ns, "app=test-app")
		if len(ready) == 1 && len(waiting) == 1 {
			running, stuck = ready, waiting[0]
			return true, nil
		}
		return false, nil
	})
	for _, ip := range running {
		if ip != "10.6.168.133" {
			t.Fatalf("running pod got %s, want the only unreserved address 10.6.168.133", ip)
		}
	}
	eventFor(t, env, ns, stuck, "FailedCreatePodSandBox", "all IPs have been exhausted", "total 3, reserved 2")

	env.RunKubectl(t, "patch", "spiderreservedip", "test-reservedip", "--patch", `{"spec":{"ips":["10.6.168.131-10.6.168.133"]}}`, "--type=merge")
	for name := range running {
		env.RunKubectl(t, "delete", "po", "-n", ns, name, "--wait=false")
	}
	var replacement string
	env.WaitFor(t, podsTimeout, "a replacement pod", func(context.Context) (bool, error) {
		_, waiting := podsByState(t, env, ns, "app=test-app")
		for _, w := range waiting {
			if w != stuck {
				replacement = w
				return true, nil
			}
		}
		return false, nil
	})
	eventFor(t, env, ns, replacement, "FailedCreatePodSandBox", "all IPs have been exhausted", "reserved 3")
	if ready, _ := podsByState(t, env, ns, "app=test-app"); len(ready) != 0 {
		t.Fatalf("pods %v run although every address is reserved", ready)
	}

	env.RunKubectl(t, "delete", "sr", "test-reservedip")
	both := podIPs(t, env, ns, "app=test-app", 2)
	var ips []string
	for _, ip := range both {
		inRange(t, ip, "10.6.168.131", "10.6.168.133")
		ips = append(ips, ip)
	}
	if ips[0] == ips[1] {
		t.Fatalf("both pods got %s", ips[0])
	}
}

// Seed 004: an automatic pool from a SpiderSubnet follows replicas; a manual
// pool serves its Deployment.
func TestSeedSubnetAutoPool(t *testing.T) {
	env := localCluster.Get(t)
	ns := env.Namespace(t)
	applyCleanup(t, env, "default", seeds.Subnet)
	waitCounts(t, env, "ss", "nginx-subnet-v4", "0/25602")
	applyCleanup(t, env, ns, seeds.SubnetDeployment)

	pool := ""
	env.WaitFor(t, time.Minute, "the Deployment's automatic pool", func(ctx context.Context) (bool, error) {
		out, err := exec.CommandContext(ctx, env.KubectlPath, "--kubeconfig", env.Kubeconfig, "get", "sp",
			"-l", "ipkeeper.io/owner-namespace="+ns+",ipkeeper.io/owner-name=nginx", "-o", "jsonpath={.items[*].metadata.name}").Output()
		pool = strings.TrimSpace(string(out))
		return err == nil && strings.HasPrefix(pool, "auto4-nginx-eth0-"), nil
	})
	ips := podIPs(t, env, ns, "app=nginx", 2)
	waitPoolCounts(t, env, pool, "2/5")
	poolIPs := env.RunKubectl(t, "get", "sp", pool, "-o", "jsonpath={.spec.ips}")
	for _, ip := range ips {
		inRange(t, ip, "10.244.100.1", "10.244.200.2")
	}

	env.RunKubectl(t, "scale", "deploy", "nginx", "-n", ns, "--replicas", "3")
	podIPs(t, env, ns, "app=nginx", 3)
	waitPoolCounts(t, env, pool, "3/6")
	t.Logf("automatic pool %s: %s", pool, poolIPs)

	applyCleanup(t, env, "default", seeds.ManualPool)
	waitPoolCounts(t, env, "nginx-v4-ippool", "0/11")
	applyCleanup(t, env, ns, seeds.ManualPoolDeployment)
	for _, ip := range podIPs(t, env, ns, "app=nginx-m", 2) {
		inRange(t, ip, "10.244.120.10", "10.244.120.20")
	}
	waitPoolCounts(t, env, "nginx-v4-ippool", "2/11")
}

// A malformed pool annotation is reported on the pod, naming the annotation;
// other pods are not disturbed.
func TestSeedMalformedAnnotationIsReported(t *testing.T) {
	env := localCluster.Get(t)
	ns := env.Namespace(t)
	createPod(t, env, ns, "fine", "node1", nil)
	fine := waitPodReady(t, env, ns, "fine")
	createPod(t, env, ns, "broken", "node1", map[string]string{"ipam.spidernet.io/ippool": `{"ipv4": [default-v4]}`})
	msg := eventFor(t, env, ns, "broken", "IPAllocationFailed", "ipam.spidernet.io/ippool", "not valid JSON")
	t.Logf("event: %s", msg)
	createPod(t, env, ns, "unknown-pool", "node2", map[string]string{"ipam.spidernet.io/ippool": `{"ipv4": ["no-such-pool"]}`})
	eventFor(t, env, ns, "unknown-pool", "IPAllocationFailed", "no-such-pool", "no such SpiderIPPool")
	again, err := env.Client.CoreV1().Pods(ns).Get(t.Context(), "fine", metav1.GetOptions{})
	if err != nil || !podReady(again) || again.Status.PodIP != fine.Status.PodIP {
		t.Fatalf("pod fine changed: %v %+v", err, again.Status)
	}
	if slices.ContainsFunc([]string{"broken", "unknown-pool"}, func(n string) bool {
		p, err := env.Client.CoreV1().Pods(ns).Get(t.Context(), n, metav1.GetOptions{})
		return err != nil || podReady(p) || p.Status.PodIP != ""
	}) {
		t.Fatal("a pod with a bad annotation got an address")
	}
}
