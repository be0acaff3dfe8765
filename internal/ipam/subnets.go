package ipam

import "github.com/ipkeeper/ipkeeper/api/v2beta1"

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
