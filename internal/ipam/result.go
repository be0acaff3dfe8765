package ipam

import (
	"fmt"
	"net/netip"
	"strings"

	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	"github.com/ipkeeper/ipkeeper/api/ipkeeper/v1alpha1"
	"github.com/ipkeeper/ipkeeper/api/v2beta1"
	"github.com/ipkeeper/ipkeeper/internal/spiderpool"
)

// autoPools returns the workload's automatic pools for an interface.
func (a *Allocator) autoPools(owner v1alpha1.ClaimOwner, ifName string) map[int][]string {
	out := map[int][]string{}
	if owner.UID == "" {
		return out
	}
	for _, p := range a.index.Pools() {
		if p.Labels[spiderpool.LabelAutoPoolOwnerUID] == string(owner.UID) && p.Labels[spiderpool.LabelAutoPoolInterface] == ifName {
			fam := spiderpool.PoolFamily(p)
			out[fam] = append(out[fam], p.Name)
		}
	}
	return out
}

// allocation is what the request's claims give the interface: each address
// with its pool's prefix length and gateway, the pool's routes, and the
// routes of the pod's ipam.spidernet.io/routes, each with the address whose
// subnet holds its next hop. It fails, naming the route, when a route's next
// hop is in none of the interface's subnets.
func (a *Allocator) allocation(req *request, got []grant) (*Allocation, error) {
	out := &Allocation{}
	clean := req.cleanGateway()
	placed := make([]bool, len(req.routes))
	var subnets []string
	for _, g := range got {
		p, parsed, ok := a.index.Parsed(g.claim.Spec.Pool)
		if !ok {
			continue
		}
		subnet := parsed.Subnet
		subnets = append(subnets, subnet.String())
		ip := Address{Address: netip.PrefixFrom(g.addr, subnet.Bits()), Pool: p.Name}
		gateway, routes := a.index.inherited(p, parsed)
		if !clean {
			ip.Gateway = gateway
		}
		out.IPs = append(out.IPs, ip)
		for _, r := range routes {
			if route, ok := poolRoute(r); ok {
				out.Routes = append(out.Routes, route)
			}
		}
		for i, r := range req.routes {
			if subnet.Contains(r.GW) {
				out.Routes = append(out.Routes, r)
				placed[i] = true
			}
		}
	}
	// With other interfaces, a next hop may be on one of theirs: only a
	// single-interface pod's route can be known to reach nowhere.
	for i, ok := range placed {
		if !ok && spiderpool.InterfacesOf(req.pod) == 1 {
			return nil, &spiderpool.AnnotationError{Key: spiderpool.AnnoRoutes, Reason: fmt.Sprintf(
				"entry %d: gw %s is in none of the subnets of interface %s (%s); a pod reaches only next hops on its own subnets",
				i, req.routes[i].GW, req.IfName, strings.Join(subnets, ", "))}
		}
	}
	return out, nil
}

func (r *request) cleanGateway() bool { return r.CleanGateway || r.sel.CleanGateway }

// poolRoute parses one of a pool's spec.routes; the webhook refuses routes
// that do not parse, so one that does not is skipped.
func poolRoute(r v2beta1.Route) (spiderpool.Route, bool) {
	dst, err := netip.ParsePrefix(r.Dst)
	if err != nil {
		return spiderpool.Route{}, false
	}
	gw, err := netip.ParseAddr(r.Gw)
	if err != nil {
		return spiderpool.Route{}, false
	}
	return spiderpool.Route{Dst: dst, GW: gw}, true
}

// annotationRoutes are the pod's ipam.spidernet.io/routes; a malformed
// annotation is an error naming it, before any address is taken.
func annotationRoutes(pod *corev1.Pod) ([]spiderpool.Route, error) {
	v, ok := pod.Annotations[spiderpool.AnnoRoutes]
	if !ok {
		return nil, nil
	}
	return spiderpool.ParseRoutes(v)
}

// endpoint is the SpiderEndpoint record of this interface's allocation.
func (a *Allocator) endpoint(req *request, alloc *Allocation) *v2beta1.SpiderEndpoint {
	detail := v2beta1.IPAllocationDetail{Interface: req.IfName}
	for _, ip := range alloc.IPs {
		addr, pool := ip.Address.String(), ip.Pool
		var gw *string
		if ip.Gateway.IsValid() {
			gw = new(ip.Gateway.String())
		}
		if ip.Address.Addr().Is4() {
			detail.IPv4, detail.IPv4Pool, detail.IPv4Gateway = &addr, &pool, gw
		} else {
			detail.IPv6, detail.IPv6Pool, detail.IPv6Gateway = &addr, &pool, gw
		}
	}
	for _, r := range alloc.Routes {
		detail.Routes = append(detail.Routes, v2beta1.Route{Dst: r.Dst.String(), Gw: r.GW.String()})
	}
	detail.CleanGateway = new(req.cleanGateway())
	ep := &v2beta1.SpiderEndpoint{
		ObjectMeta: metav1.ObjectMeta{Namespace: req.pod.Namespace, Name: req.pod.Name},
		Status: v2beta1.SpiderEndpointStatus{
			Current:             v2beta1.PodIPAllocation{UID: req.pod.UID, Node: a.cfg.Node, IPs: []v2beta1.IPAllocationDetail{detail}},
			OwnerControllerType: req.owner.Kind,
			OwnerControllerName: req.owner.Name,
		},
	}
	if !a.stateful(req.owner) {
		ep.OwnerReferences = []metav1.OwnerReference{{APIVersion: "v1", Kind: "Pod", Name: req.pod.Name, UID: req.pod.UID}}
	}
	return ep
}
