//go:build e2e

package realnodes

import (
	"context"
	"net/netip"
	"strings"
	"testing"
	"time"

	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	"github.com/ipkeeper/ipkeeper/test/framework"
	"github.com/ipkeeper/ipkeeper/test/seeds"
)

// The seeds' walkthroughs (shared/seeds/000 and 003) on real nodes, with
// their pools and workloads as the seeds write them except for the
// annotation v1.multus-cni.io/default-network: the nodes' default network
// is already ipkeeper's macvlan on ens192 (through Multus).

// applyUntil applies yaml into ns, retrying for a while (a pool of the
// same name or with the same addresses from an earlier subtest may still be
// going), and deletes it, waiting, when the test ends: objects in the
// reverse order of the manifest, so that the workload goes before its pool.
func applyUntil(t *testing.T, env *framework.Env, ns string, docs ...string) {
	t.Helper()
	for _, doc := range docs {
		var last string
		env.WaitFor(t, 2*time.Minute, "kubectl apply", func(ctx context.Context) (bool, error) {
			out, err := kubectl(ctx, env, doc, "apply", "-n", ns, "-f", "-")
			last = out
			return err == nil, nil
		})
		if t.Failed() {
			t.Logf("last kubectl apply: %s", last)
		}
	}
	t.Cleanup(func() {
		for i := len(docs) - 1; i >= 0; i-- {
			ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
			out, err := kubectl(ctx, env, docs[i], "delete", "-n", ns, "--ignore-not-found", "--cascade=foreground", "--wait", "--timeout=2m", "-f", "-")
			cancel()
			if err != nil {
				t.Errorf("clean up: %v: %s", err, out)
			}
		}
	})
}

// readyPods returns the Running pods matching selector with an address and
// no deletion timestamp, by name.
func readyPods(ctx context.Context, env *framework.Env, ns, selector string) (map[string]corev1.Pod, []corev1.Pod, error) {
	list, err := env.Client.CoreV1().Pods(ns).List(ctx, metav1.ListOptions{LabelSelector: selector})
	if err != nil {
		return nil, nil, err
	}
	ready := map[string]corev1.Pod{}
	var others []corev1.Pod
	for _, p := range list.Items {
		if p.DeletionTimestamp != nil {
			continue
		}
		if p.Status.Phase == corev1.PodRunning && p.Status.PodIP != "" && podContainersReady(&p) {
			ready[p.Name] = p
		} else {
			others = append(others, p)
		}
	}
	return ready, others, nil
}

func podContainersReady(p *corev1.Pod) bool {
	for _, c := range p.Status.Conditions {
		if c.Type == corev1.PodReady {
			return c.Status == corev1.ConditionTrue
		}
	}
	return false
}

func within(ip, first, last string) bool {
	a, err := netip.ParseAddr(ip)
	return err == nil && !a.Less(netip.MustParseAddr(first)) && !netip.MustParseAddr(last).Less(a)
}

// checkSeedStatefulSet: seed 000 on real nodes. The StatefulSet's pods get
// addresses from test-ippool; a deleted pod comes back with its address;
// ordinal 0 moved to the other node (its node cordoned) keeps its address
// there and a pod on the other node reaches it.
func checkSeedStatefulSet(t *testing.T, env *framework.Env) {
	ns := env.Namespace(t)
	ctx := t.Context()
	applyUntil(t, env, ns, seeds.StatefulSetPool, seeds.WithoutDefaultNetwork(seeds.StatefulSet))

	var pods map[string]corev1.Pod
	waitSts := func(what string, ok func(map[string]corev1.Pod) bool) {
		t.Helper()
		env.WaitFor(t, 3*time.Minute, what, func(ctx context.Context) (bool, error) {
			ready, _, err := readyPods(ctx, env, ns, "app=test-sts")
			if err != nil || len(ready) != 2 {
				return false, nil
			}
			pods = ready
			return ok(ready), nil
		})
	}
	waitSts("test-sts-0 and test-sts-1 Ready", func(map[string]corev1.Pod) bool { return true })
	first := map[string]string{}
	for name, p := range pods {
		first[name] = p.Status.PodIP
		if !within(p.Status.PodIP, "10.6.168.101", "10.6.168.110") {
			t.Errorf("%s got %s, outside test-ippool 10.6.168.101-10.6.168.110", name, p.Status.PodIP)
		}
	}
	if first["test-sts-0"] == first["test-sts-1"] {
		t.Fatalf("both pods got %s", first["test-sts-0"])
	}

	// Delete ordinal 1: it comes back, a new pod, with the same address.
	oldUID := pods["test-sts-1"].UID
	if err := env.Client.CoreV1().Pods(ns).Delete(ctx, "test-sts-1", metav1.DeleteOptions{}); err != nil {
		t.Fatal(err)
	}
	waitSts("test-sts-1 recreated", func(r map[string]corev1.Pod) bool { return r["test-sts-1"].UID != oldUID })
	if got := pods["test-sts-1"].Status.PodIP; got != first["test-sts-1"] {
		t.Errorf("test-sts-1 came back with %s, had %s", got, first["test-sts-1"])
	}

	// Move ordinal 0 to the other node.
	from := pods["test-sts-0"].Spec.NodeName
	to := "node1"
	if from == "node1" {
		to = "node2"
	}
	env.RunKubectl(t, "cordon", from)
	t.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
		defer cancel()
		if out, err := kubectl(ctx, env, "", "uncordon", from); err != nil {
			t.Errorf("uncordon %s: %v: %s", from, err, out)
		}
	})
	oldUID = pods["test-sts-0"].UID
	if err := env.Client.CoreV1().Pods(ns).Delete(ctx, "test-sts-0", metav1.DeleteOptions{}); err != nil {
		t.Fatal(err)
	}
	waitSts("test-sts-0 recreated on "+to, func(r map[string]corev1.Pod) bool {
		return r["test-sts-0"].UID != oldUID && r["test-sts-0"].Spec.NodeName == to
	})
	moved := pods["test-sts-0"].Status.PodIP
	if moved != first["test-sts-0"] {
		t.Errorf("test-sts-0 on %s has %s, had %s on %s", to, moved, first["test-sts-0"], from)
	}
	env.RunKubectl(t, "uncordon", from)
	peer := startPod(t, env, ns, "peer", from, nil)
	var last string
	env.WaitFor(t, time.Minute, "peer ("+from+") → test-sts-0 ("+to+") at "+moved, func(ctx context.Context) (bool, error) {
		out, err := kubectl(ctx, env, "", "-n", ns, "exec", peer.Name, "--", "/webserver", "get", "http://"+moved+"/")
		last = out
		return err == nil && strings.Contains(out, "Welcome"), nil
	})
	if t.Failed() {
		t.Logf("last answer: %s", last)
	}
}

// checkSeedReservedIP: seed 003 on real nodes. Of test-ippool's three
// addresses two are reserved: one pod of the Deployment runs, with the
// third, and the other waits; no pod ever has a reserved address.
func checkSeedReservedIP(t *testing.T, env *framework.Env) {
	ns := env.Namespace(t)
	applyUntil(t, env, ns, seeds.ReservedIP, seeds.ReservedIPPool, seeds.WithoutDefaultNetwork(seeds.ReservedIPDeployment))
	reserved := func(ip string) bool { return within(ip, "10.6.168.131", "10.6.168.132") }
	var running map[string]corev1.Pod
	env.WaitFor(t, 3*time.Minute, "one pod Running, one waiting", func(ctx context.Context) (bool, error) {
		ready, others, err := readyPods(ctx, env, ns, "app=test-app")
		if err != nil {
			return false, nil
		}
		for _, p := range others {
			if p.Status.PodIP != "" && reserved(p.Status.PodIP) {
				return false, &reservedError{p.Name, p.Status.PodIP}
			}
		}
		running = ready
		return len(ready) == 1 && len(others) == 1, nil
	})
	for name, p := range running {
		if p.Status.PodIP != "10.6.168.133" {
			t.Errorf("%s got %s, want the only unreserved address 10.6.168.133", name, p.Status.PodIP)
		}
	}
	// The waiting pod stays without an address while the agents retry.
	env.WaitFor(t, time.Minute, "a FailedCreatePodSandBox event naming the exhausted pool", func(ctx context.Context) (bool, error) {
		out, err := kubectl(ctx, env, "", "-n", ns, "get", "events", "--field-selector", "reason=FailedCreatePodSandBox", "-o", "jsonpath={.items[*].message}")
		return err == nil && strings.Contains(out, "all IPs have been exhausted"), nil
	})
	ready, others, err := readyPods(t.Context(), env, ns, "app=test-app")
	if err != nil {
		t.Fatal(err)
	}
	for _, p := range append(others, mapValues(ready)...) {
		if reserved(p.Status.PodIP) {
			t.Errorf("%s has the reserved address %s", p.Name, p.Status.PodIP)
		}
	}
	out, err := kubectl(t.Context(), env, "", "get", "ipclaims", "-o", "jsonpath={range .items[*]}{.spec.address}{\"\\n\"}{end}")
	if err != nil {
		t.Fatalf("list claims: %v: %s", err, out)
	}
	for _, a := range strings.Fields(out) {
		if reserved(a) {
			t.Errorf("reserved address %s is claimed", a)
		}
	}
}

type reservedError struct{ pod, ip string }

func (e *reservedError) Error() string { return e.pod + " got the reserved address " + e.ip }

func mapValues(m map[string]corev1.Pod) []corev1.Pod {
	var out []corev1.Pod
	for _, p := range m {
		out = append(out, p)
	}
	return out
}
