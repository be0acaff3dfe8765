package ipam

import (
	"context"
	"errors"
	"fmt"
	"net/netip"

	"k8s.io/apimachinery/pkg/types"

	"github.com/ipkeeper/ipkeeper/api/ipkeeper/v1alpha1"
	"github.com/ipkeeper/ipkeeper/internal/ipnet"
	"github.com/ipkeeper/ipkeeper/internal/spiderpool"
)

// ordinalAddress returns the address ipkeeper.io/ordinal-ips assigns to the
// pod's ordinal in family fam; ok is false when the pod has no such list.
func (a *Allocator) ordinalAddress(ctx context.Context, req *request, fam int) (netip.Addr, bool, error) {
	if req.ordinal == nil {
		return netip.Addr{}, false, nil
	}
	value, start, err := a.ordinalList(ctx, req)
	if err != nil || value == "" {
		return netip.Addr{}, false, err
	}
	listed, err := spiderpool.ParseOrdinalIPs(value)
	if err != nil {
		return netip.Addr{}, false, err
	}
	var addrs []netip.Addr
	for _, addr := range listed {
		if ipnet.Family(addr) == fam {
			addrs = append(addrs, addr)
		}
	}
	if len(addrs) == 0 {
		return netip.Addr{}, false, nil
	}
	i := int(*req.ordinal) - int(start)
	if i < 0 || i >= len(addrs) {
		return netip.Addr{}, false, &AllocationError{Reason: ReasonExhausted, Msg: fmt.Sprintf("pod %s is ordinal %d but %s lists %d IPv%d addresses from ordinal %d: add addresses or scale down",
			req.key, *req.ordinal, spiderpool.AnnoOrdinalIPs, len(addrs), fam, start)}
	}
	return addrs[i], true, nil
}

// ordinalList reads ipkeeper.io/ordinal-ips from the pod (its template) or
// else the StatefulSet, and the StatefulSet's first ordinal.
func (a *Allocator) ordinalList(ctx context.Context, req *request) (string, int32, error) {
	sts, err := a.cluster.StatefulSet(ctx, types.NamespacedName{Namespace: req.pod.Namespace, Name: req.owner.Name})
	if err != nil && !errors.Is(err, ErrNotFound) {
		return "", 0, fmt.Errorf("get statefulset %s: %w", req.owner.Name, err)
	}
	value := req.pod.Annotations[spiderpool.AnnoOrdinalIPs]
	if value == "" && sts != nil {
		value = sts.Annotations[spiderpool.AnnoOrdinalIPs]
	}
	return value, spiderpool.FirstOrdinal(sts), nil
}

// claimExact claims one given address (ipkeeper.io/ordinal-ips) from the
// candidate pool that holds it.
func (a *Allocator) claimExact(ctx context.Context, req *request, fam int, addr netip.Addr) (grant, error) {
	pool := ""
	for _, p := range req.sel.Pools[fam] {
		if a.index.PoolAllows(p.Name, addr) {
			pool = p.Name
			break
		}
	}
	if pool == "" {
		return grant{}, a.noAddress(req, fam, ReasonNoCandidatePool, []string{fmt.Sprintf("%s gives ordinal %d the address %s, which no candidate pool may hand out (outside its ips, excluded, reserved or the gateway)", spiderpool.AnnoOrdinalIPs, *req.ordinal, addr)})
	}
	c, err := a.store.CreateClaim(ctx, a.newClaim(req, pool, addr))
	if errors.Is(err, ErrTaken) {
		if own := a.ordinalsClaim(req, addr); own != nil {
			// Already this ordinal's (an earlier incarnation's): take it over.
			return a.takeOver(ctx, req, grant{claim: own, addr: addr})
		}
		return grant{}, &AllocationError{Reason: ReasonAddressHeld, Msg: fmt.Sprintf("%s gives ordinal %d of pod %s the address %s, which is held by %s",
			spiderpool.AnnoOrdinalIPs, *req.ordinal, req.key, addr, a.holderOf(ctx, addr))}
	}
	if err != nil {
		return grant{}, fmt.Errorf("claim %s in pool %s: %w", addr, pool, err)
	}
	a.index.SetClaim(c)
	return grant{claim: c, addr: addr}, nil
}

// ordinalsClaim returns the claim on addr when it is this StatefulSet
// ordinal's, for this interface, whichever incarnation holds it.
func (a *Allocator) ordinalsClaim(req *request, addr netip.Addr) *v1alpha1.IPClaim {
	name := v1alpha1.ClaimName(addr)
	for _, c := range req.claims {
		if c.Name == name && c.Spec.Holder.Interface == req.IfName &&
			c.Spec.Owner.Kind == spiderpool.KindStatefulSet && c.Spec.Owner.Name == req.owner.Name {
			return c
		}
	}
	return nil
}

// holderOf names the pod holding addr, for an error message; another node's
// claim is known to the index by address only, so it is read.
func (a *Allocator) holderOf(ctx context.Context, addr netip.Addr) string {
	c, err := a.store.GetClaim(ctx, v1alpha1.ClaimName(addr))
	if err != nil {
		return "another pod"
	}
	return c.HeldBy()
}

// keepsAddress reports whether a StatefulSet pod's claim outlives its
// sandbox: the StatefulSet still has its ordinal (spiderpool.OrdinalSlot).
func (a *Allocator) keepsAddress(ctx context.Context, c *v1alpha1.IPClaim) (bool, error) {
	if !a.stateful(c.Spec.Owner) {
		return false, nil
	}
	sts, err := a.cluster.StatefulSet(ctx, types.NamespacedName{Namespace: c.Spec.Holder.Namespace, Name: c.Spec.Owner.Name})
	if errors.Is(err, ErrNotFound) {
		return false, nil
	}
	if err != nil {
		return false, fmt.Errorf("get statefulset %s: %w", c.Spec.Owner.Name, err)
	}
	_, kept := spiderpool.OrdinalSlot(c, sts)
	return kept, nil
}
