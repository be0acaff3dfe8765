package ipam

import (
	"net/netip"

	"github.com/ipkeeper/ipkeeper/api/v2beta1"
	"github.com/ipkeeper/ipkeeper/internal/ipnet"
)

// SetSubnet records a SpiderSubnet: the agent reads subnets only to say why
// a workload's automatic pool is missing.
func (x *Index) SetSubnet(s *v2beta1.SpiderSubnet) {
	x.mu.Lock()
	defer x.mu.Unlock()
	x.subnets[s.Name] = s
	x.notifyLocked()
}

// DeleteSubnet forgets a SpiderSubnet.
func (x *Index) DeleteSubnet(name string) {
	x.mu.Lock()
	defer x.mu.Unlock()
	delete(x.subnets, name)
	x.notifyLocked()
}

// Subnet returns the SpiderSubnet of that name, or nil.
func (x *Index) Subnet(name string) *v2beta1.SpiderSubnet {
	x.mu.Lock()
	defer x.mu.Unlock()
	return x.subnets[name]
}

// Changed returns a channel that is closed at the next change of a pool or
// subnet: a request waiting for an automatic pool takes it before looking,
// so that a pool created in between is not missed.
func (x *Index) Changed() <-chan struct{} {
	x.mu.Lock()
	defer x.mu.Unlock()
	if x.changed == nil {
		x.changed = make(chan struct{})
	}
	return x.changed
}

// notifyLocked wakes the requests waiting on Changed; x.mu is held.
func (x *Index) notifyLocked() {
	if x.changed != nil {
		close(x.changed)
		x.changed = nil
	}
}

// inherited returns the gateway and routes a pool's addresses come with: its
// own, or, for a pool that sets none, those of the SpiderSubnet of the same
// subnet, which owns it (API.md §1). As in Spiderpool, a pool inherits only
// what it leaves unset: "routes: []" keeps no routes, and a pool's own
// gateway wins. Spiderpool copies them into the pool when it is created;
// ipkeeper reads them when it hands an address out, so that the pool object
// stays as written and a change of the subnet reaches the next pod.
func (x *Index) inherited(p *v2beta1.SpiderIPPool, parsed ipnet.Pool) (netip.Addr, []v2beta1.Route) {
	gateway, routes := parsed.Gateway, p.Spec.Routes
	if p.Spec.Gateway != nil && p.Spec.Routes != nil {
		return gateway, routes
	}
	s := x.subnetOf(parsed.Subnet)
	if s == nil {
		return gateway, routes
	}
	if p.Spec.Gateway == nil && s.Spec.Gateway != nil {
		if gw, err := netip.ParseAddr(*s.Spec.Gateway); err == nil && parsed.Subnet.Contains(gw) {
			gateway = gw
		}
	}
	if p.Spec.Routes == nil {
		routes = s.Spec.Routes
	}
	return gateway, routes
}

// subnetOf returns the SpiderSubnet whose spec.subnet is prefix, or nil.
func (x *Index) subnetOf(prefix netip.Prefix) *v2beta1.SpiderSubnet {
	x.mu.Lock()
	defer x.mu.Unlock()
	for _, s := range x.subnets {
		if sp, err := netip.ParsePrefix(s.Spec.Subnet); err == nil && sp.Masked() == prefix.Masked() && s.DeletionTimestamp == nil {
			return s
		}
	}
	return nil
}
