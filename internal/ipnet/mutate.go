package ipnet

import (
	"net/netip"
	"slices"
)

// Insert adds a to the set in place, merging it with the ranges it touches,
// so that marking addresses in use one by one keeps the set compact. Its
// cost is O(log n) plus shifting one chunk of at most chunkMax ranges.
//
// A Set holds one family: an address of the other family than a non-empty
// set, or an invalid address, is ignored. A zone is ignored.
func (s *Set) Insert(a netip.Addr) {
	fam := Family(a)
	switch {
	case fam == 0:
		return
	case s.IsEmpty():
		v := fromAddr(a)
		*s = Set{fam: fam, chunks: [][]span{{{lo: v, hi: v}}}}
		return
	case fam != s.fam:
		return
	}
	v := fromAddr(a)
	ci, si := s.seek(v)
	hasNext := ci < len(s.chunks)
	if hasNext && !v.less(s.chunks[ci][si].lo) {
		return // already present
	}
	pci, psi, hasPrev := s.before(ci, si)
	joinPrev := hasPrev && touches(s.chunks[pci][psi], v)
	joinNext := false
	if hasNext {
		after, overflow := v.inc()
		joinNext = !overflow && after == s.chunks[ci][si].lo
	}
	switch {
	case joinPrev && joinNext: // v fills the gap between two ranges
		s.chunks[pci][psi].hi = s.chunks[ci][si].hi
		s.deleteAt(ci, si)
	case joinPrev:
		s.chunks[pci][psi].hi = v
	case joinNext:
		s.chunks[ci][si].lo = v
	default:
		s.insertAt(ci, si, span{lo: v, hi: v})
	}
}

// Remove deletes a from the set in place, splitting the range that holds it
// when a is inside it. Addresses not in the set are ignored.
func (s *Set) Remove(a netip.Addr) {
	if s.IsEmpty() || Family(a) != s.fam {
		return
	}
	v := fromAddr(a)
	ci, si := s.seek(v)
	if ci == len(s.chunks) {
		return
	}
	sp := &s.chunks[ci][si]
	switch {
	case v.less(sp.lo):
		return // in a gap
	case sp.lo == sp.hi:
		s.deleteAt(ci, si)
	case v == sp.lo:
		sp.lo, _ = v.inc() // cannot overflow: v < sp.hi
	case v == sp.hi:
		sp.hi = v.dec() // cannot underflow: v > sp.lo
	default:
		after, _ := v.inc()
		rest := span{lo: after, hi: sp.hi}
		sp.hi = v.dec()
		s.insertAt(ci, si+1, rest)
	}
}

// before returns the position of the range just before position (ci, si),
// which may be in the previous chunk.
func (s *Set) before(ci, si int) (int, int, bool) {
	switch {
	case si > 0:
		return ci, si - 1, true
	case ci > 0:
		return ci - 1, len(s.chunks[ci-1]) - 1, true
	}
	return 0, 0, false
}

// insertAt inserts sp at position (ci, si); ci == len(s.chunks) means after
// the last range. A chunk that grows past chunkMax is split in two, so that
// no insert ever shifts more than chunkMax ranges.
func (s *Set) insertAt(ci, si int, sp span) {
	if ci == len(s.chunks) {
		ci = len(s.chunks) - 1
		si = len(s.chunks[ci])
	}
	c := slices.Insert(s.chunks[ci], si, sp)
	if len(c) <= chunkMax {
		s.chunks[ci] = c
		return
	}
	// The right half gets its own array; the left half keeps the old one,
	// whose tail nothing refers to any more, as room to grow.
	half := len(c) / 2
	right := make([]span, len(c)-half, chunkMax)
	copy(right, c[half:])
	s.chunks[ci] = c[:half]
	s.chunks = slices.Insert(s.chunks, ci+1, right)
}

// deleteAt removes the range at (ci, si), dropping its chunk if it empties.
func (s *Set) deleteAt(ci, si int) {
	c := slices.Delete(s.chunks[ci], si, si+1)
	if len(c) > 0 {
		s.chunks[ci] = c
		return
	}
	s.chunks = slices.Delete(s.chunks, ci, ci+1)
	if len(s.chunks) == 0 {
		s.chunks = nil
	}
}
