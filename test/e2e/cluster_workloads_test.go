//go:build e2e

package e2e

import (
	"context"
	"testing"

	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	"github.com/ipkeeper/ipkeeper/test/localcluster/nsmount"
	"github.com/ipkeeper/ipkeeper/test/seedwalk"
)

// TestClusterWorkloads runs a StatefulSet and a Deployment of two pods each
// and checks that they become Running with addresses of their nodes' ranges,
// as the API, kubectl and the pods' namespaces all report.
func TestClusterWorkloads(t *testing.T) {
	t.Parallel()
	env := localCluster.Get(t)
	ns := env.Namespace(t)
	createStatefulSet(t, env, ns, "db", 2)
	createDeployment(t, env, ns, "web", 2)

	pods := append(seedwalk.WaitReadyPods(t, env, ns, "app=db", 2), seedwalk.WaitReadyPods(t, env, ns, "app=web", 2)...)
	rows := kubectlWide(t, env, ns)
	for i := range pods {
		p := &pods[i]
		checkPodNetwork(t, env, p)
		row, ok := rows[p.Name]
		if !ok {
			t.Errorf("kubectl get pods -o wide does not list %s", p.Name)
			continue
		}
		if row[1] != "1/1" || row[2] != "Running" || row[5] != p.Status.PodIP || row[6] != p.Spec.NodeName {
			t.Errorf("kubectl row %v, want READY 1/1, Running, IP %s, NODE %s", row, p.Status.PodIP, p.Spec.NodeName)
		}
	}
	seen := map[string]string{}
	for _, p := range pods {
		if other, dup := seen[p.Status.PodIP]; dup {
			t.Errorf("pods %s and %s share the address %s", other, p.Name, p.Status.PodIP)
		}
		seen[p.Status.PodIP] = p.Name
	}
	// The agents find each pod's top controller: the Deployment behind the
	// ReplicaSet, as SpiderEndpoint reports it.
	for _, p := range pods {
		want := "StatefulSet/db"
		if p.Labels["app"] == "web" {
			want = "Deployment/web"
		}
		got := env.RunKubectl(t, "-n", ns, "get", "spiderendpoint", p.Name,
			"-o", "jsonpath={.status.ownerControllerType}/{.status.ownerControllerName}")
		if got != want {
			t.Errorf("SpiderEndpoint %s owner %q, want %q", p.Name, got, want)
		}
	}
}

// TestClusterStatefulSetPodComesBack deletes a StatefulSet pod and expects a
// new pod of the same name (new UID) to run, and the old sandbox to be gone.
func TestClusterStatefulSetPodComesBack(t *testing.T) {
	t.Parallel()
	env := localCluster.Get(t)
	ns := env.Namespace(t)
	createStatefulSet(t, env, ns, "sts", 2)
	seedwalk.WaitReadyPods(t, env, ns, "app=sts", 2)

	old, err := env.Client.CoreV1().Pods(ns).Get(t.Context(), "sts-0", metav1.GetOptions{})
	if err != nil {
		t.Fatalf("get sts-0: %v", err)
	}
	oldNetNS := env.Sandbox(t, old).NetNS
	if err := env.Client.CoreV1().Pods(ns).Delete(t.Context(), "sts-0", metav1.DeleteOptions{}); err != nil {
		t.Fatalf("delete sts-0: %v", err)
	}
	var back *corev1.Pod
	env.WaitFor(t, podsTimeout, "a new sts-0 ready", func(ctx context.Context) (bool, error) {
		p, err := env.Client.CoreV1().Pods(ns).Get(ctx, "sts-0", metav1.GetOptions{})
		if err != nil || p.UID == old.UID {
			return false, nil
		}
		back = p
		return seedwalk.PodReady(p), nil
	})
	checkPodNetwork(t, env, back)
	if nsmount.Exists(oldNetNS) {
		t.Errorf("the deleted pod's namespace %s still exists", oldNetNS)
	}
	if newNetNS := env.Sandbox(t, back).NetNS; newNetNS == oldNetNS {
		t.Errorf("the new pod reuses the old sandbox namespace %s", oldNetNS)
	}
}

// TestClusterPodToPodAcrossNodes connects from a pod on node1 to a pod on
// node2 over the underlay, without address translation.
func TestClusterPodToPodAcrossNodes(t *testing.T) {
	t.Parallel()
	env := localCluster.Get(t)
	ns := env.Namespace(t)
	createPod(t, env, ns, "client", "node1", nil)
	createPod(t, env, ns, "server", "node2", nil)
	client := seedwalk.WaitPodReady(t, env, ns, "client")
	server := seedwalk.WaitPodReady(t, env, ns, "server")
	if client.Spec.NodeName != "node1" || server.Spec.NodeName != "node2" {
		t.Fatalf("pods on %s and %s, want node1 and node2", client.Spec.NodeName, server.Spec.NodeName)
	}
	from, reply := dialBetween(t, env.Sandbox(t, client).NetNS, env.Sandbox(t, server).NetNS, server.Status.PodIP)
	if from != client.Status.PodIP {
		t.Errorf("server saw the connection from %s, want the client pod's %s", from, client.Status.PodIP)
	}
	if reply != "ping over the underlay" {
		t.Errorf("echo %q, want the payload back", reply)
	}
}
