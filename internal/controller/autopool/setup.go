package autopool

import (
	"context"
	"time"

	"github.com/go-logr/logr"
	appsv1 "k8s.io/api/apps/v1"
	"k8s.io/apimachinery/pkg/api/equality"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/client-go/util/workqueue"
	ctrl "sigs.k8s.io/controller-runtime"
	"sigs.k8s.io/controller-runtime/pkg/builder"
	"sigs.k8s.io/controller-runtime/pkg/client"
	"sigs.k8s.io/controller-runtime/pkg/controller"
	"sigs.k8s.io/controller-runtime/pkg/event"
	"sigs.k8s.io/controller-runtime/pkg/handler"
	"sigs.k8s.io/controller-runtime/pkg/predicate"

	"github.com/ipkeeper/ipkeeper/api/v2beta1"
)

// Name is the controller's name in logs and metrics.
const Name = "autopool"

// SetupWithManager registers the controller. It watches the built-in
// workloads, the metadata of pods that ask for an automatic pool (to find
// third-party controllers), and the automatic pools themselves (so that a
// deleted pool is re-created and the pools of a workload deleted while the
// controller was down are reclaimed when it starts).
func (r *Reconciler) SetupWithManager(mgr ctrl.Manager) error {
	log := mgr.GetLogger().WithValues("controller", Name)
	b := builder.TypedControllerManagedBy[Key](mgr).
		Named(Name).
		WithOptions(controller.TypedOptions[Key]{
			MaxConcurrentReconciles: 4,
			// A subnet too small is retried at most every two minutes.
			RateLimiter: workqueue.NewTypedItemExponentialFailureRateLimiter[Key](100*time.Millisecond, 2*time.Minute),
		}).
		WithLogConstructor(func(k *Key) logr.Logger {
			if k == nil {
				return log
			}
			return log.WithValues("kind", k.Kind, "namespace", k.Namespace, "name", k.Name)
		})
	for _, k := range builtinKinds {
		b = b.Watches(k.new(), handler.TypedEnqueueRequestsFromMapFunc(workloadKey), builder.WithPredicates(workloadChanged()))
	}
	return b.
		WatchesMetadata(podMetadata(), handler.TypedEnqueueRequestsFromMapFunc(r.podOwnerKey), builder.WithPredicates(podAsks())).
		Watches(&v2beta1.SpiderIPPool{}, handler.TypedEnqueueRequestsFromMapFunc(poolOwnerKey), builder.WithPredicates(isAutoPool())).
		Complete(r)
}

// workloadKey maps a built-in workload to its key, unless its pods belong to
// its controller.
func workloadKey(_ context.Context, obj client.Object) []Key {
	if w, ok := fromBuiltin(obj); ok {
		return []Key{w.Key}
	}
	return nil
}

// podOwnerKey maps a pod asking for an automatic pool to its third-party
// controller, or to itself when it has no controller (to warn it). Pods of
// built-in workloads are left to the workload's own events.
func (r *Reconciler) podOwnerKey(ctx context.Context, pod client.Object) []Key {
	top, _, ok := r.topOwner(ctx, pod)
	if !ok {
		return []Key{{Kind: "Pod", Namespace: pod.GetNamespace(), Name: pod.GetName()}}
	}
	if _, builtin := builtin(top); builtin {
		return nil
	}
	return []Key{top}
}

// poolOwnerKey maps an automatic pool to the workload it was made for.
func poolOwnerKey(_ context.Context, obj client.Object) []Key {
	if p, ok := obj.(*v2beta1.SpiderIPPool); ok {
		if k, ok := keyOf(p); ok {
			return []Key{k}
		}
	}
	return nil
}

// workloadChanged passes creations, deletions and the updates that can
// change a workload's pools: its spec (generation), its controller (a
// ReplicaSet or Job adopted or orphaned), and a DaemonSet's node count.
// Status-only updates, the bulk of a workload's updates, are dropped.
func workloadChanged() predicate.Funcs {
	return predicate.Funcs{
		UpdateFunc: func(e event.UpdateEvent) bool {
			if e.ObjectOld.GetGeneration() != e.ObjectNew.GetGeneration() ||
				!equality.Semantic.DeepEqual(metav1.GetControllerOf(e.ObjectOld), metav1.GetControllerOf(e.ObjectNew)) ||
				e.ObjectOld.GetDeletionTimestamp().IsZero() != e.ObjectNew.GetDeletionTimestamp().IsZero() {
				return true
			}
			oldDS, ok1 := e.ObjectOld.(*appsv1.DaemonSet)
			newDS, ok2 := e.ObjectNew.(*appsv1.DaemonSet)
			return ok1 && ok2 && oldDS.Status.DesiredNumberScheduled != newDS.Status.DesiredNumberScheduled
		},
		GenericFunc: func(event.GenericEvent) bool { return false },
	}
}

// podAsks passes pods that carry a subnet annotation when they are created,
// deleted, or their annotations change.
func podAsks() predicate.Funcs {
	return predicate.Funcs{
		CreateFunc: func(e event.CreateEvent) bool { return asksForAutoPool(e.Object) },
		DeleteFunc: func(e event.DeleteEvent) bool { return asksForAutoPool(e.Object) },
		UpdateFunc: func(e event.UpdateEvent) bool {
			return (asksForAutoPool(e.ObjectNew) || asksForAutoPool(e.ObjectOld)) &&
				!equality.Semantic.DeepEqual(e.ObjectOld.GetAnnotations(), e.ObjectNew.GetAnnotations())
		},
		GenericFunc: func(event.GenericEvent) bool { return false },
	}
}

// isAutoPool passes the pools this controller made, when they are created
// or deleted or their spec or metadata change. Status updates, written by the
// pool-status reconciler as addresses are claimed, are dropped.
func isAutoPool() predicate.Funcs {
	auto := func(o client.Object) bool { return o.GetLabels()[LabelAutoPool] == "true" }
	return predicate.Funcs{
		CreateFunc: func(e event.CreateEvent) bool { return auto(e.Object) },
		DeleteFunc: func(e event.DeleteEvent) bool { return auto(e.Object) },
		UpdateFunc: func(e event.UpdateEvent) bool {
			o, n := e.ObjectOld, e.ObjectNew
			return (auto(o) || auto(n)) && (o.GetGeneration() != n.GetGeneration() ||
				!equality.Semantic.DeepEqual(o.GetLabels(), n.GetLabels()) ||
				!equality.Semantic.DeepEqual(o.GetAnnotations(), n.GetAnnotations()) ||
				o.GetDeletionTimestamp().IsZero() != n.GetDeletionTimestamp().IsZero())
		},
		GenericFunc: func(event.GenericEvent) bool { return false },
	}
}
