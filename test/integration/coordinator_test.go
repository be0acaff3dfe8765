//go:build integration

package integration

import (
	"context"
	"slices"
	"testing"
	"time"

	"github.com/go-logr/logr"
	corev1 "k8s.io/api/core/v1"
	networkingv1 "k8s.io/api/networking/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	ctrl "sigs.k8s.io/controller-runtime"
	"sigs.k8s.io/controller-runtime/pkg/client"

	"github.com/ipkeeper/ipkeeper/api/v2beta1"
	"github.com/ipkeeper/ipkeeper/internal/controller/coordinator"
)

// TestIntegrationCoordinatorStatus: the reconciler writes the API server's
// own ServiceCIDR (from --service-cluster-ip-range) into the
// SpiderCoordinator's status, follows a ServiceCIDR added later and a node's
// pod CIDR; the API server refuses a second SpiderCoordinator.
func TestIntegrationCoordinatorStatus(t *testing.T) {
	ctx := t.Context()
	runManager(t, logr.Discard(), func(mgr ctrl.Manager) error {
		return (&coordinator.Reconciler{Client: mgr.GetClient()}).SetupWithManager(mgr)
	})
	var kubernetes networkingv1.ServiceCIDR
	poll(t, time.Minute, "the API server's ServiceCIDR kubernetes", func(ctx context.Context) (bool, error) {
		return env.client.Get(ctx, client.ObjectKey{Name: "kubernetes"}, &kubernetes) == nil, nil
	})
	scc := &v2beta1.SpiderCoordinator{ObjectMeta: metav1.ObjectMeta{Name: v2beta1.CoordinatorName}}
	if err := env.client.Create(ctx, scc); err != nil {
		t.Fatalf("create SpiderCoordinator: %v", err)
	}
	t.Cleanup(func() { _ = env.client.Delete(context.Background(), scc) })
	waitStatus := func(what string, ok func(v2beta1.SpiderCoordinatorStatus) bool) {
		t.Helper()
		poll(t, time.Minute, what, func(ctx context.Context) (bool, error) {
			err := env.client.Get(ctx, client.ObjectKeyFromObject(scc), scc)
			return err == nil && ok(scc.Status), nil
		})
	}
	waitStatus("status Synced with the ServiceCIDR kubernetes", func(s v2beta1.SpiderCoordinatorStatus) bool {
		return s.Phase == v2beta1.CoordinatorPhaseSynced && slices.Equal(s.ServiceCIDR, kubernetes.Spec.CIDRs)
	})
	if got := scc.Spec; got.Mode == nil || *got.Mode != "auto" || got.HostRuleTable == nil || *got.HostRuleTable != 500 {
		t.Errorf("spec defaults: mode %v, hostRuleTable %v; want auto and 500 from the CRD", got.Mode, got.HostRuleTable)
	}

	extra := &networkingv1.ServiceCIDR{ObjectMeta: metav1.ObjectMeta{Name: "coordinator-extra"},
		Spec: networkingv1.ServiceCIDRSpec{CIDRs: []string{"10.250.0.0/24"}}}
	if err := env.client.Create(ctx, extra); err != nil {
		t.Fatalf("create ServiceCIDR: %v", err)
	}
	t.Cleanup(func() { _ = env.client.Delete(context.Background(), extra) })
	waitStatus("status with the added ServiceCIDR", func(s v2beta1.SpiderCoordinatorStatus) bool {
		return slices.Contains(s.ServiceCIDR, "10.250.0.0/24")
	})

	node := &corev1.Node{ObjectMeta: metav1.ObjectMeta{Name: "coordinator-node"}, Spec: corev1.NodeSpec{PodCIDRs: []string{"10.251.3.0/24"}}}
	if err := env.client.Create(ctx, node); err != nil {
		t.Fatalf("create node: %v", err)
	}
	t.Cleanup(func() { _ = env.client.Delete(context.Background(), node) })
	waitStatus("status with the node's pod CIDR", func(s v2beta1.SpiderCoordinatorStatus) bool {
		return slices.Contains(s.OverlayPodCIDR, "10.251.3.0/24")
	})

	other := &v2beta1.SpiderCoordinator{ObjectMeta: metav1.ObjectMeta{Name: "second"}}
	if err := env.client.Create(ctx, other); err == nil {
		t.Errorf("a SpiderCoordinator named second was accepted; want only default")
	}
}
