package store

import (
	"context"
	"testing"

	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime"
	"sigs.k8s.io/controller-runtime/pkg/client"
	"sigs.k8s.io/controller-runtime/pkg/client/fake"

	"github.com/ipkeeper/ipkeeper/api/v2beta1"
)

// cachedClient writes to the API server and reads from a cache that may lag.
type cachedClient struct {
	client.Client
	cache client.Reader
}

func (c cachedClient) Get(ctx context.Context, key client.ObjectKey, obj client.Object, opts ...client.GetOption) error {
	return c.cache.Get(ctx, key, obj, opts...)
}

// When the pod's endpoint already exists on the API server (an earlier
// attempt of this ADD wrote it before failing) but the agent's cache has not
// seen it yet, the record is read from the API server and merged, not
// reported as a failed ADD: the chaos run saw ADDs fail with "record
// endpoint: SpiderEndpoint… not found" (the cache's answer) after API server
// restarts, each costing the pod a kubelet backoff.
func TestPutEndpointMergesARecordTheCacheHasNotSeen(t *testing.T) {
	scheme := runtime.NewScheme()
	if err := v2beta1.AddToScheme(scheme); err != nil {
		t.Fatal(err)
	}
	addr, old := "10.6.10.1/16", "10.6.10.9/16"
	record := func(ip *string) *v2beta1.SpiderEndpoint {
		return &v2beta1.SpiderEndpoint{
			ObjectMeta: metav1.ObjectMeta{Namespace: "ns", Name: "web-1"},
			Status: v2beta1.SpiderEndpointStatus{Current: v2beta1.PodIPAllocation{UID: "u1", Node: "node1",
				IPs: []v2beta1.IPAllocationDetail{{Interface: "eth0", IPv4: ip}}}},
		}
	}
	live := fake.NewClientBuilder().WithScheme(scheme).WithObjects(record(&old)).Build()
	cache := fake.NewClientBuilder().WithScheme(scheme).Build() // has not seen it
	s := New(cachedClient{Client: live, cache: cache}, live)

	if _, err := s.PutEndpoint(t.Context(), record(&addr)); err != nil {
		t.Fatalf("PutEndpoint: %v", err)
	}
	got := &v2beta1.SpiderEndpoint{}
	if err := live.Get(t.Context(), client.ObjectKey{Namespace: "ns", Name: "web-1"}, got); err != nil {
		t.Fatal(err)
	}
	if ips := got.Status.Current.IPs; len(ips) != 1 || *ips[0].IPv4 != addr {
		t.Errorf("endpoint IPs %+v, want eth0 %s", ips, addr)
	}
}
