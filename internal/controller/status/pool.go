package status

import (
	"context"
	"fmt"
	"slices"
	"time"

	"k8s.io/apimachinery/pkg/types"
	"k8s.io/client-go/util/workqueue"
	"k8s.io/utils/ptr"
	ctrl "sigs.k8s.io/controller-runtime"
	"sigs.k8s.io/controller-runtime/pkg/client"
	"sigs.k8s.io/controller-runtime/pkg/controller/controllerutil"
	"sigs.k8s.io/controller-runtime/pkg/event"
	"sigs.k8s.io/controller-runtime/pkg/handler"
	"sigs.k8s.io/controller-runtime/pkg/reconcile"

	"github.com/ipkeeper/ipkeeper/api/ipkeeper/v1alpha1"
	"github.com/ipkeeper/ipkeeper/api/v2beta1"
	"github.com/ipkeeper/ipkeeper/internal/controller"
	"github.com/ipkeeper/ipkeeper/internal/spiderpool"
)

// PoolFinalizer holds a pool while any of its addresses is claimed.
const PoolFinalizer = v1alpha1.FinalizerAddressesInUse

// Pools reconciles SpiderIPPool status and finalizer.
type Pools struct {
	Client client.Client
	// Batch is how long claim changes are gathered before one status write.
	Batch time.Duration
}

// SetupWithManager watches pools and, batched, their claims.
func (r *Pools) SetupWithManager(mgr ctrl.Manager) error {
	return ctrl.NewControllerManagedBy(mgr).
		Named("poolstatus").
		Watches(&v2beta1.SpiderIPPool{}, poolEvents(r.Batch)).
		Watches(&v1alpha1.IPClaim{}, batched(r.Batch)).
		Complete(r)
}

// poolEvents enqueues a pool at once when it appears, goes, or its spec,
// finalizers or deletion change; an update of anything else (its status:
// the write this reconciler just made) joins the batch instead. Reconciling
// at once on the status write's own event made a burst of claims cost one
// write per round trip instead of one per batch (issue 16).
func poolEvents(delay time.Duration) handler.EventHandler {
	req := func(obj client.Object) reconcile.Request {
		return reconcile.Request{NamespacedName: types.NamespacedName{Name: obj.GetName()}}
	}
	return handler.Funcs{
		CreateFunc: func(_ context.Context, e event.CreateEvent, q workqueue.TypedRateLimitingInterface[reconcile.Request]) {
			q.Add(req(e.Object))
		},
		UpdateFunc: func(_ context.Context, e event.UpdateEvent, q workqueue.TypedRateLimitingInterface[reconcile.Request]) {
			if lifecycleChanged(e.ObjectOld, e.ObjectNew) {
				q.Add(req(e.ObjectNew))
				return
			}
			q.AddAfter(req(e.ObjectNew), delay)
		},
		DeleteFunc: func(_ context.Context, e event.DeleteEvent, q workqueue.TypedRateLimitingInterface[reconcile.Request]) {
			q.Add(req(e.Object))
		},
		GenericFunc: func(_ context.Context, e event.GenericEvent, q workqueue.TypedRateLimitingInterface[reconcile.Request]) {
			q.Add(req(e.Object))
		},
	}
}

// lifecycleChanged reports a change the reconciler acts on beyond counts:
// the spec (generation), the finalizers, or the deletion.
func lifecycleChanged(old, cur client.Object) bool {
	return old.GetGeneration() != cur.GetGeneration() ||
		!old.GetDeletionTimestamp().Equal(cur.GetDeletionTimestamp()) ||
		!slices.Equal(old.GetFinalizers(), cur.GetFinalizers())
}

// batched enqueues a claim's pool after delay; the queue keeps one entry per
// pool however many claims change meanwhile.
func batched(delay time.Duration) handler.EventHandler {
	add := func(obj client.Object, q workqueue.TypedRateLimitingInterface[reconcile.Request]) {
		c, ok := obj.(*v1alpha1.IPClaim)
		if !ok {
			return
		}
		q.AddAfter(reconcile.Request{NamespacedName: types.NamespacedName{Name: c.Spec.Pool}}, delay)
	}
	return handler.Funcs{
		CreateFunc: func(_ context.Context, e event.CreateEvent, q workqueue.TypedRateLimitingInterface[reconcile.Request]) {
			add(e.Object, q)
		},
		UpdateFunc: func(_ context.Context, e event.UpdateEvent, q workqueue.TypedRateLimitingInterface[reconcile.Request]) {
			add(e.ObjectOld, q)
			add(e.ObjectNew, q)
		},
		DeleteFunc: func(_ context.Context, e event.DeleteEvent, q workqueue.TypedRateLimitingInterface[reconcile.Request]) {
			add(e.Object, q)
		},
	}
}

// Reconcile brings one pool's finalizer and counts up to date.
func (r *Pools) Reconcile(ctx context.Context, req ctrl.Request) (ctrl.Result, error) {
	pool := &v2beta1.SpiderIPPool{}
	if err := r.Client.Get(ctx, req.NamespacedName, pool); err != nil {
		return ctrl.Result{}, client.IgnoreNotFound(err)
	}
	// Only counted: no need to deep-copy every claim of the pool out of the cache.
	var claims v1alpha1.IPClaimList
	if err := r.Client.List(ctx, &claims, client.MatchingFields{controller.IndexClaimPool: pool.Name}, client.UnsafeDisableDeepCopy); err != nil {
		return ctrl.Result{}, fmt.Errorf("list claims: %w", err)
	}
	if !pool.DeletionTimestamp.IsZero() {
		return ctrl.Result{}, r.release(ctx, pool, len(claims.Items))
	}
	if !controllerutil.ContainsFinalizer(pool, PoolFinalizer) {
		patch := client.MergeFrom(pool.DeepCopy())
		controllerutil.AddFinalizer(pool, PoolFinalizer)
		if err := r.Client.Patch(ctx, pool, patch); err != nil {
			return ctrl.Result{}, fmt.Errorf("add finalizer: %w", err)
		}
	}
	return ctrl.Result{}, r.writeCounts(ctx, pool, int64(len(claims.Items)))
}

// release lets a deleted pool go once no address of it is claimed.
func (r *Pools) release(ctx context.Context, pool *v2beta1.SpiderIPPool, inUse int) error {
	if inUse > 0 || !controllerutil.ContainsFinalizer(pool, PoolFinalizer) {
		ctrl.LoggerFrom(ctx).V(1).Info("Pool deletion waits for its addresses", "inUse", inUse)
		return nil
	}
	patch := client.MergeFrom(pool.DeepCopy())
	controllerutil.RemoveFinalizer(pool, PoolFinalizer)
	return client.IgnoreNotFound(r.Client.Patch(ctx, pool, patch))
}

func (r *Pools) writeCounts(ctx context.Context, pool *v2beta1.SpiderIPPool, allocated int64) error {
	total := totalOf(pool)
	st := pool.Status
	if st.AllocatedIPCount != nil && *st.AllocatedIPCount == allocated && st.TotalIPCount != nil && *st.TotalIPCount == total {
		return nil
	}
	patch := client.MergeFrom(pool.DeepCopy())
	pool.Status.AllocatedIPCount, pool.Status.TotalIPCount = ptr.To(allocated), ptr.To(total)
	if err := r.Client.Status().Patch(ctx, pool, patch); err != nil {
		return fmt.Errorf("write pool status: %w", err)
	}
	return nil
}

// totalOf counts a pool's ips minus its excludeIPs; 0 when its spec does not
// parse (the webhook refuses such pools).
func totalOf(pool *v2beta1.SpiderIPPool) int64 {
	p, err := spiderpool.PoolOf(pool)
	if err != nil {
		return 0
	}
	return saturate(p.IPs.Difference(p.Exclude).Count())
}
