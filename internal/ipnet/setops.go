package ipnet

import (
	"fmt"
	"net/netip"
)

// Union returns the addresses in s or o. An empty operand goes with either
// family; two non-empty sets of different families are an error, because a
// Set holds one family.
func (s Set) Union(o Set) (Set, error) {
	switch {
	case o.IsEmpty():
		return s.Clone(), nil
	case s.IsEmpty():
		return o.Clone(), nil
	case s.fam != o.fam:
		return Set{}, fmt.Errorf("cannot unite an IPv%d set with an IPv%d set", s.fam, o.fam)
	}
	a, b := s.flat(), o.flat()
	out := make([]span, 0, len(a)+len(b))
	for len(a) > 0 || len(b) > 0 {
		// Feed the range that starts first, so that out stays sorted.
		if len(b) == 0 || (len(a) > 0 && !b[0].lo.less(a[0].lo)) {
			out, a = appendMerged(out, a[0]), a[1:]
		} else {
			out, b = appendMerged(out, b[0]), b[1:]
		}
	}
	return fromSpans(s.fam, out), nil
}

// Intersect returns the addresses in both s and o; sets of different
// families have none in common.
func (s Set) Intersect(o Set) Set {
	if s.IsEmpty() || o.IsEmpty() || s.fam != o.fam {
		return Set{}
	}
	a, b := s.flat(), o.flat()
	var out []span
	for len(a) > 0 && len(b) > 0 {
		lo, hi := maxOf(a[0].lo, b[0].lo), minOf(a[0].hi, b[0].hi)
		if !hi.less(lo) {
			out = append(out, span{lo: lo, hi: hi})
		}
		// The range that ends first cannot meet anything further on.
		if a[0].hi.less(b[0].hi) {
			a = a[1:]
		} else {
			b = b[1:]
		}
	}
	return fromSpans(s.fam, out)
}

// Difference returns the addresses in s but not in o; a set of the other
// family removes nothing.
func (s Set) Difference(o Set) Set {
	if s.IsEmpty() || o.IsEmpty() || s.fam != o.fam {
		return s.Clone()
	}
	b := o.flat()
	var out []span
	for _, cur := range s.flat() {
		out, b = subtract(out, cur, b)
	}
	return fromSpans(s.fam, out)
}

// subtract appends what is left of cur after removing the sorted ranges in
// b, and returns b without the ranges that end before cur does, since later
// ranges of s cannot meet them.
func subtract(out []span, cur span, b []span) ([]span, []span) {
	for len(b) > 0 && b[0].hi.less(cur.lo) {
		b = b[1:]
	}
	for len(b) > 0 && !cur.hi.less(b[0].lo) {
		if cur.lo.less(b[0].lo) {
			out = append(out, span{lo: cur.lo, hi: b[0].lo.dec()})
		}
		if !b[0].hi.less(cur.hi) {
			// b[0] covers the rest of cur and may reach into the next range.
			return out, b
		}
		cur.lo, _ = b[0].hi.inc() // cannot overflow: b[0].hi < cur.hi
		b = b[1:]
	}
	return append(out, cur), b
}

// Nth returns the i-th address of the set in ascending order, counting from
// 0, and false when the set has no more than i addresses.
func (s Set) Nth(i uint64) (netip.Addr, bool) {
	_, _, v, ok := s.locate(i)
	if !ok {
		return netip.Addr{}, false
	}
	return toAddr(v, s.fam), true
}

// locate returns the chunk, range and address number of the i-th address.
// It walks the ranges, which is fine for its callers: they call it once per
// query, not once per address.
func (s Set) locate(i uint64) (ci, si int, v u128, ok bool) {
	for ci, c := range s.chunks {
		for si, sp := range c {
			last := sp.hi.sub(sp.lo) // size-1, so that 2^64 addresses fit
			if last.hi != 0 || i <= last.lo {
				return ci, si, sp.lo.addU64(i), true
			}
			i -= last.lo + 1 // cannot overflow: i > last.lo
		}
	}
	return 0, 0, u128{}, false
}

// Take returns the first n addresses of the set, or all of them if it has
// fewer.
func (s Set) Take(n uint64) Set {
	var out []span
	for _, c := range s.chunks {
		for _, sp := range c {
			if n == 0 {
				return fromSpans(s.fam, out)
			}
			last := sp.hi.sub(sp.lo)
			if last.hi == 0 && last.lo < n {
				out = append(out, sp)
				n -= last.lo + 1
				continue
			}
			out = append(out, span{lo: sp.lo, hi: sp.lo.addU64(n - 1)})
			n = 0
		}
	}
	return fromSpans(s.fam, out)
}
