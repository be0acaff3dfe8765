//go:build integration

package integration

import (
	"context"
	"testing"
	"time"

	appsv1 "k8s.io/api/apps/v1"
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/utils/ptr"
	"sigs.k8s.io/controller-runtime/pkg/client"

	"github.com/ipkeeper/ipkeeper/api/ipkeeper/v1alpha1"
	"github.com/ipkeeper/ipkeeper/internal/agentapi"
)

// A StatefulSet pod re-created on another node keeps its ordinal's address.
// Each agent holds its own node's claims whole and the others' by metadata
// only, so the second node's agent finds the claim by listing the pod's
// claims with the IPClaim's selectable holder fields, which the real API
// server must serve.
func TestIntegrationStatefulSetPodKeepsItsAddressOnAnotherNode(t *testing.T) {
	const ns, pool = "sts-move", "pool-sts-move"
	namespace(t, ns)
	nodes := []string{"sts-node1", "sts-node2"}
	for _, n := range nodes {
		mustCreate(t, &corev1.Node{ObjectMeta: metav1.ObjectMeta{Name: n}})
	}
	mustCreate(t, ipPool(pool, "10.9.0.0/16", "10.9.0.10-10.9.0.20"))
	// The test binds the pods to nodes itself. kube-controller-manager runs:
	// its pods of this StatefulSet are refused (no such service account),
	// and OnDelete keeps it from replacing the test's pod for an update.
	labels := map[string]string{"app": "db"}
	sts := &appsv1.StatefulSet{
		ObjectMeta: metav1.ObjectMeta{Namespace: ns, Name: "db"},
		Spec: appsv1.StatefulSetSpec{Replicas: ptr.To[int32](1), Selector: &metav1.LabelSelector{MatchLabels: labels},
			UpdateStrategy: appsv1.StatefulSetUpdateStrategy{Type: appsv1.OnDeleteStatefulSetStrategyType},
			Template: corev1.PodTemplateSpec{ObjectMeta: metav1.ObjectMeta{Labels: labels},
				Spec: corev1.PodSpec{ServiceAccountName: "no-such-account", Containers: []corev1.Container{{Name: "c", Image: "nginx"}}}}},
	}
	mustCreate(t, sts)
	pod := func(node string) *corev1.Pod {
		p := &corev1.Pod{
			ObjectMeta: metav1.ObjectMeta{Namespace: ns, Name: "db-0", Labels: labels,
				Annotations: map[string]string{"ipam.spidernet.io/ippool": `{"ipv4":["` + pool + `"]}`},
				OwnerReferences: []metav1.OwnerReference{{APIVersion: "apps/v1", Kind: "StatefulSet", Name: "db", UID: sts.UID,
					Controller: ptr.To(true)}}},
			Spec: corev1.PodSpec{NodeName: node, AutomountServiceAccountToken: ptr.To(false),
				Containers: []corev1.Container{{Name: "c", Image: "nginx"}}},
		}
		mustCreate(t, p)
		return p
	}
	dir := t.TempDir()
	a1, a2 := startAgent(t, nodes[0], dir), startAgent(t, nodes[1], dir)

	first := pod(nodes[0])
	resp, err := add(t.Context(), a1, first, "sandbox-1")
	if err != nil {
		t.Fatalf("ADD on %s: %v", nodes[0], err)
	}
	want := resp.IPs[0].Address
	if err := env.client.Delete(t.Context(), first, client.GracePeriodSeconds(0)); err != nil {
		t.Fatal(err)
	}
	poll(t, 30*time.Second, "db-0 gone", func(ctx context.Context) (bool, error) {
		err := env.client.Get(ctx, client.ObjectKeyFromObject(first), &corev1.Pod{})
		return err != nil, client.IgnoreNotFound(err)
	})
	second := pod(nodes[1])
	resp, err = add(t.Context(), a2, second, "sandbox-2")
	if err != nil {
		t.Fatalf("ADD on %s: %v", nodes[1], err)
	}
	if got := resp.IPs[0].Address; got != want {
		t.Fatalf("db-0 on %s was given %s, want its ordinal's %s", nodes[1], got, want)
	}
	// The old node's runtime gets to the old sandbox's DEL late: the claim,
	// now the new node's, stays.
	if err := a1.client.Del(t.Context(), &agentapi.DelRequest{
		Attachment: agentapi.Attachment{ContainerID: "sandbox-1", IfName: "eth0"},
		Pod:        agentapi.PodRef{Namespace: ns, Name: "db-0", UID: string(first.UID)},
		Network:    "integration",
	}); err != nil {
		t.Fatalf("late DEL on %s: %v", nodes[0], err)
	}
	var claims v1alpha1.IPClaimList
	if err := env.client.List(t.Context(), &claims, client.MatchingLabels{v1alpha1.LabelPool: pool}); err != nil {
		t.Fatal(err)
	}
	if len(claims.Items) != 1 || claims.Items[0].Spec.Node != nodes[1] || claims.Items[0].Spec.Holder.UID != second.UID {
		t.Fatalf("claims of %s: %+v, want one, held by the new db-0 on %s", pool, claims.Items, nodes[1])
	}
}
