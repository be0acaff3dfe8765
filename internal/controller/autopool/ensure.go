package autopool

import (
	"context"
	"fmt"
	"maps"
	"net/netip"
	"slices"
	"strings"
	"sync"

	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/api/equality"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/types"
	ctrl "sigs.k8s.io/controller-runtime"
	"sigs.k8s.io/controller-runtime/pkg/client"
	"sigs.k8s.io/controller-runtime/pkg/reconcile"

	"github.com/ipkeeper/ipkeeper/api/ipkeeper/v1alpha1"
	"github.com/ipkeeper/ipkeeper/api/v2beta1"
	"github.com/ipkeeper/ipkeeper/internal/ipnet"
	"github.com/ipkeeper/ipkeeper/internal/spiderpool"
)

// poolWant is one pool a workload asks for.
type poolWant struct {
	iface   string
	family  int
	subnet  string // SpiderSubnet name
	size    uint64
	reclaim bool
}

// ensure creates, adopts or resizes the pool of one interface and family,
// choosing among candidates the first pool of the same subnet. It returns
// the name of the pool it kept, if any.
func (r *Reconciler) ensure(ctx context.Context, w *workload, want poolWant, cands []*v2beta1.SpiderIPPool) (string, error) {
	sub, prefix, err := r.subnet(ctx, w, want)
	if err != nil {
		return "", err
	}
	var chosen string
	for _, p := range cands {
		if pfx, err := netip.ParsePrefix(p.Spec.Subnet); err == nil && pfx.Masked() == prefix {
			if chosen == "" {
				chosen = p.Name
			}
			continue
		}
		if p.Labels[LabelOwnerUID] == string(w.UID) {
			// The workload now names another subnet for this interface.
			if err := r.deletePool(ctx, w, p, "its SpiderSubnet is no longer asked for"); err != nil {
				return chosen, err
			}
		}
	}
	// Carving reads every pool of the subnet and then writes one; two
	// carvings of one subnet must not interleave, or both could take the
	// same free addresses.
	unlock := r.locks.lock(prefix.String())
	defer unlock()

	var pools v2beta1.SpiderIPPoolList
	if err := r.APIReader.List(ctx, &pools); err != nil {
		return chosen, fmt.Errorf("list SpiderIPPools: %w", err)
	}
	var reserved v2beta1.SpiderReservedIPList
	if err := r.APIReader.List(ctx, &reserved); err != nil {
		return chosen, fmt.Errorf("list SpiderReservedIPs: %w", err)
	}
	var cur *v2beta1.SpiderIPPool
	for i := range pools.Items {
		if pools.Items[i].Name == chosen {
			cur = &pools.Items[i]
		}
	}
	if cur != nil && cur.DeletionTimestamp != nil {
		return chosen, fmt.Errorf("SpiderIPPool %s is being deleted; it is re-created once gone", chosen)
	}
	free, err := subnetFree(sub, pools.Items, reserved.Items)
	if err != nil {
		return chosen, err
	}
	if cur == nil {
		return r.create(ctx, w, want, sub, free)
	}
	return cur.Name, r.update(ctx, w, want, sub, prefix, cur, free)
}

// subnet reads the SpiderSubnet a pool is to be carved from, live, and
// checks that it is of the wanted family.
func (r *Reconciler) subnet(ctx context.Context, w *workload, want poolWant) (*v2beta1.SpiderSubnet, netip.Prefix, error) {
	sub := &v2beta1.SpiderSubnet{}
	err := r.APIReader.Get(ctx, types.NamespacedName{Name: want.subnet}, sub)
	if apierrors.IsNotFound(err) || err == nil && sub.DeletionTimestamp != nil {
		err := fmt.Errorf("interface %s: SpiderSubnet %s does not exist or is being deleted", want.iface, want.subnet)
		r.event(w.Object, corev1.EventTypeWarning, ReasonSubnetNotFound, err.Error())
		return nil, netip.Prefix{}, err
	}
	if err != nil {
		return nil, netip.Prefix{}, fmt.Errorf("get SpiderSubnet %s: %w", want.subnet, err)
	}
	prefix, err := netip.ParsePrefix(sub.Spec.Subnet)
	if err != nil {
		return nil, netip.Prefix{}, fmt.Errorf("SpiderSubnet %s: spec.subnet: %w", sub.Name, err)
	}
	if fam := ipnet.Family(prefix.Addr()); fam != want.family {
		err := &spiderpool.AnnotationError{Key: spiderpool.AutoPoolAnnotationKey(w.Annotations), Reason: fmt.Sprintf("interface %s names SpiderSubnet %s as ipv%d, but it is IPv%d", want.iface, want.subnet, want.family, fam)}
		r.event(w.Object, corev1.EventTypeWarning, ReasonInvalidAnnotation, err.Error())
		return nil, netip.Prefix{}, reconcile.TerminalError(err)
	}
	return sub, prefix.Masked(), nil
}

// create carves a new pool of want.size addresses from free.
func (r *Reconciler) create(ctx context.Context, w *workload, want poolWant, sub *v2beta1.SpiderSubnet, free ipnet.Set) (string, error) {
	name := PoolName(want.family, w.Name, want.iface, w.UID)
	ips, short := grow(ipnet.Set{}, free, want.size)
	if short != nil {
		return "", r.exhausted(w, sub, name, short)
	}
	version := v2beta1.IPVersion(want.family)
	p := &v2beta1.SpiderIPPool{
		ObjectMeta: metav1.ObjectMeta{Name: name},
		Spec:       v2beta1.SpiderIPPoolSpec{IPVersion: &version, Subnet: sub.Spec.Subnet},
	}
	apply(p, w, want, sub, ips)
	ctrl.LoggerFrom(ctx).Info("Creating automatic pool", "pool", name, "subnet", sub.Name, "size", count(ips))
	if err := r.Client.Create(ctx, p); err != nil {
		// AlreadyExists: ours, not yet listed, or one still being deleted;
		// the retry sees which.
		return "", fmt.Errorf("create SpiderIPPool %s: %w", name, err)
	}
	r.event(w.Object, corev1.EventTypeNormal, ReasonAutoPoolCreated,
		fmt.Sprintf("created SpiderIPPool %s with %d addresses from SpiderSubnet %s for interface %s", name, count(ips), sub.Name, want.iface))
	return name, nil
}

// update adopts and resizes an existing pool, never dropping a claimed
// address.
func (r *Reconciler) update(ctx context.Context, w *workload, want poolWant, sub *v2beta1.SpiderSubnet, prefix netip.Prefix, cur *v2beta1.SpiderIPPool, free ipnet.Set) error {
	ips, err := ipnet.ParseSetIn(cur.Spec.IPs, prefix)
	if err != nil {
		return fmt.Errorf("SpiderIPPool %s: spec.ips: %w", cur.Name, err)
	}
	var claimed ipnet.Set
	if count(ips) > want.size {
		if claimed, err = r.claimed(ctx, cur.Name); err != nil {
			return err
		}
	}
	next, short := resize(ips, free, claimed, want.size)
	if short != nil {
		return r.exhausted(w, sub, cur.Name, short)
	}
	adopted := cur.Labels[LabelOwnerUID] != string(w.UID)
	before := cur.DeepCopy()
	apply(cur, w, want, sub, next)
	if equality.Semantic.DeepEqual(before, cur) {
		return nil
	}
	ctrl.LoggerFrom(ctx).Info("Updating automatic pool", "pool", cur.Name, "from", count(ips), "to", count(next), "adopted", adopted)
	if err := r.Client.Update(ctx, cur); err != nil {
		return fmt.Errorf("update SpiderIPPool %s: %w", cur.Name, err)
	}
	if count(next) < count(ips) {
		if err := r.restoreClaimed(ctx, cur, next, prefix); err != nil {
			return err
		}
	}
	switch {
	case adopted:
		r.event(w.Object, corev1.EventTypeNormal, ReasonAutoPoolAdopted,
			fmt.Sprintf("adopted SpiderIPPool %s (%d addresses, now %d) kept by an earlier %s %s", cur.Name, count(ips), count(next), w.Kind, w.Name))
	case count(next) != count(ips):
		r.event(w.Object, corev1.EventTypeNormal, ReasonAutoPoolResized,
			fmt.Sprintf("resized SpiderIPPool %s from %d to %d addresses (wants %d)", cur.Name, count(ips), count(next), want.size))
	}
	return nil
}

// restoreClaimed puts back any address that was claimed between reading the
// claims and shrinking the pool: a pod of the workload may have started in
// that window.
func (r *Reconciler) restoreClaimed(ctx context.Context, p *v2beta1.SpiderIPPool, ips ipnet.Set, prefix netip.Prefix) error {
	claimed, err := r.claimed(ctx, p.Name)
	if err != nil {
		return err
	}
	lost := claimed.Intersect(ipnet.SetOf(prefix)).Difference(ips)
	if lost.IsEmpty() {
		return nil
	}
	ctrl.LoggerFrom(ctx).Info("Restoring addresses claimed while shrinking", "pool", p.Name, "addresses", lost.String())
	u, err := ips.Union(lost)
	if err != nil {
		return fmt.Errorf("restore claimed addresses of SpiderIPPool %s: %w", p.Name, err)
	}
	p.Spec.IPs = u.Entries()
	if err := r.Client.Update(ctx, p); err != nil {
		return fmt.Errorf("restore claimed addresses %s of SpiderIPPool %s: %w", lost, p.Name, err)
	}
	return nil
}

// claimed returns the addresses of a pool that are held, read live.
func (r *Reconciler) claimed(ctx context.Context, pool string) (ipnet.Set, error) {
	var list v1alpha1.IPClaimList
	if err := r.APIReader.List(ctx, &list, client.MatchingLabels{v1alpha1.LabelPool: pool}); err != nil {
		return ipnet.Set{}, fmt.Errorf("list claims of SpiderIPPool %s: %w", pool, err)
	}
	var set ipnet.Set
	for _, c := range list.Items {
		if a, err := netip.ParseAddr(c.Spec.Address); err == nil && c.Spec.Pool == pool {
			set.Insert(a)
		}
	}
	return set, nil
}

// exhausted reports a subnet too small for a pool on the workload.
func (r *Reconciler) exhausted(w *workload, sub *v2beta1.SpiderSubnet, pool string, e *ExhaustedError) error {
	e.Subnet, e.Pool = sub.Name, pool
	r.event(w.Object, corev1.EventTypeWarning, ReasonSubnetExhausted, e.Error())
	return e
}

// apply sets what the controller owns of a pool: labels, annotations, the
// subnet owner reference, addresses, pod affinity, and the gateway and
// routes the subnet has. Other labels, annotations and fields are kept.
func apply(p *v2beta1.SpiderIPPool, w *workload, want poolWant, sub *v2beta1.SpiderSubnet, ips ipnet.Set) {
	p.Labels = merge(p.Labels, poolLabels(w.Owner, want.iface))
	p.Annotations = merge(p.Annotations, poolAnnotations(w.Owner, want.reclaim))
	p.OwnerReferences = withSubnetOwner(p.OwnerReferences, sub)
	p.Spec.IPs = ips.Entries()
	p.Spec.PodAffinity = w.Selector.DeepCopy()
	if sub.Spec.Gateway != nil {
		p.Spec.Gateway = new(*sub.Spec.Gateway)
	}
	if len(sub.Spec.Routes) > 0 {
		p.Spec.Routes = append([]v2beta1.Route(nil), sub.Spec.Routes...)
	}
}

// withSubnetOwner makes the SpiderSubnet the pool's controller, so that the
// pool is listed as the subnet's and goes with it. BlockOwnerDeletion stays
// unset: deleting a subnet must not wait on its pools. Other owners that are
// not controllers are kept.
func withSubnetOwner(refs []metav1.OwnerReference, sub *v2beta1.SpiderSubnet) []metav1.OwnerReference {
	ref := metav1.OwnerReference{
		APIVersion: v2beta1.GroupVersion.String(), Kind: "SpiderSubnet",
		Name: sub.Name, UID: sub.UID, Controller: new(true),
	}
	out := []metav1.OwnerReference{ref}
	for _, o := range refs {
		if o.UID != sub.UID && (o.Controller == nil || !*o.Controller) {
			out = append(out, o)
		}
	}
	if equality.Semantic.DeepEqual(slices.SortedFunc(slices.Values(out), byUID), slices.SortedFunc(slices.Values(refs), byUID)) {
		return refs // unchanged: keep the order
	}
	return out
}

func byUID(a, b metav1.OwnerReference) int { return strings.Compare(string(a.UID), string(b.UID)) }

func merge(dst, src map[string]string) map[string]string {
	if dst == nil {
		dst = map[string]string{}
	}
	maps.Copy(dst, src)
	return dst
}

// keyedMutex is a mutex per key, here per subnet CIDR.
type keyedMutex struct {
	mu sync.Mutex
	m  map[string]*sync.Mutex
}

func (k *keyedMutex) lock(key string) (unlock func()) {
	k.mu.Lock()
	if k.m == nil {
		k.m = map[string]*sync.Mutex{}
	}
	m, ok := k.m[key]
	if !ok {
		m = &sync.Mutex{}
		k.m[key] = m
	}
	k.mu.Unlock()
	m.Lock()
	return m.Unlock
}
