package ipam

import (
	"context"
	"errors"
	"fmt"
	"net/netip"
	"strconv"
	"strings"

	appsv1 "k8s.io/api/apps/v1"
	"k8s.io/apimachinery/pkg/types"

	"github.com/ipkeeper/ipkeeper/api/ipkeeper/v1alpha1"
)

// ordinalOf returns the StatefulSet ordinal in a pod name "<sts>-<n>".
func ordinalOf(pod, sts string) *int32 {
	rest, ok := strings.CutPrefix(pod, sts+"-")
	if !ok {
		return nil
	}
	n, err := strconv.ParseInt(rest, 10, 32)
	if err != nil || n < 0 {
		return nil
	}
	o := int32(n)
	return &o
}

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
	var addrs []netip.Addr
	for _, s := range strings.Split(value, ",") {
		addr, err := netip.ParseAddr(strings.TrimSpace(s))
		if err != nil {
			return netip.Addr{}, false, &AnnotationError{Key: AnnoOrdinalIPs, Reason: fmt.Sprintf("%q is not an IP address; want a comma-separated list such as 10.6.168.101,10.6.168.102", s)}
		}
		if family(addr) == fam {
			addrs = append(addrs, addr)
		}
	}
	if len(addrs) == 0 {
		return netip.Addr{}, false, nil
	}
	i := int(*req.ordinal) - int(start)
	if i < 0 || i >= len(addrs) {
		return netip.Addr{}, false, &AllocationError{Msg: fmt.Sprintf("pod %s is ordinal %d but %s lists %d IPv%d addresses from ordinal %d: add addresses or scale down",
			req.key, *req.ordinal, AnnoOrdinalIPs, len(addrs), fam, start)}
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
	value := req.pod.Annotations[AnnoOrdinalIPs]
	if value == "" && sts != nil {
		value = sts.Annotations[AnnoOrdinalIPs]
	}
	return value, firstOrdinal(sts), nil
}

func firstOrdinal(sts *appsv1.StatefulSet) int32 {
	if sts == nil || sts.Spec.Ordinals == nil {
		return 0
	}
	return sts.Spec.Ordinals.Start
}

// claimExact claims one given address (ipkeeper.io/ordinal-ips) from the
// candidate pool that holds it.
func (a *Allocator) claimExact(ctx context.Context, req *request, fam int, addr netip.Addr) (*v1alpha1.IPClaim, error) {
	pool := ""
	for _, p := range req.sel.Pools[fam] {
		if a.index.PoolAllows(p.Name, addr) {
			pool = p.Name
			break
		}
	}
	if pool == "" {
		return nil, a.noAddress(req, fam, []string{fmt.Sprintf("%s gives ordinal %d the address %s, which no candidate pool may hand out (outside its ips, excluded, reserved or the gateway)", AnnoOrdinalIPs, *req.ordinal, addr)})
	}
	c, err := a.store.CreateClaim(ctx, a.newClaim(req, pool, addr))
	if errors.Is(err, ErrTaken) {
		return nil, &AllocationError{Msg: fmt.Sprintf("%s gives ordinal %d of pod %s the address %s, which is held by %s",
			AnnoOrdinalIPs, *req.ordinal, req.key, addr, a.holderOf(addr))}
	}
	if err != nil {
		return nil, fmt.Errorf("claim %s in pool %s: %w", addr, pool, err)
	}
	a.index.SetClaim(c)
	return c, nil
}

func (a *Allocator) holderOf(addr netip.Addr) string {
	for _, c := range a.index.Claims() {
		if c.Name == ClaimName(addr) {
			return "pod " + c.Spec.Holder.Namespace + "/" + c.Spec.Holder.Name
		}
	}
	return "another pod"
}

// keepsAddress reports whether a StatefulSet pod's claim outlives its
// sandbox: the StatefulSet exists and the ordinal is below replicas, or the
// StatefulSet asks to retain addresses on scale-down.
func (a *Allocator) keepsAddress(ctx context.Context, c *v1alpha1.IPClaim) (bool, error) {
	if !a.cfg.EnableStatefulSet || c.Spec.Owner.Kind != "StatefulSet" {
		return false, nil
	}
	sts, err := a.cluster.StatefulSet(ctx, types.NamespacedName{Namespace: c.Spec.Holder.Namespace, Name: c.Spec.Owner.Name})
	if errors.Is(err, ErrNotFound) {
		return false, nil
	}
	if err != nil {
		return false, fmt.Errorf("get statefulset %s: %w", c.Spec.Owner.Name, err)
	}
	if c.Spec.Owner.UID != "" && sts.UID != c.Spec.Owner.UID || sts.DeletionTimestamp != nil {
		return false, nil
	}
	if sts.Annotations[AnnoRetainOnScaleDown] == "true" {
		return true, nil
	}
	ord := ordinalOf(c.Spec.Holder.Name, sts.Name)
	if ord == nil {
		return false, nil
	}
	replicas := int32(1)
	if sts.Spec.Replicas != nil {
		replicas = *sts.Spec.Replicas
	}
	start := firstOrdinal(sts)
	return *ord >= start && *ord < start+replicas, nil
}
