package status

import (
	"context"
	"fmt"
	"net/netip"

	"k8s.io/utils/ptr"
	ctrl "sigs.k8s.io/controller-runtime"
	"sigs.k8s.io/controller-runtime/pkg/client"
	"sigs.k8s.io/controller-runtime/pkg/controller/controllerutil"
	"sigs.k8s.io/controller-runtime/pkg/handler"
	"sigs.k8s.io/controller-runtime/pkg/reconcile"

	"github.com/ipkeeper/ipkeeper/api/v2beta1"
	"github.com/ipkeeper/ipkeeper/internal/ipnet"
)

// Subnets reconciles SpiderSubnet status and its ownership of the pools of
// the same subnet.
type Subnets struct {
	Client client.Client
}

// SetupWithManager watches subnets and the pools that may belong to them.
func (r *Subnets) SetupWithManager(mgr ctrl.Manager) error {
	return ctrl.NewControllerManagedBy(mgr).
		Named("subnetstatus").
		For(&v2beta1.SpiderSubnet{}).
		Watches(&v2beta1.SpiderIPPool{}, handler.EnqueueRequestsFromMapFunc(r.subnetsOf)).
		Complete(r)
}

// subnetsOf maps a pool to the SpiderSubnets of its subnet.
func (r *Subnets) subnetsOf(ctx context.Context, obj client.Object) []reconcile.Request {
	pool, ok := obj.(*v2beta1.SpiderIPPool)
	if !ok {
		return nil
	}
	var list v2beta1.SpiderSubnetList
	if err := r.Client.List(ctx, &list); err != nil {
		return nil
	}
	var reqs []reconcile.Request
	for _, s := range list.Items {
		if sameSubnet(s.Spec.Subnet, pool.Spec.Subnet) {
			reqs = append(reqs, reconcile.Request{NamespacedName: client.ObjectKeyFromObject(&s)})
		}
	}
	return reqs
}

// Reconcile owns the subnet's pools and writes its counts.
func (r *Subnets) Reconcile(ctx context.Context, req ctrl.Request) (ctrl.Result, error) {
	subnet := &v2beta1.SpiderSubnet{}
	if err := r.Client.Get(ctx, req.NamespacedName, subnet); err != nil {
		return ctrl.Result{}, client.IgnoreNotFound(err)
	}
	if !subnet.DeletionTimestamp.IsZero() {
		return ctrl.Result{}, nil
	}
	var pools v2beta1.SpiderIPPoolList
	if err := r.Client.List(ctx, &pools); err != nil {
		return ctrl.Result{}, fmt.Errorf("list pools: %w", err)
	}
	prefix, err := netip.ParsePrefix(subnet.Spec.Subnet)
	if err != nil {
		return ctrl.Result{}, nil // refused by the webhook; nothing to count
	}
	offered := setOf(subnet.Spec.IPs, prefix).Difference(setOf(subnet.Spec.ExcludeIPs, prefix))
	var given ipnet.Set
	count := int64(0)
	for i := range pools.Items {
		p := &pools.Items[i]
		if !sameSubnet(p.Spec.Subnet, subnet.Spec.Subnet) {
			continue
		}
		count++
		given, _ = given.Union(setOf(p.Spec.IPs, prefix).Intersect(offered))
		if err := r.own(ctx, subnet, p); err != nil {
			return ctrl.Result{}, err
		}
	}
	return ctrl.Result{}, r.writeCounts(ctx, subnet, saturate(offered.Count()), saturate(given.Count()), count)
}

// own makes the subnet an owner of pool, as upstream does.
func (r *Subnets) own(ctx context.Context, subnet *v2beta1.SpiderSubnet, pool *v2beta1.SpiderIPPool) error {
	for _, ref := range pool.OwnerReferences {
		if ref.UID == subnet.UID {
			return nil
		}
	}
	patch := client.MergeFrom(pool.DeepCopy())
	if err := controllerutil.SetOwnerReference(subnet, pool, r.Client.Scheme()); err != nil {
		return fmt.Errorf("own pool %s: %w", pool.Name, err)
	}
	return client.IgnoreNotFound(r.Client.Patch(ctx, pool, patch))
}

func (r *Subnets) writeCounts(ctx context.Context, s *v2beta1.SpiderSubnet, total, allocated, pools int64) error {
	st := s.Status
	if ptr.Deref(st.TotalIPCount, -1) == total && ptr.Deref(st.AllocatedIPCount, -1) == allocated && ptr.Deref(st.ControlledIPPoolCount, -1) == pools {
		return nil
	}
	patch := client.MergeFrom(s.DeepCopy())
	s.Status.TotalIPCount, s.Status.AllocatedIPCount, s.Status.ControlledIPPoolCount = ptr.To(total), ptr.To(allocated), ptr.To(pools)
	if err := r.Client.Status().Patch(ctx, s, patch); err != nil {
		return fmt.Errorf("write subnet status: %w", err)
	}
	return nil
}

func sameSubnet(a, b string) bool {
	pa, errA := netip.ParsePrefix(a)
	pb, errB := netip.ParsePrefix(b)
	return errA == nil && errB == nil && pa.Masked() == pb.Masked()
}

func setOf(entries []string, p netip.Prefix) ipnet.Set {
	s, _ := ipnet.ParseSetIn(entries, p.Masked())
	return s
}
