package gc

import (
	"context"
	"fmt"

	appsv1 "k8s.io/api/apps/v1"
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	ctrl "sigs.k8s.io/controller-runtime"
	"sigs.k8s.io/controller-runtime/pkg/builder"
	"sigs.k8s.io/controller-runtime/pkg/client"
	crcontroller "sigs.k8s.io/controller-runtime/pkg/controller"
	"sigs.k8s.io/controller-runtime/pkg/event"
	"sigs.k8s.io/controller-runtime/pkg/handler"
	crmetrics "sigs.k8s.io/controller-runtime/pkg/metrics"
	"sigs.k8s.io/controller-runtime/pkg/predicate"
	"sigs.k8s.io/controller-runtime/pkg/reconcile"

	"github.com/ipkeeper/ipkeeper/api/ipkeeper/v1alpha1"
	"github.com/ipkeeper/ipkeeper/internal/controller"
	"github.com/ipkeeper/ipkeeper/internal/spiderpool"
)

// maxConcurrentReconciles lets a burst of releases (a namespace deleted) not
// wait on one another's live reads.
const maxConcurrentReconciles = 4

// SetupWithManager registers the collector with mgr: a controller fed by
// claim, pod and StatefulSet events, and the periodic scan. It uses the claim
// indexes of controller.AddIndexes, which must have been added to mgr.
func (r *Reconciler) SetupWithManager(mgr ctrl.Manager) error {
	if err := r.complete(crmetrics.Registry); err != nil {
		return err
	}
	b := ctrl.NewControllerManagedBy(mgr).
		Named("ipclaim-gc").
		For(&v1alpha1.IPClaim{}, builder.WithPredicates(claimChanged())).
		Watches(&corev1.Pod{}, handler.EnqueueRequestsFromMapFunc(r.claimsOfPod), builder.WithPredicates(podEnding())).
		WithOptions(crcontroller.Options{MaxConcurrentReconciles: maxConcurrentReconciles})
	if r.EnableStatefulSet {
		b = b.Watches(&appsv1.StatefulSet{}, handler.EnqueueRequestsFromMapFunc(r.claimsOfStatefulSet),
			builder.WithPredicates(statefulSetChanged()))
	}
	if err := b.Complete(r); err != nil {
		return fmt.Errorf("set up ipclaim gc controller: %w", err)
	}
	if err := mgr.Add(&scanner{r: r, log: mgr.GetLogger().WithName("ipclaim-gc-scan")}); err != nil {
		return fmt.Errorf("add ipclaim gc scan: %w", err)
	}
	return nil
}

// claimChanged passes new claims (every claim when the controller starts) and
// spec changes; a deleted claim needs nothing.
func claimChanged() predicate.Funcs {
	return predicate.Funcs{
		UpdateFunc: func(e event.UpdateEvent) bool {
			return e.ObjectNew.GetGeneration() != e.ObjectOld.GetGeneration()
		},
		DeleteFunc: func(event.DeleteEvent) bool { return false },
	}
}

// podEnding passes pods deleted, marked for deletion (or with a shorter
// deadline), or finished, and StatefulSet pods that start running (an
// earlier incarnation's claim the new one did not take over is then free).
func podEnding() predicate.Funcs {
	return predicate.Funcs{
		CreateFunc: func(event.CreateEvent) bool { return false },
		UpdateFunc: func(e event.UpdateEvent) bool {
			old, okOld := e.ObjectOld.(*corev1.Pod)
			pod, okNew := e.ObjectNew.(*corev1.Pod)
			if !okOld || !okNew {
				return false
			}
			return finished(pod) && !finished(old) || !pod.DeletionTimestamp.Equal(old.DeletionTimestamp) ||
				startedStatefulSetPod(old, pod)
		},
		GenericFunc: func(event.GenericEvent) bool { return false },
	}
}

func startedStatefulSetPod(old, pod *corev1.Pod) bool {
	ref := metav1.GetControllerOfNoCopy(pod)
	return ref != nil && ref.Kind == spiderpool.KindStatefulSet &&
		pod.Status.Phase == corev1.PodRunning && old.Status.Phase != corev1.PodRunning
}

func finished(p *corev1.Pod) bool {
	return p.Status.Phase == corev1.PodSucceeded || p.Status.Phase == corev1.PodFailed
}

// statefulSetChanged passes StatefulSets deleted, marked for deletion, or
// whose replicas, first ordinal or retain-on-scale-down annotation changed.
func statefulSetChanged() predicate.Funcs {
	return predicate.Funcs{
		CreateFunc: func(event.CreateEvent) bool { return false },
		UpdateFunc: func(e event.UpdateEvent) bool {
			old, nw := e.ObjectOld, e.ObjectNew
			return nw.GetGeneration() != old.GetGeneration() ||
				!nw.GetDeletionTimestamp().Equal(old.GetDeletionTimestamp()) ||
				nw.GetAnnotations()[spiderpool.AnnoRetainOnScaleDown] != old.GetAnnotations()[spiderpool.AnnoRetainOnScaleDown]
		},
		GenericFunc: func(event.GenericEvent) bool { return false },
	}
}

func (r *Reconciler) claimsOfPod(ctx context.Context, pod client.Object) []reconcile.Request {
	return r.claimsBy(ctx, controller.IndexClaimHolder, controller.HolderKey(pod.GetNamespace(), pod.GetName()))
}

func (r *Reconciler) claimsOfStatefulSet(ctx context.Context, sts client.Object) []reconcile.Request {
	return r.claimsBy(ctx, controller.IndexClaimOwner, controller.OwnerKey(sts.GetNamespace(), spiderpool.KindStatefulSet, sts.GetName()))
}

// claimsBy maps an event to the claims under key in a claim index. A failed
// lookup is left to the next scan.
func (r *Reconciler) claimsBy(ctx context.Context, index, key string) []reconcile.Request {
	var list v1alpha1.IPClaimList
	if err := r.Client.List(ctx, &list, client.MatchingFields{index: key}, client.UnsafeDisableDeepCopy); err != nil {
		ctrl.LoggerFrom(ctx).Error(err, "List claims for an event; the next scan checks them", "index", index, "key", key)
		return nil
	}
	reqs := make([]reconcile.Request, len(list.Items))
	for i := range list.Items {
		reqs[i] = reconcile.Request{NamespacedName: client.ObjectKey{Name: list.Items[i].Name}}
	}
	return reqs
}
