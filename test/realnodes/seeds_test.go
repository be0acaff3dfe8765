//go:build e2e

package realnodes

import (
	"context"
	"strings"
	"testing"
	"time"

	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	"github.com/ipkeeper/ipkeeper/test/framework"
	"github.com/ipkeeper/ipkeeper/test/seeds"
	"github.com/ipkeeper/ipkeeper/test/seedwalk"
)

// The seeds' walkthroughs (shared/seeds 000, 003 and 004) run on real nodes
// by the same walks as on simulated ones (package test/seedwalk), with the
// seeds' YAML unchanged: their pods name the SpiderMultusConfig's
// NetworkAttachmentDefinition kube-system/macvlan-ens192 as their default
// network, which Multus on each node delegates to.

// readyPods returns the Running pods matching selector with an address and
// no deletion timestamp, by name, and the others.
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
		if seedwalk.PodReady(&p) {
			ready[p.Name] = p
		} else {
			others = append(others, p)
		}
	}
	return ready, others, nil
}

// checkStatefulSetMovesNode: seed 000's StatefulSet, then ordinal 0 moved to
// the other node (its node cordoned) keeps its address there, and a pod on
// the first node reaches it over the underlay.
func checkStatefulSetMovesNode(t *testing.T, env *framework.Env) {
	ns := env.Namespace(t)
	ctx := t.Context()
	seedwalk.Network(t, env)
	seedwalk.Apply(t, env, "default", seeds.StatefulSetPool)
	seedwalk.Apply(t, env, ns, seeds.StatefulSet)

	pods := seedwalk.WaitReadyPods(t, env, ns, "app=test-sts", 2)
	var sts0 corev1.Pod
	for _, p := range pods {
		if p.Name == "test-sts-0" {
			sts0 = p
		}
	}
	from, to := sts0.Spec.NodeName, "node1"
	if from == "node1" {
		to = "node2"
	}
	env.RunKubectl(t, "cordon", from)
	t.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
		defer cancel()
		if out, err := seedwalk.Kubectl(ctx, env, "", "uncordon", from); err != nil {
			t.Errorf("uncordon %s: %v: %s", from, err, out)
		}
	})
	if err := env.Client.CoreV1().Pods(ns).Delete(ctx, "test-sts-0", metav1.DeleteOptions{}); err != nil {
		t.Fatal(err)
	}
	var moved string
	env.WaitFor(t, seedwalk.PodsTimeout, "test-sts-0 recreated on "+to, func(ctx context.Context) (bool, error) {
		p, err := env.Client.CoreV1().Pods(ns).Get(ctx, "test-sts-0", metav1.GetOptions{})
		if err != nil || p.UID == sts0.UID || !seedwalk.PodReady(p) {
			return false, nil
		}
		moved = p.Status.PodIP
		return p.Spec.NodeName == to, nil
	})
	if moved != sts0.Status.PodIP {
		t.Errorf("test-sts-0 on %s has %s, had %s on %s", to, moved, sts0.Status.PodIP, from)
	}
	env.RunKubectl(t, "uncordon", from)
	peer := startPod(t, env, ns, "peer", from, nil)
	var last string
	env.WaitFor(t, time.Minute, "peer ("+from+") → test-sts-0 ("+to+") at "+moved, func(ctx context.Context) (bool, error) {
		out, err := seedwalk.Kubectl(ctx, env, "", "-n", ns, "exec", peer.Name, "--", "/webserver", "get", "http://"+moved+"/")
		last = out
		return err == nil && strings.Contains(out, "Welcome"), nil
	})
	if t.Failed() {
		t.Logf("last answer: %s", last)
	}
}
