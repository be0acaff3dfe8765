package autopool

import (
	"fmt"
	"math"
	"net/netip"

	"github.com/ipkeeper/ipkeeper/api/v2beta1"
	"github.com/ipkeeper/ipkeeper/internal/ipnet"
	"github.com/ipkeeper/ipkeeper/internal/spiderpool"
)

// ExhaustedError means a subnet has too few free addresses to fill a pool.
type ExhaustedError struct {
	Subnet string
	Pool   string
	// Required is how many more addresses the pool needs; Free how many the
	// subnet has left.
	Required, Free uint64
}

func (e *ExhaustedError) Error() string {
	return fmt.Sprintf("SpiderSubnet %s cannot fill SpiderIPPool %s: %d more addresses required, %d free", e.Subnet, e.Pool, e.Required, e.Free)
}

// subnetFree returns the addresses of a subnet that no pool holds: its ips
// inside its CIDR, minus its excludeIPs, its gateway, the IPv4 network and
// broadcast addresses, every SpiderReservedIP, and the ips of every pool of
// the same family (its own pools and any other that overlaps).
func subnetFree(sub *v2beta1.SpiderSubnet, pools []v2beta1.SpiderIPPool, reserved []v2beta1.SpiderReservedIP) (ipnet.Set, error) {
	p, err := spiderpool.SubnetPoolOf(sub)
	if err != nil {
		return ipnet.Set{}, err
	}
	prefix := p.Subnet
	for i := range reserved {
		set, err := ipnet.ParseSet(reserved[i].Spec.IPs)
		if err != nil {
			return ipnet.Set{}, fmt.Errorf("SpiderReservedIP %s: spec.ips: %w", reserved[i].Name, err)
		}
		p.Reserved = union(p.Reserved, set, prefix)
	}
	free := p.Free()
	for i := range pools {
		set, err := ipnet.ParseSet(pools[i].Spec.IPs)
		if err != nil {
			return ipnet.Set{}, fmt.Errorf("SpiderIPPool %s: spec.ips: %w", pools[i].Name, err)
		}
		free = free.Difference(set)
	}
	return free, nil
}

// union adds the addresses of set inside prefix to acc; addresses of the
// other family cannot meet the subnet and are dropped.
func union(acc, set ipnet.Set, prefix netip.Prefix) ipnet.Set {
	in := set.Intersect(ipnet.SetOf(prefix))
	u, err := acc.Union(in)
	if err != nil { // cannot happen: both sets are of prefix's family
		return acc
	}
	return u
}

// grow returns current with addresses taken from the start of free until it
// holds want addresses; free must not meet current. It fails with the
// shortage when free is too small, and never returns a partly grown pool.
func grow(current, free ipnet.Set, want uint64) (ipnet.Set, *ExhaustedError) {
	have := count(current)
	if have >= want {
		return current, nil
	}
	need := want - have
	if avail := count(free); avail < need {
		return current, &ExhaustedError{Required: need, Free: avail}
	}
	u, err := current.Union(free.Take(need))
	if err != nil { // cannot happen: both sets are of the subnet's family
		return current, &ExhaustedError{Required: need}
	}
	return u, nil
}

// shrink returns current without its highest unclaimed addresses, so that
// it holds want addresses, or as close to want as the claimed addresses
// allow: a claimed address is never removed.
func shrink(current, claimed ipnet.Set, want uint64) ipnet.Set {
	have := count(current)
	if have <= want {
		return current
	}
	unclaimed := current.Difference(claimed)
	n := count(unclaimed)
	drop := min(have-want, n)
	return current.Difference(unclaimed.Difference(unclaimed.Take(n - drop)))
}

// resize returns the pool's addresses after growing or shrinking it to want.
func resize(current, free, claimed ipnet.Set, want uint64) (ipnet.Set, *ExhaustedError) {
	if count(current) > want {
		return shrink(current, claimed, want), nil
	}
	return grow(current, free, want)
}

// count is the size of s, saturated at the largest uint64.
func count(s ipnet.Set) uint64 {
	n, ok := s.CountUint64()
	if !ok {
		return math.MaxUint64
	}
	return n
}
