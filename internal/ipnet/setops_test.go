package ipnet

import (
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"
)

const (
	allV4 = "0.0.0.0-255.255.255.255"
	allV6 = "::-ffff:ffff:ffff:ffff:ffff:ffff:ffff:ffff"
)

// setOpCases are shared by the Union, Intersect and Difference tests: each
// case gives the expected result of all three operations.
var setOpCases = []struct {
	name               string
	a, b               []string
	union, inter, diff []string
}{
	{name: "both empty"},
	{name: "empty b", a: []string{"10.0.0.1-10.0.0.5"}, union: []string{"10.0.0.1-10.0.0.5"}, diff: []string{"10.0.0.1-10.0.0.5"}},
	{name: "empty a", b: []string{"10.0.0.1-10.0.0.5"}, union: []string{"10.0.0.1-10.0.0.5"}},
	{
		name: "disjoint", a: []string{"10.0.0.1-10.0.0.3"}, b: []string{"10.0.0.7-10.0.0.9"},
		union: []string{"10.0.0.1-10.0.0.3", "10.0.0.7-10.0.0.9"}, diff: []string{"10.0.0.1-10.0.0.3"},
	},
	{
		name: "touching ends", a: []string{"10.0.0.1-10.0.0.5"}, b: []string{"10.0.0.6-10.0.0.9"},
		union: []string{"10.0.0.1-10.0.0.9"}, diff: []string{"10.0.0.1-10.0.0.5"},
	},
	{
		name: "sharing one address", a: []string{"10.0.0.1-10.0.0.5"}, b: []string{"10.0.0.5-10.0.0.9"},
		union: []string{"10.0.0.1-10.0.0.9"}, inter: []string{"10.0.0.5"}, diff: []string{"10.0.0.1-10.0.0.4"},
	},
	{
		name: "b inside a", a: []string{"10.0.0.1-10.0.0.9"}, b: []string{"10.0.0.3-10.0.0.4"},
		union: []string{"10.0.0.1-10.0.0.9"}, inter: []string{"10.0.0.3-10.0.0.4"}, diff: []string{"10.0.0.1-10.0.0.2", "10.0.0.5-10.0.0.9"},
	},
	{
		name: "a inside b", a: []string{"10.0.0.3-10.0.0.4"}, b: []string{"10.0.0.1-10.0.0.9"},
		union: []string{"10.0.0.1-10.0.0.9"}, inter: []string{"10.0.0.3-10.0.0.4"},
	},
	{
		name: "equal", a: []string{"10.0.0.1-10.0.0.9"}, b: []string{"10.0.0.1-10.0.0.9"},
		union: []string{"10.0.0.1-10.0.0.9"}, inter: []string{"10.0.0.1-10.0.0.9"},
	},
	{
		name: "b spans two ranges of a", a: []string{"10.0.0.1-10.0.0.5", "10.0.0.8-10.0.0.12"}, b: []string{"10.0.0.4-10.0.0.9"},
		union: []string{"10.0.0.1-10.0.0.12"}, inter: []string{"10.0.0.4-10.0.0.5", "10.0.0.8-10.0.0.9"},
		diff: []string{"10.0.0.1-10.0.0.3", "10.0.0.10-10.0.0.12"},
	},
	{
		name: "many holes", a: []string{"10.0.0.0-10.0.0.20"}, b: []string{"10.0.0.0", "10.0.0.5", "10.0.0.7-10.0.0.8", "10.0.0.20"},
		union: []string{"10.0.0.0-10.0.0.20"}, inter: []string{"10.0.0.0", "10.0.0.5", "10.0.0.7-10.0.0.8", "10.0.0.20"},
		diff: []string{"10.0.0.1-10.0.0.4", "10.0.0.6", "10.0.0.9-10.0.0.19"},
	},
	{
		name: "whole v4 minus edges", a: []string{allV4}, b: []string{"0.0.0.0", "255.255.255.255"},
		union: []string{allV4}, inter: []string{"0.0.0.0", "255.255.255.255"}, diff: []string{"0.0.0.1-255.255.255.254"},
	},
	{
		name: "whole v4 with itself", a: []string{allV4}, b: []string{allV4},
		union: []string{allV4}, inter: []string{allV4},
	},
	{
		name: "v4 halves", a: []string{"0.0.0.0-127.255.255.255"}, b: []string{"128.0.0.0-255.255.255.255"},
		union: []string{allV4}, diff: []string{"0.0.0.0-127.255.255.255"},
	},
	{
		name: "whole v6 minus edges", a: []string{allV6}, b: []string{"::", "ffff:ffff:ffff:ffff:ffff:ffff:ffff:ffff"},
		union: []string{allV6}, inter: []string{"::", "ffff:ffff:ffff:ffff:ffff:ffff:ffff:ffff"},
		diff: []string{"::1-ffff:ffff:ffff:ffff:ffff:ffff:ffff:fffe"},
	},
	{
		name: "v6 halves", a: []string{"::-7fff:ffff:ffff:ffff:ffff:ffff:ffff:ffff"}, b: []string{"8000::-ffff:ffff:ffff:ffff:ffff:ffff:ffff:ffff"},
		union: []string{allV6}, diff: []string{"::-7fff:ffff:ffff:ffff:ffff:ffff:ffff:ffff"},
	},
	{
		name: "v6 across 64-bit boundary", a: []string{"fd00::ffff:ffff:ffff:fff0-fd00:0:0:1::10"}, b: []string{"fd00:0:0:1::"},
		union: []string{"fd00::ffff:ffff:ffff:fff0-fd00:0:0:1::10"}, inter: []string{"fd00:0:0:1::"},
		diff: []string{"fd00::ffff:ffff:ffff:fff0-fd00::ffff:ffff:ffff:ffff", "fd00:0:0:1::1-fd00:0:0:1::10"},
	},
}

func TestSetOps(t *testing.T) {
	for _, tt := range setOpCases {
		t.Run(tt.name, func(t *testing.T) {
			a, b := set(t, tt.a...), set(t, tt.b...)
			u, err := a.Union(b)
			if err != nil {
				t.Fatalf("Union: %v", err)
			}
			results := []struct {
				op   string
				got  Set
				want []string
			}{
				{"Union", u, tt.union},
				{"Intersect", a.Intersect(b), tt.inter},
				{"Difference", a.Difference(b), tt.diff},
			}
			for _, r := range results {
				checkNormalised(t, r.got)
				if diff := cmp.Diff(r.want, r.got.Entries()); diff != "" {
					t.Errorf("%s mismatch (-want +got):\n%s", r.op, diff)
				}
			}
			// Union and Intersect commute.
			u2, _ := b.Union(a)
			if !u2.Equal(u) || !b.Intersect(a).Equal(a.Intersect(b)) {
				t.Errorf("operations do not commute")
			}
			// The operands stay as they were.
			if diff := cmp.Diff(set(t, tt.a...).Entries(), a.Entries()); diff != "" {
				t.Errorf("operand changed (-want +got):\n%s", diff)
			}
		})
	}
}

func TestSetOpsAcrossFamilies(t *testing.T) {
	v4, v6 := set(t, "10.0.0.1-10.0.0.5"), set(t, "fd00::1-fd00::5")
	if _, err := v4.Union(v6); err == nil || !strings.Contains(err.Error(), "IPv4") || !strings.Contains(err.Error(), "IPv6") {
		t.Errorf("Union across families: error = %v", err)
	}
	if got := v4.Intersect(v6); !got.IsEmpty() {
		t.Errorf("Intersect across families = %s, want empty", got)
	}
	if got := v4.Difference(v6); !got.Equal(v4) {
		t.Errorf("Difference across families = %s, want %s", got, v4)
	}
	if got, err := v6.Union(Set{}); err != nil || !got.Equal(v6) {
		t.Errorf("Union with empty = %s, %v", got, err)
	}
}

// TestResultsDoNotShareStorage guards the promise that results of value
// methods can be mutated without touching their operands.
func TestResultsDoNotShareStorage(t *testing.T) {
	a := set(t, "10.0.0.1-10.0.0.5", "10.0.0.9")
	results := map[string]Set{
		"Clone":      a.Clone(),
		"Difference": a.Difference(Set{}),
		"Intersect":  a.Intersect(a),
		"Take":       a.Take(100),
	}
	results["Union"], _ = a.Union(Set{})
	for name, r := range results {
		t.Run(name, func(t *testing.T) {
			r.Remove(addr("10.0.0.3"))
			r.Insert(addr("10.0.0.7"))
			r.Remove(addr("10.0.0.9"))
			if got := a.String(); got != "10.0.0.1-10.0.0.5,10.0.0.9" {
				t.Errorf("operand changed to %s", got)
			}
		})
	}
}

func TestNth(t *testing.T) {
	s := set(t, "10.0.0.1-10.0.0.3", "10.0.0.10", "10.0.1.0-10.0.1.1")
	want := []string{"10.0.0.1", "10.0.0.2", "10.0.0.3", "10.0.0.10", "10.0.1.0", "10.0.1.1"}
	for i, w := range want {
		t.Run(w, func(t *testing.T) {
			got, ok := s.Nth(uint64(i))
			if !ok || got != addr(w) {
				t.Errorf("Nth(%d) = %s, %v; want %s", i, got, ok, w)
			}
		})
	}
	tests := []struct {
		name string
		s    Set
		i    uint64
		want string // "" when past the end
	}{
		{name: "past end", s: s, i: uint64(len(want))},
		{name: "empty", s: Set{}, i: 0},
		{name: "v6 beyond 2^32", s: SetOf(prefix("fd00::/64")), i: 1<<40 + 5, want: "fd00::100:0:5"},
		{name: "v6 last of 2^64", s: SetOf(prefix("fd00::/64")), i: ^uint64(0), want: "fd00::ffff:ffff:ffff:ffff"},
		{name: "huge set, second range", s: set(t, "fd00::", "fd01::-fd01::ffff:ffff:ffff:ffff"), i: ^uint64(0), want: "fd01::ffff:ffff:ffff:fffe"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, ok := tt.s.Nth(tt.i)
			if tt.want == "" {
				if ok {
					t.Errorf("Nth(%d) = %s, want none", tt.i, got)
				}
				return
			}
			if !ok || got != addr(tt.want) {
				t.Errorf("Nth(%d) = %s, %v; want %s", tt.i, got, ok, tt.want)
			}
		})
	}
}

func TestTake(t *testing.T) {
	s := set(t, "10.0.0.1-10.0.0.3", "10.0.0.10", "10.0.1.0-10.0.1.1")
	tests := []struct {
		name string
		s    Set
		n    uint64
		want []string
	}{
		{name: "none", s: s, n: 0, want: nil},
		{name: "part of first", s: s, n: 2, want: []string{"10.0.0.1-10.0.0.2"}},
		{name: "exactly first", s: s, n: 3, want: []string{"10.0.0.1-10.0.0.3"}},
		{name: "into third", s: s, n: 5, want: []string{"10.0.0.1-10.0.0.3", "10.0.0.10", "10.0.1.0"}},
		{name: "all", s: s, n: 6, want: s.Entries()},
		{name: "more than all", s: s, n: 1000, want: s.Entries()},
		{name: "empty", s: Set{}, n: 5, want: nil},
		{name: "v6 /64", s: SetOf(prefix("fd00::/64")), n: 1 << 32, want: []string{"fd00::-fd00::ffff:ffff"}},
		{name: "whole v6, max n", s: SetOf(prefix("::/0")), n: ^uint64(0), want: []string{"::-::ffff:ffff:ffff:fffe"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got := tt.s.Take(tt.n)
			checkNormalised(t, got)
			if diff := cmp.Diff(tt.want, got.Entries()); diff != "" {
				t.Errorf("Take(%d) mismatch (-want +got):\n%s", tt.n, diff)
			}
		})
	}
}
