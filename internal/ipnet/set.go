package ipnet

import (
	"fmt"
	"math/big"
	"net/netip"
	"slices"
	"strings"
)

// chunkMax bounds how many ranges one chunk of a Set holds. Chunking keeps
// Insert and Remove cheap on fragmented sets: they shift at most one chunk
// instead of the whole set, so building a set of 65k scattered addresses one
// at a time does not degrade to quadratic copying. It is a variable only so
// that tests can make chunks tiny and exercise splitting on small sets.
var chunkMax = 128

// span is an inclusive range of address numbers, lo <= hi.
type span struct{ lo, hi u128 }

// Set is a set of addresses of one family, held as sorted, disjoint,
// non-adjacent ranges. The zero Set is empty and ready to use.
//
// Methods with a value receiver never modify the set, and the sets they
// return never share storage with their operands. Insert and Remove modify
// the set in place; like a slice, a Set copied by assignment shares storage
// with the original, so Clone it first if the original must stay unchanged.
type Set struct {
	fam int // 4 or 6; meaningless while chunks is empty
	// chunks split the ranges into short runs; concatenated they are sorted,
	// disjoint and non-adjacent, and no chunk is empty.
	chunks [][]span
}

// NewSet returns the set of all addresses in the given ranges, which may
// overlap or touch. All ranges must be of one family.
func NewSet(ranges ...Range) (Set, error) {
	spans := make([]span, 0, len(ranges))
	fam := 0
	for _, r := range ranges {
		if err := r.validate(); err != nil {
			return Set{}, err
		}
		if fam == 0 {
			fam = Family(r.First)
		} else if Family(r.First) != fam {
			return Set{}, fmt.Errorf("range %s is IPv%d but earlier ranges are IPv%d; a set holds one family", r, Family(r.First), fam)
		}
		spans = append(spans, span{lo: fromAddr(r.First), hi: fromAddr(r.Last)})
	}
	return fromSpans(fam, normalise(spans)), nil
}

// SetOf returns every address of the prefix, after masking it; it is empty
// for an invalid prefix.
func SetOf(p netip.Prefix) Set {
	if !p.IsValid() {
		return Set{}
	}
	p = p.Masked()
	fam := Family(p.Addr())
	lo := fromAddr(p.Addr())
	hostBits := 128 - p.Bits()
	if fam == 4 {
		hostBits = 32 - p.Bits()
	}
	return fromSpans(fam, []span{{lo: lo, hi: orLowBits(lo, hostBits)}})
}

// orLowBits sets the n lowest bits of v, which turns a network address into
// the last address of its prefix.
func orLowBits(v u128, n int) u128 {
	switch {
	case n >= 128:
		return maxU128
	case n >= 64:
		return u128{hi: v.hi | (1<<(n-64) - 1), lo: ^uint64(0)}
	}
	return u128{hi: v.hi, lo: v.lo | (1<<n - 1)}
}

// normalise sorts spans and merges the ones that overlap or touch, reusing
// the slice.
func normalise(spans []span) []span {
	slices.SortFunc(spans, func(a, b span) int {
		switch {
		case a.lo.less(b.lo):
			return -1
		case b.lo.less(a.lo):
			return 1
		}
		return 0
	})
	out := spans[:0]
	for _, sp := range spans {
		out = appendMerged(out, sp)
	}
	return out
}

// appendMerged appends sp to a normalised list whose last range starts at
// or before sp, merging the two when they overlap or touch.
func appendMerged(out []span, sp span) []span {
	if n := len(out); n > 0 && touches(out[n-1], sp.lo) {
		out[n-1].hi = maxOf(out[n-1].hi, sp.hi)
		return out
	}
	return append(out, sp)
}

// touches reports whether an address v >= prev.lo overlaps prev or
// directly follows it.
func touches(prev span, v u128) bool {
	if !prev.hi.less(v) {
		return true
	}
	next, overflow := prev.hi.inc()
	return !overflow && next == v
}

// fromSpans builds a Set that takes ownership of normalised spans. Chunks
// start half full so that the first inserts into them do not split them, and
// their capacity is capped so that growing one chunk never writes into the
// next one's part of the shared array.
func fromSpans(fam int, spans []span) Set {
	if len(spans) == 0 {
		return Set{}
	}
	fill := max(chunkMax/2, 1)
	chunks := make([][]span, 0, (len(spans)+fill-1)/fill)
	for i := 0; i < len(spans); i += fill {
		j := min(i+fill, len(spans))
		chunks = append(chunks, spans[i:j:j])
	}
	return Set{fam: fam, chunks: chunks}
}

// flat returns all spans in order. With a single chunk it returns that chunk
// itself, so callers must treat the result as read-only.
func (s Set) flat() []span {
	if len(s.chunks) == 1 {
		return s.chunks[0]
	}
	out := make([]span, 0, s.numSpans())
	for _, c := range s.chunks {
		out = append(out, c...)
	}
	return out
}

func (s Set) numSpans() int {
	n := 0
	for _, c := range s.chunks {
		n += len(c)
	}
	return n
}

// Clone returns a copy of s that shares no storage with it.
func (s Set) Clone() Set {
	return fromSpans(s.fam, slices.Clone(s.flat()))
}

// Family returns 4 or 6, or 0 when the set is empty.
func (s Set) Family() int {
	if s.IsEmpty() {
		return 0
	}
	return s.fam
}

// IsEmpty reports whether the set holds no address.
func (s Set) IsEmpty() bool { return len(s.chunks) == 0 }

// Ranges returns the set as sorted, disjoint, non-adjacent ranges. The slice
// is the caller's to keep.
func (s Set) Ranges() []Range {
	var out []Range
	for _, c := range s.chunks {
		for _, sp := range c {
			out = append(out, Range{First: toAddr(sp.lo, s.fam), Last: toAddr(sp.hi, s.fam)})
		}
	}
	return out
}

// Entries returns the set in the shortest list form ParseSet accepts, for
// writing it back into a resource spec; it is nil for an empty set.
func (s Set) Entries() []string {
	var out []string
	for _, r := range s.Ranges() {
		out = append(out, r.String())
	}
	return out
}

// String returns the entries joined by commas.
func (s Set) String() string { return strings.Join(s.Entries(), ",") }

// seek returns the position of the first range whose end is at or after v,
// with ci == len(s.chunks) when there is none. It costs O(log n).
func (s Set) seek(v u128) (ci, si int) {
	lo, hi := 0, len(s.chunks)
	for lo < hi {
		m := int(uint(lo+hi) >> 1)
		c := s.chunks[m]
		if c[len(c)-1].hi.less(v) {
			lo = m + 1
		} else {
			hi = m
		}
	}
	if lo == len(s.chunks) {
		return lo, 0
	}
	c := s.chunks[lo]
	l, h := 0, len(c)
	for l < h {
		m := int(uint(l+h) >> 1)
		if c[m].hi.less(v) {
			l = m + 1
		} else {
			h = m
		}
	}
	return lo, l
}

// find returns the range holding v, if any.
func (s Set) find(v u128) (span, bool) {
	ci, si := s.seek(v)
	if ci == len(s.chunks) {
		return span{}, false
	}
	sp := s.chunks[ci][si]
	return sp, !v.less(sp.lo)
}

// Contains reports whether a is in the set, in O(log n). Addresses of the
// other family are never in it; a zone is ignored.
func (s Set) Contains(a netip.Addr) bool {
	if s.IsEmpty() || Family(a) != s.fam {
		return false
	}
	_, ok := s.find(fromAddr(a))
	return ok
}

// Equal reports whether both sets hold the same addresses.
func (s Set) Equal(o Set) bool {
	if s.IsEmpty() || o.IsEmpty() {
		return s.IsEmpty() == o.IsEmpty()
	}
	return s.fam == o.fam && slices.Equal(s.flat(), o.flat())
}

// Count returns the exact number of addresses, which for IPv6 may be as
// large as 2^128.
func (s Set) Count() *big.Int {
	return s.count().big()
}

// CountUint64 returns the number of addresses, with ok false when it does
// not fit in a uint64.
func (s Set) CountUint64() (n uint64, ok bool) {
	return s.count().uint64()
}

func (s Set) count() counter {
	var c counter
	for _, ch := range s.chunks {
		for _, sp := range ch {
			c.addSpan(sp.lo, sp.hi)
		}
	}
	return c
}
