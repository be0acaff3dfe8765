//go:build integration

package integration

import (
	"context"
	"testing"

	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"sigs.k8s.io/controller-runtime/pkg/client"

	"github.com/ipkeeper/ipkeeper/api/ipkeeper/v1alpha1"
	"github.com/ipkeeper/ipkeeper/internal/store"
)

// A StatefulSet pod's next incarnation takes its ordinal's claim over with an
// update that keeps the claim's UID. A DEL for the old incarnation decided on
// the claim as it was before must then not free it: the release carries the
// resourceVersion it was decided on, not only the UID.
func TestIntegrationStaleReleaseKeepsAClaimTakenOverSince(t *testing.T) {
	ctx := t.Context()
	s := store.New(env.client, env.client)
	before, err := s.CreateClaim(ctx, &v1alpha1.IPClaim{
		ObjectMeta: metav1.ObjectMeta{Name: "10.99.0.7"},
		Spec: v1alpha1.IPClaimSpec{Address: "10.99.0.7", Pool: "stale-release", Node: "node-a",
			Holder: v1alpha1.ClaimHolder{Namespace: "default", Name: "db-0", UID: "incarnation-1", Interface: "eth0"},
			Owner:  v1alpha1.ClaimOwner{Kind: "StatefulSet", Name: "db", UID: "sts-1"}},
	})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		_ = env.client.Delete(context.Background(), &v1alpha1.IPClaim{ObjectMeta: metav1.ObjectMeta{Name: "10.99.0.7"}})
	})

	takeover := before.DeepCopy()
	takeover.Spec.Holder.UID, takeover.Spec.Node = "incarnation-2", "node-b"
	after, err := s.UpdateClaim(ctx, takeover)
	if err != nil {
		t.Fatal(err)
	}
	if after.UID != before.UID {
		t.Fatalf("the takeover changed the claim's UID (%s → %s); the test needs an update that keeps it", before.UID, after.UID)
	}

	// The old node's DEL, decided on the claim as it was.
	if err := s.DeleteClaim(ctx, before); err != nil {
		t.Fatal(err)
	}
	var got v1alpha1.IPClaim
	if err := env.client.Get(ctx, client.ObjectKey{Name: "10.99.0.7"}, &got); err != nil {
		t.Fatalf("the claim taken over by incarnation-2 was freed by a stale release: %v", err)
	}
	if got.Spec.Holder.UID != "incarnation-2" {
		t.Fatalf("claim holder %s, want incarnation-2", got.Spec.Holder.UID)
	}

	// A release decided on the current version frees it.
	if err := s.DeleteClaim(ctx, after); err != nil {
		t.Fatal(err)
	}
	if err := env.client.Get(ctx, client.ObjectKey{Name: "10.99.0.7"}, &got); !apierrors.IsNotFound(err) {
		t.Fatalf("claim after a current release: %v, want NotFound", err)
	}
}
