//go:build integration

package integration

import (
	"testing"

	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/types"

	"github.com/ipkeeper/ipkeeper/api/v2beta1"
	"github.com/ipkeeper/ipkeeper/internal/agentapi"
	"github.com/ipkeeper/ipkeeper/internal/store"
)

// There is no garbage collector in this control plane: an endpoint gone
// after DEL was deleted by the agent.
func TestIntegrationDelDeletesAStatelessPodsEndpoint(t *testing.T) {
	const ns, pool, node = "endpoint-del", "pool-endpoint-del", "endpoint-node"
	namespace(t, ns)
	mustCreate(t, &corev1.Node{ObjectMeta: metav1.ObjectMeta{Name: node}},
		ipPool(pool, "10.8.0.0/16", "10.8.0.10-10.8.0.19"))
	pod := createPods(t, ns, pool, 1, []string{node})[0]
	agent := startAgent(t, node, t.TempDir())
	if _, err := add(t.Context(), agent, pod, "c1"); err != nil {
		t.Fatal(err)
	}
	key := types.NamespacedName{Namespace: ns, Name: pod.Name}
	if err := env.client.Get(t.Context(), key, &v2beta1.SpiderEndpoint{}); err != nil {
		t.Fatalf("endpoint after ADD: %v", err)
	}
	endPod(t, pod)
	err := agent.client.Del(t.Context(), &agentapi.DelRequest{
		Attachment: agentapi.Attachment{ContainerID: "c1", IfName: "eth0"},
		Pod:        agentapi.PodRef{Namespace: ns, Name: pod.Name, UID: string(pod.UID)},
	})
	if err != nil {
		t.Fatal(err)
	}
	if err := env.client.Get(t.Context(), key, &v2beta1.SpiderEndpoint{}); !apierrors.IsNotFound(err) {
		t.Fatalf("endpoint after the pod's last DEL: %v, want not found", err)
	}
	if n := len(claimsOf(t, pool)); n != 0 {
		t.Fatalf("%d claims after DEL, want 0", n)
	}
}

// A delete at a version the endpoint no longer has is refused by the API
// server (409) and reported as nothing to do.
func TestIntegrationEndpointDeleteAtAVersion(t *testing.T) {
	const ns = "endpoint-version"
	namespace(t, ns)
	s := store.New(env.client, env.client)
	record := func(uid types.UID) *v2beta1.SpiderEndpoint {
		addr, ifName := "10.8.1.10/16", "eth0"
		return &v2beta1.SpiderEndpoint{
			ObjectMeta: metav1.ObjectMeta{Namespace: ns, Name: "web"},
			Status: v2beta1.SpiderEndpointStatus{Current: v2beta1.PodIPAllocation{
				UID: uid, Node: "n", IPs: []v2beta1.IPAllocationDetail{{Interface: ifName, IPv4: &addr}},
			}},
		}
	}
	old, err := s.PutEndpoint(t.Context(), record("uid-old"))
	if err != nil {
		t.Fatal(err)
	}
	fresh, err := s.PutEndpoint(t.Context(), record("uid-new"))
	if err != nil {
		t.Fatal(err)
	}
	key := types.NamespacedName{Namespace: ns, Name: "web"}
	if err := s.DeleteEndpoint(t.Context(), key, &old); err != nil {
		t.Fatalf("delete at the old version: %v, want nil", err)
	}
	var ep v2beta1.SpiderEndpoint
	if err := env.client.Get(t.Context(), key, &ep); err != nil || ep.Status.Current.UID != "uid-new" {
		t.Fatalf("after a delete at the old version: %v, %+v; want the new record kept", err, ep.Status.Current)
	}
	if err := s.DeleteEndpoint(t.Context(), key, &fresh); err != nil {
		t.Fatal(err)
	}
	if err := env.client.Get(t.Context(), key, &ep); !apierrors.IsNotFound(err) {
		t.Fatalf("after a delete at the current version: %v, want not found", err)
	}
}
