package autopool

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"strings"
	"time"

	appsv1 "k8s.io/api/apps/v1"
	batchv1 "k8s.io/api/batch/v1"
	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	"k8s.io/apimachinery/pkg/api/meta"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime/schema"
	"k8s.io/apimachinery/pkg/types"
	ctrl "sigs.k8s.io/controller-runtime"
	"sigs.k8s.io/controller-runtime/pkg/client"
	"sigs.k8s.io/controller-runtime/pkg/reconcile"
	"sigs.k8s.io/controller-runtime/pkg/recorder"

	"github.com/ipkeeper/ipkeeper/api/v2beta1"
	"github.com/ipkeeper/ipkeeper/internal/spiderpool"
)

// Event reasons, on the workload (or, for a third-party controller or a bare
// pod, on its pod).
const (
	ReasonInvalidAnnotation      = "InvalidAnnotation"
	ReasonSubnetNotFound         = "SubnetNotFound"
	ReasonSubnetExhausted        = "SubnetExhausted"
	ReasonFixedIPNumberRequired  = "FixedIPNumberRequired"
	ReasonNoController           = "NoPodController"
	ReasonAutoPoolCreated        = "AutoPoolCreated"
	ReasonAutoPoolResized        = "AutoPoolResized"
	ReasonAutoPoolAdopted        = "AutoPoolAdopted"
	ReasonAutoPoolDeleted        = "AutoPoolDeleted"
	eventAction                  = "ManageAutoPool"
	thirdPartyOwnerRecheckPeriod = 10 * time.Minute
	// inUseRecheckPeriod is how often a gone workload's pool that its pods
	// still hold addresses of is looked at again, to delete it once free.
	inUseRecheckPeriod = 10 * time.Second
)

// What automatic pools need: built-in workloads and their pods' metadata,
// pools created, resized and deleted, and subnets, reservations and claims
// read live while carving.
// +kubebuilder:rbac:groups=apps,resources=deployments;replicasets;statefulsets;daemonsets,verbs=get;list;watch
// +kubebuilder:rbac:groups=batch,resources=jobs;cronjobs,verbs=get;list;watch
// +kubebuilder:rbac:groups="",resources=pods,verbs=get;list;watch
// +kubebuilder:rbac:groups=spiderpool.spidernet.io,resources=spiderippools,verbs=get;list;watch;create;update;patch;delete
// +kubebuilder:rbac:groups=spiderpool.spidernet.io,resources=spidersubnets;spiderreservedips,verbs=get;list;watch
// +kubebuilder:rbac:groups=ipkeeper.io,resources=ipclaims,verbs=get;list;watch
// +kubebuilder:rbac:groups=events.k8s.io,resources=events,verbs=create;patch

// Reconciler keeps the automatic pools of workloads (API.md §4).
//
// Client reads workloads, pods' metadata and pools from the manager's cache
// and writes pools; APIReader reads pools, subnets, reservations and claims
// live wherever a stale read could hand an address out twice or drop a
// claimed one. Exactly one Reconciler may carve at a time (the controller
// runs under leader election): carving is serialised per subnet in memory.
type Reconciler struct {
	Client    client.Client
	APIReader client.Reader
	Recorder  recorder.EventRecorder
	// DefaultSize sizes the pools of workloads without
	// ipam.spidernet.io/ippool-ip-number (configuration
	// clusterSubnetDefaultFlexibleIPNumber); zero means replicas + 1.
	DefaultSize spiderpool.PoolSize

	locks keyedMutex
}

// Reconcile brings the automatic pools of one workload in line with its pod
// template and replicas, or reclaims them when it is gone.
func (r *Reconciler) Reconcile(ctx context.Context, key Key) (ctrl.Result, error) {
	if key.Group == "" && key.Kind == "Pod" {
		return ctrl.Result{}, r.warnBarePod(ctx, key)
	}
	w, err := r.workload(ctx, key)
	if err != nil {
		return ctrl.Result{}, err
	}
	pools, err := r.poolsOf(ctx, key)
	if err != nil {
		return ctrl.Result{}, err
	}
	if w == nil {
		return r.reclaimed(r.reclaim(ctx, nil, pools))
	}
	if w.Annotations == nil && !w.HasReplicas {
		// A third-party controller without pods: nothing says what its
		// pools should be, so they stay as they are.
		return ctrl.Result{RequeueAfter: thirdPartyOwnerRecheckPeriod}, nil
	}
	req, asked, err := spiderpool.ParseAutoPoolRequest(w.Annotations)
	if err != nil {
		r.event(w.Object, corev1.EventTypeWarning, ReasonInvalidAnnotation, err.Error())
		return ctrl.Result{}, reconcile.TerminalError(err)
	}
	if _, sized := w.Annotations[spiderpool.AnnoPoolIPNumber]; !sized && r.DefaultSize != (spiderpool.PoolSize{}) {
		req.Size = r.DefaultSize
	}
	if asked && !w.HasReplicas && req.Size.Relative {
		err := &spiderpool.AnnotationError{Key: spiderpool.AnnoPoolIPNumber, Reason: fmt.Sprintf(
			"the pods of %s %s are made by a third-party controller whose replicas ipkeeper cannot read; set a fixed number such as \"5\" (got %q)",
			w.Kind, w.Name, req.Size)}
		r.event(w.Object, corev1.EventTypeWarning, ReasonFixedIPNumberRequired, err.Error())
		return ctrl.Result{}, reconcile.TerminalError(err)
	}
	used, err := r.ensureAll(ctx, w, req, pools)
	var unused []v2beta1.SpiderIPPool
	for _, p := range pools {
		if !used[p.Name] {
			unused = append(unused, p)
		}
	}
	inUse, rerr := r.reclaim(ctx, w, unused)
	if rerr != nil {
		err = errors.Join(err, rerr)
	}
	switch {
	case err != nil:
		return ctrl.Result{}, err
	case inUse:
		return ctrl.Result{RequeueAfter: inUseRecheckPeriod}, nil
	case !w.HasReplicas:
		return ctrl.Result{RequeueAfter: thirdPartyOwnerRecheckPeriod}, nil
	}
	return ctrl.Result{}, nil
}

// reclaimed is the result of a reclaim: look again later while a pool to be
// deleted still holds claimed addresses (claims have no events here).
func (r *Reconciler) reclaimed(inUse bool, err error) (ctrl.Result, error) {
	if err == nil && inUse {
		return ctrl.Result{RequeueAfter: inUseRecheckPeriod}, nil
	}
	return ctrl.Result{}, err
}

// ensureAll keeps one pool per interface and family the request names, and
// returns the names of the pools it kept.
func (r *Reconciler) ensureAll(ctx context.Context, w *workload, req spiderpool.AutoPoolRequest, pools []v2beta1.SpiderIPPool) (map[string]bool, error) {
	used := map[string]bool{}
	size := req.Size.For(w.Replicas)
	var errs []error
	for _, iface := range req.Interfaces {
		for _, family := range []int{4, 6} {
			subnet := iface.Subnet(family)
			if subnet == "" {
				continue
			}
			want := poolWant{iface: iface.Name, family: family, subnet: subnet, size: size, reclaim: req.Reclaim}
			cands := candidates(pools, w.UID, iface.Name, family)
			name, err := r.ensure(ctx, w, want, cands)
			if err != nil {
				// Undecided: delete none of the pools that might serve.
				for _, c := range cands {
					used[c.Name] = true
				}
				errs = append(errs, err)
			}
			if name != "" {
				used[name] = true
			}
		}
	}
	return used, errors.Join(errs...)
}

// candidates returns the pools that may serve a workload's interface and
// family: its own first, then pools left by an earlier workload of the same
// kind, namespace and name, by name: kept on purpose (reclaim "false"), or
// not deleted yet because its pods still hold addresses of them (the
// workload was deleted with --cascade=orphan and is being re-created).
func candidates(pools []v2beta1.SpiderIPPool, uid types.UID, iface string, family int) []*v2beta1.SpiderIPPool {
	var own, kept []*v2beta1.SpiderIPPool
	for i := range pools {
		p := &pools[i]
		switch {
		case p.Labels[LabelInterface] != iface || spiderpool.PoolFamily(p) != family:
		case p.Labels[LabelOwnerUID] == string(uid):
			own = append(own, p)
		case !reclaims(p) || p.DeletionTimestamp == nil:
			kept = append(kept, p)
		}
	}
	byName := func(a, b *v2beta1.SpiderIPPool) int { return strings.Compare(a.Name, b.Name) }
	slices.SortFunc(own, byName)
	slices.SortFunc(kept, byName)
	return append(own, kept...)
}

// reclaim deletes the pools that are no longer wanted. w is nil when the
// workload is gone: then pools made with ippool-reclaim "false" are kept for
// a workload re-created with the same kind, namespace and name, and the
// others once no address of them is claimed: pods left running by a delete
// with --cascade=orphan keep their addresses, and a workload re-created
// under the same name adopts the pool (candidates). A live workload's own
// pools that it no longer asks for are deleted. inUse reports a pool kept
// only because it is in use, to look at again.
func (r *Reconciler) reclaim(ctx context.Context, w *workload, pools []v2beta1.SpiderIPPool) (inUse bool, err error) {
	var errs []error
	for i := range pools {
		p := &pools[i]
		earlier := w == nil || p.Labels[LabelOwnerUID] != string(w.UID)
		if !reclaims(p) && earlier {
			continue
		}
		why := "its workload is gone"
		if w != nil {
			why = "no longer asked for"
		}
		if earlier && p.DeletionTimestamp == nil {
			claimed, err := r.claimed(ctx, p.Name)
			if err != nil {
				errs = append(errs, err)
				continue
			}
			if !claimed.IsEmpty() {
				ctrl.LoggerFrom(ctx).V(1).Info("Keeping automatic pool of a gone workload while its addresses are held", "pool", p.Name)
				inUse = true
				continue
			}
		}
		if err := r.deletePool(ctx, w, p, why); err != nil {
			errs = append(errs, err)
		}
	}
	return inUse, errors.Join(errs...)
}

// deletePool deletes an automatic pool as it was read: a pool changed since
// (for example adopted) is left alone and looked at again. The pool-status
// reconciler's finalizer holds the deletion until no address is claimed.
func (r *Reconciler) deletePool(ctx context.Context, w *workload, p *v2beta1.SpiderIPPool, why string) error {
	if p.DeletionTimestamp != nil {
		return nil
	}
	ctrl.LoggerFrom(ctx).Info("Deleting automatic pool", "pool", p.Name, "reason", why)
	err := r.Client.Delete(ctx, p, client.Preconditions{UID: &p.UID, ResourceVersion: &p.ResourceVersion})
	switch {
	case apierrors.IsNotFound(err):
	case err != nil:
		return fmt.Errorf("delete SpiderIPPool %s: %w", p.Name, err)
	case w != nil:
		r.event(w.Object, corev1.EventTypeNormal, ReasonAutoPoolDeleted, fmt.Sprintf("deleted SpiderIPPool %s: %s", p.Name, why))
	}
	return nil
}

// poolsOf lists the automatic pools made for a workload of this kind,
// namespace and name, whatever its UID, as the pools are now: the cache may
// lag behind this controller's own writes, and a stale pool could be
// deleted after it was adopted.
func (r *Reconciler) poolsOf(ctx context.Context, key Key) ([]v2beta1.SpiderIPPool, error) {
	var cached v2beta1.SpiderIPPoolList
	if err := r.Client.List(ctx, &cached, client.MatchingLabels(ownerSelector(key))); err != nil {
		return nil, fmt.Errorf("list automatic pools of %s: %w", key, err)
	}
	var list v2beta1.SpiderIPPoolList
	if len(cached.Items) > 0 {
		if err := r.APIReader.List(ctx, &list, client.MatchingLabels(ownerSelector(key))); err != nil {
			return nil, fmt.Errorf("list automatic pools of %s: %w", key, err)
		}
	}
	var out []v2beta1.SpiderIPPool
	for _, p := range list.Items {
		if k, ok := keyOf(&p); ok && k == key {
			out = append(out, p)
		}
	}
	return out, nil
}

// workload reads the workload of a key; it returns nil when the workload is
// gone or being deleted.
func (r *Reconciler) workload(ctx context.Context, key Key) (*workload, error) {
	kind, ok := builtin(key)
	if !ok {
		return r.thirdParty(ctx, key)
	}
	obj := kind.new()
	nn := types.NamespacedName{Namespace: key.Namespace, Name: key.Name}
	err := r.Client.Get(ctx, nn, obj)
	if apierrors.IsNotFound(err) {
		// Confirm before reclaiming: the cache may not have seen it yet.
		err = r.APIReader.Get(ctx, nn, obj)
	}
	switch {
	case apierrors.IsNotFound(err):
		return nil, nil
	case err != nil:
		return nil, fmt.Errorf("get %s: %w", key, err)
	case obj.GetDeletionTimestamp() != nil:
		return nil, nil
	}
	w, ok := fromBuiltin(obj)
	if !ok {
		return nil, nil // a ReplicaSet or Job that now has a controller
	}
	return w, nil
}

// thirdParty reads a workload of a kind ipkeeper does not know: its identity
// from the API server, and its pod template's annotations from its newest
// pod that carries a subnet annotation. Without such a pod, Annotations is
// nil.
func (r *Reconciler) thirdParty(ctx context.Context, key Key) (*workload, error) {
	mapping, err := r.Client.RESTMapper().RESTMapping(schema.GroupKind{Group: key.Group, Kind: key.Kind})
	if meta.IsNoMatchError(err) {
		return nil, nil // the kind itself is gone
	}
	if err != nil {
		return nil, fmt.Errorf("map %s: %w", key, err)
	}
	owner := &metav1.PartialObjectMetadata{}
	owner.SetGroupVersionKind(mapping.GroupVersionKind)
	err = r.APIReader.Get(ctx, types.NamespacedName{Namespace: key.Namespace, Name: key.Name}, owner)
	switch {
	case apierrors.IsNotFound(err):
		return nil, nil
	case err != nil:
		return nil, fmt.Errorf("get %s: %w", key, err)
	case owner.DeletionTimestamp != nil:
		return nil, nil
	}
	w := &workload{Owner: Owner{Key: key, APIVersion: mapping.GroupVersionKind.GroupVersion().String(), UID: owner.UID}, Object: owner}
	pods := podMetadataList()
	if err := r.Client.List(ctx, pods, client.InNamespace(key.Namespace)); err != nil {
		return nil, fmt.Errorf("list pods of %s: %w", key, err)
	}
	var newest *metav1.PartialObjectMetadata
	for i := range pods.Items {
		p := &pods.Items[i]
		if !asksForAutoPool(p) || (newest != nil && !newest.CreationTimestamp.Before(&p.CreationTimestamp)) {
			continue
		}
		if top, uid, ok := r.topOwner(ctx, p); ok && top == key && uid == owner.UID {
			newest = p
		}
	}
	if newest != nil {
		newest.SetGroupVersionKind(corev1.SchemeGroupVersion.WithKind("Pod"))
		w.Object, w.Annotations = newest, newest.Annotations
	}
	return w, nil
}

// topOwner returns the workload a pod belongs to (spiderpool.TopController),
// as the agent finds it. ok is false for a pod without controller. A parent
// that cannot be read counts as having no controller of its own.
func (r *Reconciler) topOwner(ctx context.Context, pod client.Object) (Key, types.UID, bool) {
	ref, _ := spiderpool.TopController(ctx, pod, r.controllerOf)
	if ref == nil {
		return Key{}, "", false
	}
	return keyOfRef(pod.GetNamespace(), ref), ref.UID, true
}

// controllerOf reads a ReplicaSet's or Job's controller reference.
func (r *Reconciler) controllerOf(ctx context.Context, namespace string, ref *metav1.OwnerReference) (*metav1.OwnerReference, error) {
	var parent client.Object = &appsv1.ReplicaSet{}
	if ref.Kind == "Job" {
		parent = &batchv1.Job{}
	}
	if r.Client.Get(ctx, types.NamespacedName{Namespace: namespace, Name: ref.Name}, parent) != nil {
		return nil, nil
	}
	return metav1.GetControllerOf(parent), nil
}

// warnBarePod tells a pod without controller that it gets no automatic pool.
func (r *Reconciler) warnBarePod(ctx context.Context, key Key) error {
	pod := podMetadata()
	err := r.Client.Get(ctx, types.NamespacedName{Namespace: key.Namespace, Name: key.Name}, pod)
	if err != nil {
		return client.IgnoreNotFound(err)
	}
	if asksForAutoPool(pod) && metav1.GetControllerOf(pod) == nil {
		r.event(pod, corev1.EventTypeWarning, ReasonNoController,
			"annotation "+spiderpool.AnnoSubnet+"(s) asks for an automatic pool, which is made for a pod's controller; a pod without one gets none: name a pool with "+spiderpool.AnnoPool+" instead")
	}
	return nil
}

func (r *Reconciler) event(obj client.Object, kind, reason, note string) {
	r.Recorder.Eventf(obj, nil, kind, reason, eventAction, "%s", note)
}

// asksForAutoPool reports whether a pod carries a subnet annotation.
func asksForAutoPool(o client.Object) bool {
	ann := o.GetAnnotations()
	_, multi := ann[spiderpool.AnnoSubnets]
	_, single := ann[spiderpool.AnnoSubnet]
	return multi || single
}

func podMetadata() *metav1.PartialObjectMetadata {
	p := &metav1.PartialObjectMetadata{}
	p.SetGroupVersionKind(corev1.SchemeGroupVersion.WithKind("Pod"))
	return p
}

func podMetadataList() *metav1.PartialObjectMetadataList {
	l := &metav1.PartialObjectMetadataList{}
	l.SetGroupVersionKind(corev1.SchemeGroupVersion.WithKind("PodList"))
	return l
}
