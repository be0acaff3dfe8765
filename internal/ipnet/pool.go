package ipnet

import (
	"math/big"
	"net/netip"
)

// Pool describes what one pool may hand out. The sets should be of Subnet's
// family; anything of another family is treated as empty, because it cannot
// meet the subnet anyway.
type Pool struct {
	Subnet   netip.Prefix
	IPs      Set        // spec.ips
	Exclude  Set        // spec.excludeIPs
	Reserved Set        // union of all SpiderReservedIP addresses
	Gateway  netip.Addr // the zero Addr when the pool has no gateway
}

// Free returns the addresses the pool may hand out: IPs inside Subnet, minus
// Exclude, Reserved and Gateway, and minus the network and broadcast
// addresses of an IPv4 subnet shorter than /31 (a /31 or /32 has no such
// addresses, RFC 3021). An IPv6 subnet keeps its first address, the
// subnet-router anycast address, allocatable: Spiderpool does the same, and
// underlay IPv6 networks rarely use that anycast address.
func (p Pool) Free() Set {
	if !p.Subnet.IsValid() {
		return Set{}
	}
	free := p.inSubnet().Difference(p.Exclude).Difference(p.Reserved)
	free.Remove(p.Gateway) // a no-op for the zero Addr or another family
	if sub := p.Subnet.Masked(); sub.Addr().Is4() && sub.Bits() < 31 {
		free = free.Difference(edgesOf(sub))
	}
	return free
}

// inSubnet returns IPs clipped to Subnet; an address outside the subnet can
// never be handed out, nor does it count towards the pool's size.
func (p Pool) inSubnet() Set {
	return p.IPs.Intersect(SetOf(p.Subnet))
}

// edgesOf returns the first and last address of an IPv4 prefix: its network
// and broadcast addresses.
func edgesOf(sub netip.Prefix) Set {
	all := SetOf(sub)
	sp := all.chunks[0][0]
	return fromSpans(all.fam, []span{{lo: sp.lo, hi: sp.lo}, {lo: sp.hi, hi: sp.hi}})
}

// Counts are the sizes that explain a pool's state in status fields and
// error messages such as "pool exhausted".
type Counts struct {
	// Total is |IPs ∩ Subnet| - |Excluded|, what `kubectl get sp` shows
	// as TOTAL-IP-COUNT.
	Total *big.Int
	// Reserved counts the addresses of IPs held by SpiderReservedIPs and
	// not already excluded.
	Reserved *big.Int
	// Excluded counts the addresses of IPs listed in excludeIPs.
	Excluded *big.Int
	// InUse counts the addresses of IPs in the taken set.
	InUse *big.Int
	// Free counts the addresses that can still be handed out.
	Free *big.Int
}

// Counts returns the pool's sizes given the addresses already taken. IPs are
// first clipped to Subnet, so that Total + Excluded = |IPs ∩ Subnet|.
func (p Pool) Counts(taken Set) Counts {
	ips := p.inSubnet()
	excluded := ips.Intersect(p.Exclude)
	return Counts{
		Total:    ips.Difference(p.Exclude).Count(),
		Reserved: ips.Intersect(p.Reserved).Difference(p.Exclude).Count(),
		Excluded: excluded.Count(),
		InUse:    ips.Intersect(taken).Count(),
		Free:     p.Free().Difference(taken).Count(),
	}
}
