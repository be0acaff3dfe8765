package coordinator

import (
	"context"
	"errors"
	"fmt"

	corev1 "k8s.io/api/core/v1"
	networkingv1 "k8s.io/api/networking/v1"
	"k8s.io/apimachinery/pkg/api/equality"
	"k8s.io/apimachinery/pkg/api/meta"
	"k8s.io/klog/v2"
	ctrl "sigs.k8s.io/controller-runtime"
	"sigs.k8s.io/controller-runtime/pkg/client"
	"sigs.k8s.io/controller-runtime/pkg/handler"
	"sigs.k8s.io/controller-runtime/pkg/reconcile"

	"github.com/ipkeeper/ipkeeper/api/v2beta1"
)

// +kubebuilder:rbac:groups=spiderpool.spidernet.io,resources=spidercoordinators,verbs=get;list;watch
// +kubebuilder:rbac:groups=spiderpool.spidernet.io,resources=spidercoordinators/status,verbs=get;update;patch
// +kubebuilder:rbac:groups=networking.k8s.io,resources=servicecidrs,verbs=get;list;watch
// +kubebuilder:rbac:groups="",resources=nodes,verbs=get;list;watch

// Reconciler writes the status of the SpiderCoordinator named default.
type Reconciler struct {
	// Client reads SpiderCoordinators, ServiceCIDRs and Nodes and writes
	// SpiderCoordinator status.
	Client client.Client
}

// SetupWithManager registers the reconciler: the SpiderCoordinator, and any
// change of a ServiceCIDR or a Node, reconcile the one SpiderCoordinator.
func (r *Reconciler) SetupWithManager(mgr ctrl.Manager) error {
	if r.Client == nil {
		return errors.New("coordinator reconciler needs a client")
	}
	toDefault := handler.EnqueueRequestsFromMapFunc(func(context.Context, client.Object) []reconcile.Request {
		return []reconcile.Request{{NamespacedName: client.ObjectKey{Name: v2beta1.CoordinatorName}}}
	})
	return ctrl.NewControllerManagedBy(mgr).
		Named("coordinator").
		For(&v2beta1.SpiderCoordinator{}).
		Watches(&networkingv1.ServiceCIDR{}, toDefault).
		Watches(&corev1.Node{}, toDefault).
		Complete(r)
}

// Reconcile discovers the CIDRs and patches the status when it changed.
func (r *Reconciler) Reconcile(ctx context.Context, req ctrl.Request) (ctrl.Result, error) {
	if req.Name != v2beta1.CoordinatorName {
		return ctrl.Result{}, nil // the CRD refuses other names; an older CRD may not
	}
	scc := &v2beta1.SpiderCoordinator{}
	if err := r.Client.Get(ctx, req.NamespacedName, scc); err != nil {
		return ctrl.Result{}, client.IgnoreNotFound(err)
	}
	if !scc.DeletionTimestamp.IsZero() {
		return ctrl.Result{}, nil
	}
	var svc networkingv1.ServiceCIDRList
	if err := r.Client.List(ctx, &svc); err != nil && !meta.IsNoMatchError(err) {
		return ctrl.Result{}, fmt.Errorf("list ServiceCIDRs: %w", err)
	}
	var nodes corev1.NodeList
	if err := r.Client.List(ctx, &nodes); err != nil {
		return ctrl.Result{}, fmt.Errorf("list nodes: %w", err)
	}
	want := Status(&scc.Spec, svc.Items, nodes.Items)
	if equality.Semantic.DeepEqual(scc.Status, want) {
		return ctrl.Result{}, nil
	}
	before := scc.DeepCopy()
	scc.Status = want
	ctrl.LoggerFrom(ctx).Info("Updating SpiderCoordinator status", "spiderCoordinator", klog.KObj(scc),
		"phase", want.Phase, "serviceCIDR", want.ServiceCIDR, "podCIDR", want.OverlayPodCIDR)
	if err := r.Client.Status().Patch(ctx, scc, client.MergeFrom(before)); err != nil {
		return ctrl.Result{}, fmt.Errorf("patch SpiderCoordinator status: %w", err)
	}
	return ctrl.Result{}, nil
}
