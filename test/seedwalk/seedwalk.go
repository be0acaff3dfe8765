// Package seedwalk walks the seeds' pages (shared/seeds 000 StatefulSet,
// 003 SpiderReservedIP, 004 SpiderSubnet) on a running local cluster, with
// their YAML as written (package test/seeds) and the checks the pages'
// output implies: one walk for every ground, so the simulated nodes of
// test/e2e and the real ones of test/realnodes prove the same thing. Only
// the namespace of the workloads is the test's own.
//
// This package is test harness: no product code may import it. It imports
// test/framework, test/seeds, client-go and the standard library.
package seedwalk

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

// PodsTimeout bounds every wait for pods: real nodes start containers.
const PodsTimeout = 3 * time.Minute

// StatefulSet is seed 000: the StatefulSet's pods get addresses of
// test-ippool and keep them when deleted; a new ordinal gets a free one;
// scaling down releases the removed ordinal's address.
func StatefulSet(t *testing.T, env *framework.Env) {
	ns := env.Namespace(t)
	Network(t, env)
	Apply(t, env, "default", seeds.StatefulSetPool)
	Apply(t, env, ns, seeds.StatefulSet)

	first := PodIPs(t, env, ns, "app=test-sts", 2)
	for _, ip := range first {
		InRange(t, ip, "10.6.168.101", "10.6.168.110")
	}
	if first["test-sts-0"] == first["test-sts-1"] {
		t.Fatalf("both pods got %s", first["test-sts-0"])
	}
	WaitCounts(t, env, "sp", "test-ippool", "2/10")

	if restarted := RestartPods(t, env, ns, "app=test-sts"); !mapsEqual(first, restarted) {
		t.Fatalf("after deleting both pods: %v, want %v", restarted, first)
	}

	env.RunKubectl(t, "scale", "sts", "test-sts", "-n", ns, "--replicas", "3")
	three := PodIPs(t, env, ns, "app=test-sts", 3)
	InRange(t, three["test-sts-2"], "10.6.168.101", "10.6.168.110")
	if three["test-sts-2"] == first["test-sts-0"] || three["test-sts-2"] == first["test-sts-1"] {
		t.Fatalf("ordinal 2 got %s, held by another ordinal", three["test-sts-2"])
	}
	if again := RestartPods(t, env, ns, "app=test-sts"); !mapsEqual(three, again) {
		t.Fatalf("after deleting all three: %v, want %v", again, three)
	}

	env.RunKubectl(t, "scale", "sts", "test-sts", "-n", ns, "--replicas", "2")
	env.WaitFor(t, PodsTimeout, "test-sts-2 gone", func(ctx context.Context) (bool, error) {
		_, err := env.Client.CoreV1().Pods(ns).Get(ctx, "test-sts-2", metav1.GetOptions{})
		return err != nil, nil
	})
	if two := PodIPs(t, env, ns, "app=test-sts", 2); !mapsEqual(two, first) {
		t.Fatalf("after scaling to 2: %v, want %v", two, first)
	}
	WaitCounts(t, env, "sp", "test-ippool", "2/10")
	if out := env.RunKubectl(t, "get", "ipc", "-o", "jsonpath={.items[*].spec.address}"); slices.Contains(strings.Fields(out), three["test-sts-2"]) {
		t.Errorf("the address of scaled-down ordinal 2 (%s) is still claimed: %s", three["test-sts-2"], out)
	}
}

// ReservedIP is seed 003: of test-ippool's three addresses two are
// reserved, so one pod of the Deployment runs (with the third) and the other
// waits, told that the pool is exhausted; reserving the third too keeps a
// restarted pod from starting; deleting the reservation lets both run.
func ReservedIP(t *testing.T, env *framework.Env) {
	ns := env.Namespace(t)
	Network(t, env)
	Apply(t, env, "default", seeds.ReservedIP)
	Apply(t, env, "default", seeds.ReservedIPPool)
	Apply(t, env, ns, seeds.ReservedIPDeployment)

	var running map[string]string
	var stuck string
	env.WaitFor(t, PodsTimeout, "one pod Running, one waiting", func(context.Context) (bool, error) {
		ready, waiting := PodsByState(t, env, ns, "app=test-app")
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
	EventFor(t, env, ns, stuck, "FailedCreatePodSandBox", "all IPs have been exhausted", "total 3, reserved 2")

	env.RunKubectl(t, "patch", "spiderreservedip", "test-reservedip", "--patch", `{"spec":{"ips":["10.6.168.131-10.6.168.133"]}}`, "--type=merge")
	for name := range running {
		env.RunKubectl(t, "delete", "po", "-n", ns, name, "--wait=false")
	}
	var replacement string
	env.WaitFor(t, PodsTimeout, "a replacement pod", func(context.Context) (bool, error) {
		_, waiting := PodsByState(t, env, ns, "app=test-app")
		for _, w := range waiting {
			if w != stuck {
				replacement = w
				return true, nil
			}
		}
		return false, nil
	})
	EventFor(t, env, ns, replacement, "FailedCreatePodSandBox", "all IPs have been exhausted", "reserved 3")
	if ready, _ := PodsByState(t, env, ns, "app=test-app"); len(ready) != 0 {
		t.Fatalf("pods %v run although every address is reserved", ready)
	}

	env.RunKubectl(t, "delete", "sr", "test-reservedip")
	both := PodIPs(t, env, ns, "app=test-app", 2)
	var ips []string
	for _, ip := range both {
		InRange(t, ip, "10.6.168.131", "10.6.168.133")
		ips = append(ips, ip)
	}
	if ips[0] == ips[1] {
		t.Fatalf("both pods got %s", ips[0])
	}
}

// SubnetAutoPool is seed 004: an automatic pool carved from a SpiderSubnet
// follows the Deployment's replicas (+3 spare); a manual pool inside the
// subnet serves its own Deployment.
func SubnetAutoPool(t *testing.T, env *framework.Env) {
	ns := env.Namespace(t)
	Apply(t, env, "default", seeds.Subnet)
	WaitCounts(t, env, "ss", "nginx-subnet-v4", "0/25602")
	Apply(t, env, ns, seeds.SubnetDeployment)

	pool := ""
	env.WaitFor(t, time.Minute, "the Deployment's automatic pool", func(ctx context.Context) (bool, error) {
		out, err := exec.CommandContext(ctx, env.KubectlPath, "--kubeconfig", env.Kubeconfig, "get", "sp",
			"-l", "ipkeeper.io/owner-namespace="+ns+",ipkeeper.io/owner-name=nginx", "-o", "jsonpath={.items[*].metadata.name}").Output()
		pool = strings.TrimSpace(string(out))
		return err == nil && strings.HasPrefix(pool, "auto4-nginx-eth0-"), nil
	})
	ips := PodIPs(t, env, ns, "app=nginx", 2)
	WaitCounts(t, env, "sp", pool, "2/5")
	for _, ip := range ips {
		InRange(t, ip, "10.244.100.1", "10.244.200.2")
	}

	env.RunKubectl(t, "scale", "deploy", "nginx", "-n", ns, "--replicas", "3")
	PodIPs(t, env, ns, "app=nginx", 3)
	WaitCounts(t, env, "sp", pool, "3/6")
	t.Logf("automatic pool %s: %s", pool, env.RunKubectl(t, "get", "sp", pool, "-o", "jsonpath={.spec.ips}"))

	Apply(t, env, "default", seeds.ManualPool)
	WaitCounts(t, env, "sp", "nginx-v4-ippool", "0/11")
	Apply(t, env, ns, seeds.ManualPoolDeployment)
	for _, ip := range PodIPs(t, env, ns, "app=nginx-m", 2) {
		InRange(t, ip, "10.244.120.10", "10.244.120.20")
	}
	WaitCounts(t, env, "sp", "nginx-v4-ippool", "2/11")
}

// MalformedAnnotation checks that a malformed pool annotation is reported on the pod,
// naming the annotation, and so is a pool that does not exist; a pod that
// already runs keeps its address.
func MalformedAnnotation(t *testing.T, env *framework.Env) {
	ns := env.Namespace(t)
	CreatePod(t, env, ns, "fine", "node1", nil)
	fine := WaitPodReady(t, env, ns, "fine")
	CreatePod(t, env, ns, "broken", "node1", map[string]string{"ipam.spidernet.io/ippool": `{"ipv4": [default-v4]}`})
	t.Logf("event: %s", EventFor(t, env, ns, "broken", "IPAllocationFailed", "ipam.spidernet.io/ippool", "not valid JSON"))
	CreatePod(t, env, ns, "unknown-pool", "node2", map[string]string{"ipam.spidernet.io/ippool": `{"ipv4": ["no-such-pool"]}`})
	EventFor(t, env, ns, "unknown-pool", "IPAllocationFailed", "no-such-pool", "no such SpiderIPPool")
	again, err := env.Client.CoreV1().Pods(ns).Get(t.Context(), "fine", metav1.GetOptions{})
	if err != nil || !PodReady(again) || again.Status.PodIP != fine.Status.PodIP {
		t.Fatalf("pod fine changed: %v %+v", err, again.Status)
	}
	for _, name := range []string{"broken", "unknown-pool"} {
		p, err := env.Client.CoreV1().Pods(ns).Get(t.Context(), name, metav1.GetOptions{})
		if err != nil || PodReady(p) || p.Status.PodIP != "" {
			t.Fatalf("pod %s with a bad annotation got an address (%v): %+v", name, err, p.Status)
		}
	}
}

// RestartPods deletes the pods matching selector and waits until pods of the
// same names are back, with new UIDs and Ready; it returns their addresses.
func RestartPods(t *testing.T, env *framework.Env, ns, selector string) map[string]string {
	t.Helper()
	pods, err := env.Client.CoreV1().Pods(ns).List(t.Context(), metav1.ListOptions{LabelSelector: selector})
	if err != nil {
		t.Fatal(err)
	}
	old := map[string]string{}
	for _, p := range pods.Items {
		old[p.Name] = string(p.UID)
	}
	env.RunKubectl(t, "delete", "pod", "-n", ns, "-l", selector, "--wait=false")
	got := map[string]string{}
	env.WaitFor(t, PodsTimeout, fmt.Sprintf("%d pods recreated", len(old)), func(ctx context.Context) (bool, error) {
		pods, err := env.Client.CoreV1().Pods(ns).List(ctx, metav1.ListOptions{LabelSelector: selector})
		if err != nil {
			return false, nil
		}
		clear(got)
		for _, p := range pods.Items {
			if uid, ok := old[p.Name]; ok && uid != string(p.UID) && PodReady(&p) {
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

// InRange fails the test unless ip lies in first-last.
func InRange(t *testing.T, ip, first, last string) {
	t.Helper()
	a, err := netip.ParseAddr(ip)
	if err != nil || a.Less(netip.MustParseAddr(first)) || netip.MustParseAddr(last).Less(a) {
		t.Errorf("address %q outside %s-%s", ip, first, last)
	}
}
