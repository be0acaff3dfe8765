package coordinator

import (
	"net/netip"
	"slices"

	corev1 "k8s.io/api/core/v1"
	networkingv1 "k8s.io/api/networking/v1"
	"k8s.io/utils/ptr"

	"github.com/ipkeeper/ipkeeper/api/v2beta1"
)

// Status is what the controller writes for spec, given the cluster's
// ServiceCIDR objects and nodes: CIDRs in canonical form, sorted, without
// duplicates, so that an unchanged cluster writes nothing.
func Status(spec *v2beta1.SpiderCoordinatorSpec, serviceCIDRs []networkingv1.ServiceCIDR, nodes []corev1.Node) v2beta1.SpiderCoordinatorStatus {
	var svc []string
	for _, s := range serviceCIDRs {
		if s.DeletionTimestamp.IsZero() {
			svc = append(svc, s.Spec.CIDRs...)
		}
	}
	st := v2beta1.SpiderCoordinatorStatus{ServiceCIDR: canonical(svc)}
	if ptr.Deref(spec.PodCIDRType, v2beta1.PodCIDRTypeAuto) != v2beta1.PodCIDRTypeNone {
		var pods []string
		for _, n := range nodes {
			pods = append(pods, n.Spec.PodCIDRs...)
			if len(n.Spec.PodCIDRs) == 0 && n.Spec.PodCIDR != "" {
				pods = append(pods, n.Spec.PodCIDR)
			}
		}
		st.OverlayPodCIDR = canonical(pods)
	}
	st.Phase = v2beta1.CoordinatorPhaseSynced
	if len(st.ServiceCIDR) == 0 {
		st.Phase = v2beta1.CoordinatorPhaseNotReady
		st.Reason = "no networking.k8s.io/v1 ServiceCIDR found: pods cannot be routed to Services through their node"
	}
	return st
}

// canonical parses, masks, sorts and deduplicates CIDRs; what does not parse
// is left out (the API server validates ServiceCIDRs and node podCIDRs).
func canonical(in []string) []string {
	var ps []netip.Prefix
	for _, s := range in {
		if p, err := netip.ParsePrefix(s); err == nil {
			ps = append(ps, p.Masked())
		}
	}
	slices.SortFunc(ps, func(a, b netip.Prefix) int {
		if c := a.Addr().Compare(b.Addr()); c != 0 {
			return c
		}
		return a.Bits() - b.Bits()
	})
	ps = slices.Compact(ps)
	out := make([]string, 0, len(ps))
	for _, p := range ps {
		out = append(out, p.String())
	}
	if len(out) == 0 {
		return nil
	}
	return out
}
