//go:build e2e

package e2e

import (
	"context"
	"net/netip"
	"slices"
	"testing"

	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"k8s.io/client-go/dynamic"

	nadv1 "github.com/ipkeeper/ipkeeper/api/nad/v1"
	"github.com/ipkeeper/ipkeeper/test/framework"
	"github.com/ipkeeper/ipkeeper/test/localcluster/nodesim"
	"github.com/ipkeeper/ipkeeper/test/localcluster/nsmount"
	"github.com/ipkeeper/ipkeeper/test/seedwalk"
)

// TestClusterBadNetworkAnnotations gives pods a missing NAD, a malformed
// networks annotation and a missing default network: each gets a Warning
// event saying so and stays ContainerCreating, while a plain pod runs.
func TestClusterBadNetworkAnnotations(t *testing.T) {
	t.Parallel()
	env := localCluster.Get(t)
	ns := env.Namespace(t)
	createPod(t, env, ns, "missing-nad", "", map[string]string{nodesim.AnnotationNetworks: "does-not-exist@net1"})
	createPod(t, env, ns, "malformed", "", map[string]string{nodesim.AnnotationNetworks: `[{"name": "extra"`})
	createPod(t, env, ns, "missing-default", "", map[string]string{nodesim.AnnotationDefaultNetwork: "kube-system/nope"})
	createPod(t, env, ns, "fine", "", nil)

	eventFor(t, env, ns, "missing-nad", "FailedCreatePodSandBox",
		"Failed to create pod sandbox", `NetworkAttachmentDefinition "`+ns+`/does-not-exist"`, "not found")
	eventFor(t, env, ns, "malformed", "FailedCreatePodSandBox",
		"Failed to create pod sandbox", "malformed "+nodesim.AnnotationNetworks+" annotation")
	eventFor(t, env, ns, "missing-default", "FailedCreatePodSandBox",
		`NetworkAttachmentDefinition "kube-system/nope"`, nodesim.AnnotationDefaultNetwork)
	fine := seedwalk.WaitPodReady(t, env, ns, "fine")
	checkPodNetwork(t, env, fine)

	for _, name := range []string{"missing-nad", "malformed", "missing-default"} {
		p, err := env.Client.CoreV1().Pods(ns).Get(t.Context(), name, metav1.GetOptions{})
		if err != nil {
			t.Fatalf("get %s: %v", name, err)
		}
		if p.Status.Phase != corev1.PodPending || len(p.Status.ContainerStatuses) != 1 ||
			p.Status.ContainerStatuses[0].State.Waiting == nil ||
			p.Status.ContainerStatuses[0].State.Waiting.Reason != "ContainerCreating" {
			t.Errorf("pod %s: phase %s, containers %+v; want Pending and ContainerCreating", name, p.Status.Phase, p.Status.ContainerStatuses)
		}
	}
	if p, err := env.Client.CoreV1().Pods(ns).Get(t.Context(), "fine", metav1.GetOptions{}); err != nil || !seedwalk.PodReady(p) {
		t.Errorf("the plain pod is no longer ready next to the failing ones: %v", err)
	}
}

// TestClusterAdditionalNetwork attaches a NetworkAttachmentDefinition as a
// second interface with a chosen name, as Multus does, and removes it again.
func TestClusterAdditionalNetwork(t *testing.T) {
	t.Parallel()
	env := localCluster.Get(t)
	ns := env.Namespace(t)
	createNAD(t, env, ns, "extra", `{"cniVersion": "1.0.0", "type": "macvlan", "master": "ens192", "mode": "bridge",
		"ipam": {"type": "host-local", "ranges": [[{"subnet": "10.6.0.0/16", "rangeStart": "10.6.250.10", "rangeEnd": "10.6.250.20"}]]}}`)
	createPod(t, env, ns, "multi", "node1", map[string]string{nodesim.AnnotationNetworks: ns + "/extra@data0"})
	pod := seedwalk.WaitPodReady(t, env, ns, "multi")
	checkPodNetwork(t, env, pod)

	st := networkStatus(t, pod)
	if len(st) != 2 || st[1].Name != ns+"/extra" || st[1].Interface != "data0" || st[1].Default || len(st[1].IPs) != 1 {
		t.Fatalf("network status %+v, want eth0 then %s/extra on data0 with one address", st, ns)
	}
	extra := netip.MustParseAddr(st[1].IPs[0])
	if !netip.MustParsePrefix("10.6.250.0/24").Contains(extra) {
		t.Errorf("data0 address %s outside the NAD's range", extra)
	}
	sb := env.Sandbox(t, pod)
	if got := interfaceAddrs(t, sb.NetNS, "data0"); !slices.Contains(got, extra.String()) {
		t.Errorf("data0 in the pod has %v, want %s", got, extra)
	}

	if err := env.Client.CoreV1().Pods(ns).Delete(t.Context(), "multi", metav1.DeleteOptions{}); err != nil {
		t.Fatalf("delete pod: %v", err)
	}
	env.WaitFor(t, podsTimeout, "pod multi gone", func(ctx context.Context) (bool, error) {
		_, err := env.Client.CoreV1().Pods(ns).Get(ctx, "multi", metav1.GetOptions{})
		return err != nil, nil
	})
	if nsmount.Exists(sb.NetNS) {
		t.Errorf("sandbox namespace %s left after the pod was deleted", sb.NetNS)
	}
}

func createNAD(t *testing.T, env *framework.Env, namespace, name, config string) {
	t.Helper()
	dyn, err := dynamic.NewForConfig(env.Config)
	if err != nil {
		t.Fatalf("dynamic client: %v", err)
	}
	obj := &unstructured.Unstructured{Object: map[string]any{
		"apiVersion": nadv1.GroupVersion.String(), "kind": "NetworkAttachmentDefinition",
		"metadata": map[string]any{"name": name, "namespace": namespace},
		"spec":     map[string]any{"config": config},
	}}
	res := nadv1.GroupVersion.WithResource("network-attachment-definitions")
	if _, err := dyn.Resource(res).Namespace(namespace).Create(t.Context(), obj, metav1.CreateOptions{}); err != nil {
		t.Fatalf("create NetworkAttachmentDefinition %s: %v", name, err)
	}
}
