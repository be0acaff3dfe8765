package ipnet

import (
	"net/netip"
	"testing"
)

func addr(s string) netip.Addr     { return netip.MustParseAddr(s) }
func prefix(s string) netip.Prefix { return netip.MustParsePrefix(s) }

// set parses entries or fails the test.
func set(t testing.TB, entries ...string) Set {
	t.Helper()
	s, err := ParseSet(entries)
	if err != nil {
		t.Fatalf("ParseSet(%q): %v", entries, err)
	}
	return s
}

// withChunkMax makes chunks tiny for one test, so that small sets already
// exercise splitting and merging of chunks.
func withChunkMax(t testing.TB, n int) {
	old := chunkMax
	chunkMax = n
	t.Cleanup(func() { chunkMax = old })
}

// checkNormalised fails unless s keeps its invariants: no empty chunk, and
// ranges that are valid, sorted, disjoint and non-adjacent across chunks.
func checkNormalised(t testing.TB, s Set) {
	t.Helper()
	if s.chunks != nil && len(s.chunks) == 0 {
		t.Errorf("empty set holds a non-nil chunk list")
	}
	if !s.IsEmpty() && s.fam != 4 && s.fam != 6 {
		t.Errorf("family %d", s.fam)
	}
	var prev span
	first := true
	for ci, c := range s.chunks {
		if len(c) == 0 || len(c) > chunkMax {
			t.Fatalf("chunk %d holds %d ranges, want 1 to %d", ci, len(c), chunkMax)
		}
		for si, sp := range c {
			if sp.hi.less(sp.lo) {
				t.Fatalf("range %d/%d is reversed: %v", ci, si, sp)
			}
			if s.fam == 4 && (sp.hi.hi != 0 || sp.hi.lo > 0xffffffff) {
				t.Fatalf("range %d/%d is out of IPv4 space: %v", ci, si, sp)
			}
			if !first && touches(prev, sp.lo) {
				t.Fatalf("range %d/%d %v overlaps or touches the previous one %v; set %s", ci, si, sp, prev, s)
			}
			prev, first = sp, false
		}
	}
}
