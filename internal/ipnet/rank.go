package ipnet

import (
	"math"
	"net/netip"
)

// Rank returns how many addresses of the set are smaller than a (saturated
// at the largest uint64), and whether a itself is in the set. It is the
// inverse of Nth for members: s.Nth(r) == a when Rank(a) == (r, true). It
// walks the ranges below a; callers use it once per allocation.
func (s Set) Rank(a netip.Addr) (uint64, bool) {
	if s.IsEmpty() || Family(a) != s.fam {
		return 0, false
	}
	v := fromAddr(a)
	var n uint64
	add := func(k u128) {
		// k is a range size minus one; saturate rather than wrap.
		if k.hi != 0 || n > math.MaxUint64-k.lo-1 || k.lo == math.MaxUint64 {
			n = math.MaxUint64
			return
		}
		n += k.lo + 1
	}
	for _, c := range s.chunks {
		for _, sp := range c {
			if v.less(sp.lo) {
				return n, false
			}
			if !sp.hi.less(v) { // sp.lo <= v <= sp.hi
				if v != sp.lo {
					add(v.dec().sub(sp.lo))
				}
				return n, true
			}
			add(sp.hi.sub(sp.lo))
		}
	}
	return n, false
}
