package seedwalk

import (
	"context"
	"fmt"
	"os/exec"
	"slices"
	"strings"
	"testing"
	"time"

	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/util/wait"

	"github.com/ipkeeper/ipkeeper/test/framework"
	"github.com/ipkeeper/ipkeeper/test/seeds"
)

// Kubectl runs kubectl with stdin and returns its combined output.
func Kubectl(ctx context.Context, env *framework.Env, stdin string, args ...string) (string, error) {
	cmd := exec.CommandContext(ctx, env.KubectlPath, append([]string{"--kubeconfig", env.Kubeconfig}, args...)...)
	cmd.Stdin = strings.NewReader(stdin)
	out, err := cmd.CombinedOutput()
	return string(out), err
}

// Apply applies a manifest into ns and, when the test ends, deletes it and
// waits until it is gone (a pool waits for its claims, so the next test can
// reuse its name and addresses). A pool of the same name from an earlier test
// may still be going: Apply retries while the API server refuses.
func Apply(t *testing.T, env *framework.Env, ns, manifest string) {
	t.Helper()
	applyRetrying(t, env, ns, manifest)
	t.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
		defer cancel()
		if out, err := Kubectl(ctx, env, manifest, "delete", "-n", ns, "--ignore-not-found", "--wait", "--timeout=2m", "-f", "-"); err != nil {
			t.Errorf("clean up: %v: %s", err, out)
		}
	})
}

// Network creates the seeds' SpiderMultusConfig (kept for every later test)
// and waits for the NetworkAttachmentDefinition it renders, which the seeds'
// pods name as their default network.
func Network(t *testing.T, env *framework.Env) {
	t.Helper()
	applyRetrying(t, env, "kube-system", seeds.MultusConfig)
	env.WaitFor(t, time.Minute, "NetworkAttachmentDefinition kube-system/macvlan-ens192", func(ctx context.Context) (bool, error) {
		out, err := Kubectl(ctx, env, "", "get", "network-attachment-definitions.k8s.cni.cncf.io", "-n", "kube-system", "macvlan-ens192", "-o", "jsonpath={.spec.config}")
		return err == nil && strings.Contains(out, `"master":"ens192"`) && strings.Contains(out, `"type":"spiderpool"`), nil
	})
}

// applyRetrying applies manifest into ns, retrying for up to two minutes
// while the API server refuses (an earlier object of the name still going,
// the controller's webhook between two replicas during a helm upgrade), and
// fails the test with kubectl's last answer.
func applyRetrying(t *testing.T, env *framework.Env, ns, manifest string) {
	t.Helper()
	var last string
	err := wait.PollUntilContextTimeout(t.Context(), 200*time.Millisecond, 2*time.Minute, true, func(ctx context.Context) (bool, error) {
		out, err := Kubectl(ctx, env, manifest, "apply", "-n", ns, "-f", "-")
		last = out
		return err == nil, nil
	})
	if err != nil {
		t.Fatalf("kubectl apply into %s: %v; last answer: %s", ns, err, last)
	}
}

// CreatePod creates a bare pod of the seeds' nginx image, pinned to a node
// through the scheduler when node is set.
func CreatePod(t *testing.T, env *framework.Env, ns, name, node string, annotations map[string]string) *corev1.Pod {
	t.Helper()
	pod := &corev1.Pod{
		ObjectMeta: metav1.ObjectMeta{Name: name, Annotations: annotations, Labels: map[string]string{"app": name}},
		Spec: corev1.PodSpec{Containers: []corev1.Container{{
			Name: "web", Image: "nginx", ImagePullPolicy: corev1.PullIfNotPresent,
		}}},
	}
	if node != "" {
		pod.Spec.NodeSelector = map[string]string{"kubernetes.io/hostname": node}
	}
	created, err := env.Client.CoreV1().Pods(ns).Create(t.Context(), pod, metav1.CreateOptions{})
	if err != nil {
		t.Fatalf("create pod %s: %v", name, err)
	}
	return created
}

// PodReady reports whether the pod runs, is Ready, has an address and is not
// being deleted.
func PodReady(p *corev1.Pod) bool {
	if p.DeletionTimestamp != nil || p.Status.Phase != corev1.PodRunning || p.Status.PodIP == "" {
		return false
	}
	for _, c := range p.Status.Conditions {
		if c.Type == corev1.PodReady {
			return c.Status == corev1.ConditionTrue
		}
	}
	return false
}

// WaitReadyPods waits until exactly n pods match selector and all are ready.
func WaitReadyPods(t *testing.T, env *framework.Env, ns, selector string, n int) []corev1.Pod {
	t.Helper()
	var pods []corev1.Pod
	env.WaitFor(t, PodsTimeout, fmt.Sprintf("%d ready pods %q in %s", n, selector, ns), func(ctx context.Context) (bool, error) {
		list, err := env.Client.CoreV1().Pods(ns).List(ctx, metav1.ListOptions{LabelSelector: selector})
		if err != nil {
			return false, nil
		}
		pods = list.Items
		return len(pods) == n && !slices.ContainsFunc(pods, func(p corev1.Pod) bool { return !PodReady(&p) }), nil
	})
	return pods
}

// WaitPodReady waits until the pod is ready and returns it.
func WaitPodReady(t *testing.T, env *framework.Env, ns, name string) *corev1.Pod {
	t.Helper()
	var pod *corev1.Pod
	env.WaitFor(t, PodsTimeout, "pod "+ns+"/"+name+" ready", func(ctx context.Context) (bool, error) {
		p, err := env.Client.CoreV1().Pods(ns).Get(ctx, name, metav1.GetOptions{})
		if err != nil {
			return false, nil
		}
		pod = p
		return PodReady(p), nil
	})
	return pod
}

// PodIPs returns pod name → IP of the pods matching selector once n of them
// are Ready.
func PodIPs(t *testing.T, env *framework.Env, ns, selector string, n int) map[string]string {
	t.Helper()
	out := map[string]string{}
	for _, p := range WaitReadyPods(t, env, ns, selector, n) {
		out[p.Name] = p.Status.PodIP
	}
	return out
}

// PodsByState splits the pods matching selector into Ready ones (name → IP)
// and the others (not being deleted).
func PodsByState(t *testing.T, env *framework.Env, ns, selector string) (map[string]string, []string) {
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
		if PodReady(&p) {
			ready[p.Name] = p.Status.PodIP
		} else {
			waiting = append(waiting, p.Name)
		}
	}
	return ready, waiting
}

// WaitCounts waits until ALLOCATED-IP-COUNT/TOTAL-IP-COUNT of a pool (sp) or
// subnet (ss) reads want.
func WaitCounts(t *testing.T, env *framework.Env, kind, name, want string) {
	t.Helper()
	env.WaitFor(t, time.Minute, kind+" "+name+" counts "+want, func(ctx context.Context) (bool, error) {
		out, err := Kubectl(ctx, env, "", "get", kind, name, "-o", "jsonpath={.status.allocatedIPCount}/{.status.totalIPCount}")
		return err == nil && strings.TrimSpace(out) == want, nil
	})
}

// EventFor waits for an event of the given reason on a pod whose message
// contains every one of parts, and returns its message.
func EventFor(t *testing.T, env *framework.Env, ns, pod, reason string, parts ...string) string {
	t.Helper()
	var msg string
	env.WaitFor(t, PodsTimeout, fmt.Sprintf("%s event on %s mentioning %q", reason, pod, parts), func(ctx context.Context) (bool, error) {
		evs, err := env.Client.CoreV1().Events(ns).List(ctx, metav1.ListOptions{
			FieldSelector: "involvedObject.name=" + pod + ",reason=" + reason,
		})
		if err != nil {
			return false, nil
		}
		for _, ev := range evs.Items {
			if !slices.ContainsFunc(parts, func(p string) bool { return !strings.Contains(ev.Message, p) }) {
				msg = ev.Message
				return true, nil
			}
		}
		return false, nil
	})
	return msg
}
