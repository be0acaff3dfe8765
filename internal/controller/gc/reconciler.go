package gc

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	appsv1 "k8s.io/api/apps/v1"
	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	"k8s.io/klog/v2"
	"k8s.io/utils/clock"
	ctrl "sigs.k8s.io/controller-runtime"
	"sigs.k8s.io/controller-runtime/pkg/client"
	"sigs.k8s.io/controller-runtime/pkg/reconcile"

	"github.com/ipkeeper/ipkeeper/api/ipkeeper/v1alpha1"
	"github.com/ipkeeper/ipkeeper/api/v2beta1"
	"github.com/ipkeeper/ipkeeper/internal/controller"
	"github.com/ipkeeper/ipkeeper/internal/spiderpool"
)

// Defaults of the Reconciler's zero fields.
const (
	DefaultTerminatingMargin = 30 * time.Second
	DefaultScanInterval      = 30 * time.Second
)

// attempts bounds how often one check re-decides a claim that changed
// between its live read and its delete.
const attempts = 3

// errChanged says a claim changed between the read a release was decided on
// and the delete.
var errChanged = errors.New("claim changed since it was read")

// Reconciler releases the IPClaim named by each request once its holder is
// gone. Requests come from claim, pod and StatefulSet events and from a
// periodic scan of every claim.
//
// +kubebuilder:rbac:groups=ipkeeper.io,resources=ipclaims,verbs=get;list;watch;delete
// +kubebuilder:rbac:groups="",resources=pods,verbs=get;list;watch
// +kubebuilder:rbac:groups=apps,resources=statefulsets,verbs=get;list;watch
type Reconciler struct {
	// Client reads from the manager's cache, which only picks candidates,
	// and deletes claims.
	Client client.Client
	// APIReader reads from the API server; every release is decided on it.
	APIReader client.Reader
	// Clock tells the time; clock.RealClock when nil.
	Clock clock.PassiveClock
	// EnableStatefulSet keeps StatefulSet pods' addresses while their
	// StatefulSet has the ordinal (ipam.enableStatefulSet).
	EnableStatefulSet bool
	// TerminatingMargin is how long a terminating pod keeps its addresses
	// past its deletion deadline; DefaultTerminatingMargin when zero.
	TerminatingMargin time.Duration
	// ScanInterval is the time between two full scans of the claims;
	// DefaultScanInterval when zero.
	ScanInterval time.Duration

	metrics *metrics
}

// complete fills in defaults and registers the metrics with reg.
func (r *Reconciler) complete(reg prometheus.Registerer) error {
	if r.Clock == nil {
		r.Clock = clock.RealClock{}
	}
	if r.TerminatingMargin == 0 {
		r.TerminatingMargin = DefaultTerminatingMargin
	}
	if r.ScanInterval == 0 {
		r.ScanInterval = DefaultScanInterval
	}
	m, err := newMetrics(reg)
	if err != nil {
		return fmt.Errorf("register gc metrics: %w", err)
	}
	r.metrics = m
	return nil
}

func (r *Reconciler) config() Config {
	return Config{EnableStatefulSet: r.EnableStatefulSet, TerminatingMargin: r.TerminatingMargin}
}

// Reconcile releases the claim if its holder is gone, and asks to be called
// again when the holder's grace runs out.
func (r *Reconciler) Reconcile(ctx context.Context, req reconcile.Request) (reconcile.Result, error) {
	claim := &v1alpha1.IPClaim{}
	if err := r.Client.Get(ctx, req.NamespacedName, claim); err != nil {
		return reconcile.Result{}, client.IgnoreNotFound(err)
	}
	after, err := r.check(ctx, claim)
	return reconcile.Result{RequeueAfter: after}, err
}

// check releases a claim whose holder is gone. The cached claim and the
// cache's view of its holder only pick candidates; the decision is taken
// again on live reads of all three, right before the delete.
func (r *Reconciler) check(ctx context.Context, cached *v1alpha1.IPClaim) (time.Duration, error) {
	release, _, after, err := r.decide(ctx, r.Client, cached, client.UnsafeDisableDeepCopy)
	if err != nil || !release {
		return after, err
	}
	for range attempts {
		live := &v1alpha1.IPClaim{}
		if err := r.APIReader.Get(ctx, client.ObjectKeyFromObject(cached), live); err != nil {
			if apierrors.IsNotFound(err) {
				return 0, nil
			}
			return 0, fmt.Errorf("get claim %s: %w", cached.Name, err)
		}
		release, reason, after, err := r.decide(ctx, r.APIReader, live)
		if err != nil || !release {
			return after, err
		}
		if err := r.release(ctx, live, reason); !errors.Is(err, errChanged) {
			return 0, err
		}
	}
	return 0, fmt.Errorf("release %s: %w %d times", cached.Name, errChanged, attempts)
}

// decide reads the claim's holder pod and StatefulSet from rd and decides.
func (r *Reconciler) decide(ctx context.Context, rd client.Reader, claim *v1alpha1.IPClaim, opts ...client.GetOption) (bool, string, time.Duration, error) {
	if claim.Quarantined() {
		return false, KeepQuarantined, 0, nil
	}
	h := claim.Spec.Holder
	var sts *appsv1.StatefulSet
	if r.EnableStatefulSet && claim.Spec.Owner.Kind == spiderpool.KindStatefulSet {
		var err error
		key := client.ObjectKey{Namespace: h.Namespace, Name: claim.Spec.Owner.Name}
		if sts, err = lookup(ctx, rd, key, &appsv1.StatefulSet{}, opts...); err != nil {
			return false, "", 0, fmt.Errorf("get statefulset %s: %w", key, err)
		}
	}
	key := client.ObjectKey{Namespace: h.Namespace, Name: h.Name}
	pod, err := lookup(ctx, rd, key, &corev1.Pod{}, opts...)
	if err != nil {
		return false, "", 0, fmt.Errorf("get pod %s: %w", key, err)
	}
	release, reason, after := Decide(claim, pod, sts, r.Clock.Now(), r.config())
	return release, reason, after, nil
}

// lookup gets obj, or nil when it does not exist (nor its namespace).
func lookup[T client.Object](ctx context.Context, rd client.Reader, key client.ObjectKey, obj T, opts ...client.GetOption) (T, error) {
	var none T
	if err := rd.Get(ctx, key, obj, opts...); err != nil {
		if apierrors.IsNotFound(err) {
			return none, nil
		}
		return none, err
	}
	return obj, nil
}

// release deletes the claim as read, provided it is still that object at
// that resourceVersion: a claim taken over by a new incarnation since is not
// released (errChanged), and one already deleted needs nothing.
func (r *Reconciler) release(ctx context.Context, claim *v1alpha1.IPClaim, reason string) error {
	uid, rv := claim.UID, claim.ResourceVersion
	err := r.Client.Delete(ctx, claim, client.Preconditions{UID: &uid, ResourceVersion: &rv})
	switch {
	case apierrors.IsNotFound(err):
		return nil
	case apierrors.IsConflict(err):
		return errChanged
	case err != nil:
		return fmt.Errorf("release %s: %w", claim.Spec.Address, err)
	}
	h, o := claim.Spec.Holder, claim.Spec.Owner
	ctrl.LoggerFrom(ctx).Info("Released address", "claim", klog.KObj(claim), "address", claim.Spec.Address,
		"pool", claim.Spec.Pool, "node", claim.Spec.Node, "pod", klog.KRef(h.Namespace, h.Name), "podUID", h.UID,
		"ownerKind", o.Kind, "owner", klog.KRef(h.Namespace, o.Name), "reason", reason)
	r.metrics.released.WithLabelValues(reason).Inc()
	if o.Kind == spiderpool.KindStatefulSet {
		// A StatefulSet pod's endpoint has no owner reference: it goes with the
		// last claim of its incarnation, whoever releases that. The address is
		// free either way; a failure here leaves a stale record, logged.
		if err := r.dropEndpoint(ctx, claim); err != nil {
			ctrl.LoggerFrom(ctx).Error(err, "Deleting the endpoint of a released StatefulSet pod failed", "pod", klog.KRef(h.Namespace, h.Name))
		}
	}
	return nil
}

// dropEndpoint deletes the SpiderEndpoint of a released StatefulSet claim's
// holder once no claim of that incarnation is left, and only while the
// endpoint still records that incarnation (UID and resourceVersion
// preconditions). The claims left are listed from the cache and confirmed
// live, so of two claims released at once the later release always sees the
// other gone.
func (r *Reconciler) dropEndpoint(ctx context.Context, released *v1alpha1.IPClaim) error {
	h := released.Spec.Holder
	var list v1alpha1.IPClaimList
	if err := r.Client.List(ctx, &list, client.MatchingFields{controller.IndexClaimHolder: controller.HolderKey(h.Namespace, h.Name)}); err != nil {
		return fmt.Errorf("list the claims of %s/%s: %w", h.Namespace, h.Name, err)
	}
	for i := range list.Items {
		c := &list.Items[i]
		if c.Name == released.Name || c.Spec.Holder.UID != h.UID {
			continue
		}
		err := r.APIReader.Get(ctx, client.ObjectKeyFromObject(c), &v1alpha1.IPClaim{})
		if err == nil {
			return nil // another interface of the incarnation still holds an address
		}
		if !apierrors.IsNotFound(err) {
			return fmt.Errorf("get claim %s: %w", c.Name, err)
		}
	}
	ep := &v2beta1.SpiderEndpoint{}
	if err := r.APIReader.Get(ctx, client.ObjectKey{Namespace: h.Namespace, Name: h.Name}, ep); err != nil {
		return client.IgnoreNotFound(err)
	}
	if ep.Status.Current.UID != h.UID {
		return nil // a newer incarnation's record
	}
	uid, rv := ep.UID, ep.ResourceVersion
	err := r.Client.Delete(ctx, ep, client.Preconditions{UID: &uid, ResourceVersion: &rv})
	if err != nil && !apierrors.IsNotFound(err) && !apierrors.IsConflict(err) {
		return fmt.Errorf("delete endpoint %s/%s: %w", h.Namespace, h.Name, err)
	}
	return nil
}
