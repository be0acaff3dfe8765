package ipnet

import (
	"fmt"
	"math/rand/v2"
	"net/netip"
	"testing"

	"github.com/google/go-cmp/cmp"
)

func TestInsert(t *testing.T) {
	tests := []struct {
		name  string
		start []string
		a     string
		want  []string
	}{
		{name: "into empty", a: "10.0.0.1", want: []string{"10.0.0.1"}},
		{name: "v6 into empty", a: "fd00::1", want: []string{"fd00::1"}},
		{name: "already in", start: []string{"10.0.0.1-10.0.0.5"}, a: "10.0.0.3", want: []string{"10.0.0.1-10.0.0.5"}},
		{name: "extends end", start: []string{"10.0.0.1-10.0.0.5"}, a: "10.0.0.6", want: []string{"10.0.0.1-10.0.0.6"}},
		{name: "extends start", start: []string{"10.0.0.1-10.0.0.5"}, a: "10.0.0.0", want: []string{"10.0.0.0-10.0.0.5"}},
		{name: "fills gap", start: []string{"10.0.0.1-10.0.0.5", "10.0.0.7-10.0.0.9"}, a: "10.0.0.6", want: []string{"10.0.0.1-10.0.0.9"}},
		{name: "new before", start: []string{"10.0.0.5"}, a: "10.0.0.1", want: []string{"10.0.0.1", "10.0.0.5"}},
		{name: "new after", start: []string{"10.0.0.5"}, a: "10.0.0.9", want: []string{"10.0.0.5", "10.0.0.9"}},
		{name: "new between", start: []string{"10.0.0.1", "10.0.0.9"}, a: "10.0.0.5", want: []string{"10.0.0.1", "10.0.0.5", "10.0.0.9"}},
		{name: "v4 last address", start: []string{"255.255.255.254"}, a: "255.255.255.255", want: []string{"255.255.255.254-255.255.255.255"}},
		{name: "v4 first address", start: []string{"0.0.0.1"}, a: "0.0.0.0", want: []string{"0.0.0.0-0.0.0.1"}},
		{name: "v6 last address", start: []string{"::1"}, a: "ffff:ffff:ffff:ffff:ffff:ffff:ffff:ffff", want: []string{"::1", "ffff:ffff:ffff:ffff:ffff:ffff:ffff:ffff"}},
		{name: "v6 across 64-bit boundary", start: []string{"fd00::ffff:ffff:ffff:ffff"}, a: "fd00:0:0:1::", want: []string{"fd00::ffff:ffff:ffff:ffff-fd00:0:0:1::"}},
		{name: "other family ignored", start: []string{"10.0.0.1"}, a: "fd00::1", want: []string{"10.0.0.1"}},
		{name: "mapped is another family", start: []string{"10.0.0.1"}, a: "::ffff:10.0.0.2", want: []string{"10.0.0.1"}},
		{name: "zone ignored", start: []string{"fe80::1"}, a: "fe80::2%eth0", want: []string{"fe80::1-fe80::2"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			s := set(t, tt.start...)
			s.Insert(addr(tt.a))
			checkNormalised(t, s)
			if diff := cmp.Diff(tt.want, s.Entries()); diff != "" {
				t.Errorf("after Insert(%s) (-want +got):\n%s", tt.a, diff)
			}
		})
	}
	t.Run("invalid ignored", func(t *testing.T) {
		var s Set
		s.Insert(netip.Addr{})
		if !s.IsEmpty() {
			t.Errorf("Insert(invalid) gave %s", s)
		}
	})
}

func TestRemove(t *testing.T) {
	tests := []struct {
		name  string
		start []string
		a     string
		want  []string
	}{
		{name: "from empty", a: "10.0.0.1", want: nil},
		{name: "last address", start: []string{"10.0.0.1"}, a: "10.0.0.1", want: nil},
		{name: "not in gap", start: []string{"10.0.0.1", "10.0.0.9"}, a: "10.0.0.5", want: []string{"10.0.0.1", "10.0.0.9"}},
		{name: "not after", start: []string{"10.0.0.1"}, a: "10.0.0.5", want: []string{"10.0.0.1"}},
		{name: "start", start: []string{"10.0.0.1-10.0.0.5"}, a: "10.0.0.1", want: []string{"10.0.0.2-10.0.0.5"}},
		{name: "end", start: []string{"10.0.0.1-10.0.0.5"}, a: "10.0.0.5", want: []string{"10.0.0.1-10.0.0.4"}},
		{name: "splits", start: []string{"10.0.0.1-10.0.0.5"}, a: "10.0.0.3", want: []string{"10.0.0.1-10.0.0.2", "10.0.0.4-10.0.0.5"}},
		{name: "single of many", start: []string{"10.0.0.1", "10.0.0.3", "10.0.0.5"}, a: "10.0.0.3", want: []string{"10.0.0.1", "10.0.0.5"}},
		{name: "whole v4 split", start: []string{allV4}, a: "10.0.0.0", want: []string{"0.0.0.0-9.255.255.255", "10.0.0.1-255.255.255.255"}},
		{name: "whole v6 end", start: []string{allV6}, a: "ffff:ffff:ffff:ffff:ffff:ffff:ffff:ffff", want: []string{"::-ffff:ffff:ffff:ffff:ffff:ffff:ffff:fffe"}},
		{name: "v6 across 64-bit boundary", start: []string{"fd00::ffff:ffff:ffff:ffff-fd00:0:0:1::1"}, a: "fd00:0:0:1::", want: []string{"fd00::ffff:ffff:ffff:ffff", "fd00:0:0:1::1"}},
		{name: "other family ignored", start: []string{"10.0.0.1"}, a: "::a00:1", want: []string{"10.0.0.1"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			s := set(t, tt.start...)
			s.Remove(addr(tt.a))
			checkNormalised(t, s)
			if diff := cmp.Diff(tt.want, s.Entries()); diff != "" {
				t.Errorf("after Remove(%s) (-want +got):\n%s", tt.a, diff)
			}
		})
	}
	t.Run("emptied set takes another family", func(t *testing.T) {
		s := set(t, "10.0.0.1")
		s.Remove(addr("10.0.0.1"))
		s.Insert(addr("fd00::1"))
		if s.Family() != 6 || s.String() != "fd00::1" {
			t.Errorf("got %s of family %d", s, s.Family())
		}
	})
}

// TestMutateAgainstModel applies random inserts and removes to a Set and to
// a plain bitmap and compares them, with chunks of several sizes so that
// chunks are split, emptied and dropped along the way.
func TestMutateAgainstModel(t *testing.T) {
	const universe = 4096
	base := fromAddr(addr("10.1.0.0"))
	for _, size := range []int{1, 2, 4, 128} {
		t.Run(fmt.Sprintf("chunkMax=%d", size), func(t *testing.T) {
			withChunkMax(t, size)
			rng := rand.New(rand.NewPCG(uint64(size), 42))
			var s Set
			var model [universe]bool
			for step := range 20000 {
				i := rng.IntN(universe)
				a := toAddr(base.addU64(uint64(i)), 4)
				// Bias towards inserting first and removing later, so that
				// the set both fills up and fragments.
				insert := rng.IntN(20000) > step/2
				if insert {
					s.Insert(a)
				} else {
					s.Remove(a)
				}
				model[i] = insert
				if step%1000 == 0 {
					compareWithModel(t, s, model[:], base)
				}
			}
			compareWithModel(t, s, model[:], base)
		})
	}
}

func compareWithModel(t *testing.T, s Set, model []bool, base u128) {
	t.Helper()
	checkNormalised(t, s)
	var runs []Range
	members := 0
	for i := 0; i < len(model); i++ {
		if !model[i] {
			continue
		}
		j := i
		for j+1 < len(model) && model[j+1] {
			j++
		}
		runs = append(runs, Range{toAddr(base.addU64(uint64(i)), 4), toAddr(base.addU64(uint64(j)), 4)})
		members += j - i + 1
		i = j
	}
	want, err := NewSet(runs...)
	if err != nil {
		t.Fatal(err)
	}
	if !want.Equal(s) {
		t.Fatalf("set %s, want %s", s, want)
	}
	if n, _ := s.CountUint64(); n != uint64(members) {
		t.Fatalf("Count() = %d, want %d", n, members)
	}
	for i, in := range model {
		if a := toAddr(base.addU64(uint64(i)), 4); s.Contains(a) != in {
			t.Fatalf("Contains(%s) = %v, want %v", a, !in, in)
		}
	}
}
