package coordinator

import (
	"testing"

	"github.com/google/go-cmp/cmp"
	corev1 "k8s.io/api/core/v1"
	networkingv1 "k8s.io/api/networking/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/utils/ptr"

	"github.com/ipkeeper/ipkeeper/api/v2beta1"
)

func TestStatus(t *testing.T) {
	now := metav1.Now()
	svc := []networkingv1.ServiceCIDR{
		{ObjectMeta: metav1.ObjectMeta{Name: "kubernetes"}, Spec: networkingv1.ServiceCIDRSpec{CIDRs: []string{"10.96.0.0/16", "fd00:96::/108"}}},
		{ObjectMeta: metav1.ObjectMeta{Name: "extra"}, Spec: networkingv1.ServiceCIDRSpec{CIDRs: []string{"10.96.0.0/16", "10.97.0.0/16"}}},
		{ObjectMeta: metav1.ObjectMeta{Name: "going", DeletionTimestamp: &now}, Spec: networkingv1.ServiceCIDRSpec{CIDRs: []string{"10.98.0.0/16"}}},
	}
	nodes := []corev1.Node{
		{Spec: corev1.NodeSpec{PodCIDRs: []string{"10.244.1.0/24"}}},
		{Spec: corev1.NodeSpec{PodCIDR: "10.244.0.0/24"}},
		{},
	}
	tests := []struct {
		name  string
		spec  v2beta1.SpiderCoordinatorSpec
		svc   []networkingv1.ServiceCIDR
		nodes []corev1.Node
		want  v2beta1.SpiderCoordinatorStatus
	}{{
		name: "auto", svc: svc, nodes: nodes,
		want: v2beta1.SpiderCoordinatorStatus{Phase: "Synced", ServiceCIDR: []string{"10.96.0.0/16", "10.97.0.0/16", "fd00:96::/108"},
			OverlayPodCIDR: []string{"10.244.0.0/24", "10.244.1.0/24"}},
	}, {
		name: "none", spec: v2beta1.SpiderCoordinatorSpec{PodCIDRType: ptr.To(v2beta1.PodCIDRTypeNone)}, svc: svc, nodes: nodes,
		want: v2beta1.SpiderCoordinatorStatus{Phase: "Synced", ServiceCIDR: []string{"10.96.0.0/16", "10.97.0.0/16", "fd00:96::/108"}},
	}, {
		name: "no ServiceCIDR", nodes: nodes[2:],
		want: v2beta1.SpiderCoordinatorStatus{Phase: "NotReady",
			Reason: "no networking.k8s.io/v1 ServiceCIDR found: pods cannot be routed to Services through their node"},
	}}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if diff := cmp.Diff(tt.want, Status(&tt.spec, tt.svc, tt.nodes)); diff != "" {
				t.Errorf("Status (-want +got):\n%s", diff)
			}
		})
	}
}
