package store

import (
	"testing"

	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/apimachinery/pkg/types"
	clientgoscheme "k8s.io/client-go/kubernetes/scheme"
	"sigs.k8s.io/controller-runtime/pkg/client/fake"
)

// The agent's pod cache can lag behind the runtime: it may still hold the
// previous pod of a name when the runtime starts the next one. The pod the
// runtime names (by UID) is then read from the API server, not refused as
// unknown (issue 13, defect 13). A lagging cache is what the fake clients
// stand for here: a real informer cannot be held behind on demand.
func TestPodReadsTheAPIServerWhenTheCacheHoldsAnEarlierPodOfTheName(t *testing.T) {
	scheme := runtime.NewScheme()
	if err := clientgoscheme.AddToScheme(scheme); err != nil {
		t.Fatal(err)
	}
	pod := func(uid types.UID) *corev1.Pod {
		return &corev1.Pod{ObjectMeta: metav1.ObjectMeta{Namespace: "ns", Name: "web-0", UID: uid}}
	}
	cache := fake.NewClientBuilder().WithScheme(scheme).WithObjects(pod("old")).Build()
	api := fake.NewClientBuilder().WithScheme(scheme).WithObjects(pod("new")).Build()
	c := NewCluster(cache, api, "node1")
	key := types.NamespacedName{Namespace: "ns", Name: "web-0"}

	got, err := c.Pod(t.Context(), key, "new")
	if err != nil || got.UID != "new" {
		t.Fatalf("Pod(uid new) = %v, %v; want the API server's pod of UID new", got, err)
	}
	if got, err := c.Pod(t.Context(), key, "old"); err != nil || got.UID != "old" {
		t.Fatalf("Pod(uid old) = %v, %v; want the cached pod, without asking the API server", got, err)
	}
	if got, err := c.Pod(t.Context(), key, ""); err != nil || got.UID != "old" {
		t.Fatalf("Pod(no uid) = %v, %v; want the cached pod", got, err)
	}
}
