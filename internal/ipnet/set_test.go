package ipnet

import (
	"math/big"
	"net/netip"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"
)

func TestParseSetNormalises(t *testing.T) {
	tests := []struct {
		name    string
		entries []string
		want    []string
		fam     int
	}{
		{name: "nil", entries: nil, want: nil, fam: 0},
		{name: "single", entries: []string{"10.0.0.1"}, want: []string{"10.0.0.1"}, fam: 4},
		{name: "sorted", entries: []string{"10.0.0.9", "10.0.0.1"}, want: []string{"10.0.0.1", "10.0.0.9"}, fam: 4},
		{name: "adjacent singles", entries: []string{"10.0.0.2", "10.0.0.1", "10.0.0.3"}, want: []string{"10.0.0.1-10.0.0.3"}, fam: 4},
		{name: "adjacent ranges", entries: []string{"10.0.0.1-10.0.0.5", "10.0.0.6-10.0.0.9"}, want: []string{"10.0.0.1-10.0.0.9"}, fam: 4},
		{name: "overlap", entries: []string{"10.0.0.1-10.0.0.5", "10.0.0.3-10.0.0.9"}, want: []string{"10.0.0.1-10.0.0.9"}, fam: 4},
		{name: "contained", entries: []string{"10.0.0.1-10.0.0.9", "10.0.0.3-10.0.0.4"}, want: []string{"10.0.0.1-10.0.0.9"}, fam: 4},
		{name: "duplicates", entries: []string{"10.0.0.1", "10.0.0.1"}, want: []string{"10.0.0.1"}, fam: 4},
		{name: "gap kept", entries: []string{"10.0.0.1-10.0.0.5", "10.0.0.7"}, want: []string{"10.0.0.1-10.0.0.5", "10.0.0.7"}, fam: 4},
		{name: "across octet", entries: []string{"10.0.0.255", "10.0.1.0"}, want: []string{"10.0.0.255-10.0.1.0"}, fam: 4},
		{name: "whole v4", entries: []string{"128.0.0.0-255.255.255.255", "0.0.0.0-127.255.255.255"}, want: []string{"0.0.0.0-255.255.255.255"}, fam: 4},
		{name: "v6", entries: []string{"fd00::5", "fd00::1-fd00::4"}, want: []string{"fd00::1-fd00::5"}, fam: 6},
		{name: "v6 across 64-bit boundary", entries: []string{"fd00::ffff:ffff:ffff:ffff", "fd00:0:0:1::"}, want: []string{"fd00::ffff:ffff:ffff:ffff-fd00:0:0:1::"}, fam: 6},
		{name: "whole v6", entries: []string{"8000::-ffff:ffff:ffff:ffff:ffff:ffff:ffff:ffff", "::-7fff:ffff:ffff:ffff:ffff:ffff:ffff:ffff"}, want: []string{"::-ffff:ffff:ffff:ffff:ffff:ffff:ffff:ffff"}, fam: 6},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			s := set(t, tt.entries...)
			checkNormalised(t, s)
			if diff := cmp.Diff(tt.want, s.Entries()); diff != "" {
				t.Errorf("Entries() mismatch (-want +got):\n%s", diff)
			}
			if s.Family() != tt.fam {
				t.Errorf("Family() = %d, want %d", s.Family(), tt.fam)
			}
			if s.IsEmpty() != (tt.want == nil) {
				t.Errorf("IsEmpty() = %v", s.IsEmpty())
			}
		})
	}
}

func TestParseSetErrors(t *testing.T) {
	tests := []struct {
		name    string
		entries []string
		wantErr []string
	}{
		{name: "bad entry", entries: []string{"10.0.0.1", "10.0.0.x"}, wantErr: []string{"entry 1", `"10.0.0.x"`, "not an IP address"}},
		{name: "reversed entry", entries: []string{"10.0.0.9-10.0.0.1"}, wantErr: []string{"entry 0", `"10.0.0.9-10.0.0.1"`, "after its end"}},
		{name: "mixed across entries", entries: []string{"10.0.0.1", "10.0.0.2", "fd00::1"}, wantErr: []string{"entry 2", `"fd00::1"`, `"10.0.0.1"`, "one family"}},
		{name: "mixed v6 first", entries: []string{"fd00::1", "10.0.0.1"}, wantErr: []string{`"10.0.0.1" is IPv4`, `"fd00::1" is IPv6`}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			s, err := ParseSet(tt.entries)
			if err == nil {
				t.Fatalf("ParseSet(%q) = %s, want error", tt.entries, s)
			}
			for _, sub := range tt.wantErr {
				if !strings.Contains(err.Error(), sub) {
					t.Errorf("error %q does not contain %q", err, sub)
				}
			}
		})
	}
}

func TestParseSetWrapsEntryError(t *testing.T) {
	_, entryErr := ParseRange("foo")
	_, err := ParseSet([]string{"foo"})
	if err == nil || err.Error() != "entry 0: "+entryErr.Error() {
		t.Fatalf("ParseSet error = %v, want the entry error wrapped", err)
	}
}

func TestParseSetIn(t *testing.T) {
	tests := []struct {
		name    string
		entries []string
		subnet  string
		want    []string
		wantErr []string
	}{
		{name: "inside", entries: []string{"10.6.0.1-10.6.0.9", "10.6.255.255"}, subnet: "10.6.0.0/16", want: []string{"10.6.0.1-10.6.0.9", "10.6.255.255"}},
		{name: "whole subnet", entries: []string{"10.6.0.0-10.6.255.255"}, subnet: "10.6.0.0/16", want: []string{"10.6.0.0-10.6.255.255"}},
		{name: "unmasked subnet", entries: []string{"10.6.0.1"}, subnet: "10.6.3.4/16", want: []string{"10.6.0.1"}},
		{name: "v6 inside", entries: []string{"fd00::1-fd00::ffff"}, subnet: "fd00::/64", want: []string{"fd00::1-fd00::ffff"}},
		{name: "empty list", entries: nil, subnet: "10.6.0.0/16", want: nil},
		{name: "outside", entries: []string{"10.6.0.1", "10.7.0.1"}, subnet: "10.6.0.0/16", wantErr: []string{"entry 1", `"10.7.0.1"`, "not inside subnet 10.6.0.0/16"}},
		{name: "range crossing the edge", entries: []string{"10.6.255.250-10.7.0.5"}, subnet: "10.6.0.0/16", wantErr: []string{`"10.6.255.250-10.7.0.5"`, "not inside subnet 10.6.0.0/16"}},
		{name: "range starting before", entries: []string{"10.5.255.255-10.6.0.5"}, subnet: "10.6.0.0/16", wantErr: []string{`"10.5.255.255-10.6.0.5"`, "not inside"}},
		{name: "unmasked subnet in error", entries: []string{"10.7.0.1"}, subnet: "10.6.3.4/16", wantErr: []string{"10.6.0.0/16"}},
		{name: "v6 entry for v4 subnet", entries: []string{"fd00::1"}, subnet: "10.6.0.0/16", wantErr: []string{`"fd00::1"`, "IPv6", "subnet 10.6.0.0/16 is IPv4"}},
		{name: "v4 entry for v6 subnet", entries: []string{"10.6.0.1"}, subnet: "fd00::/64", wantErr: []string{`"10.6.0.1"`, "subnet fd00::/64 is IPv6"}},
		{name: "bad entry", entries: []string{"nope"}, subnet: "10.6.0.0/16", wantErr: []string{`"nope"`}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			s, err := ParseSetIn(tt.entries, prefix(tt.subnet))
			if tt.wantErr != nil {
				if err == nil {
					t.Fatalf("ParseSetIn = %s, want error", s)
				}
				for _, sub := range tt.wantErr {
					if !strings.Contains(err.Error(), sub) {
						t.Errorf("error %q does not contain %q", err, sub)
					}
				}
				return
			}
			if err != nil {
				t.Fatalf("ParseSetIn: %v", err)
			}
			if diff := cmp.Diff(tt.want, s.Entries()); diff != "" {
				t.Errorf("Entries() mismatch (-want +got):\n%s", diff)
			}
		})
	}
	t.Run("invalid subnet", func(t *testing.T) {
		if _, err := ParseSetIn([]string{"10.0.0.1"}, netip.Prefix{}); err == nil {
			t.Error("want error for an invalid subnet")
		}
	})
}

func TestNewSet(t *testing.T) {
	tests := []struct {
		name    string
		ranges  []Range
		want    []string
		wantErr string
	}{
		{name: "none", ranges: nil, want: nil},
		{name: "merges", ranges: []Range{{addr("10.0.0.5"), addr("10.0.0.9")}, {addr("10.0.0.1"), addr("10.0.0.4")}}, want: []string{"10.0.0.1-10.0.0.9"}},
		{name: "mixed families", ranges: []Range{{addr("10.0.0.1"), addr("10.0.0.1")}, {addr("fd00::1"), addr("fd00::1")}}, wantErr: "one family"},
		{name: "mixed in one range", ranges: []Range{{addr("10.0.0.1"), addr("fd00::1")}}, wantErr: "mixes IPv4 and IPv6"},
		{name: "reversed", ranges: []Range{{addr("10.0.0.9"), addr("10.0.0.1")}}, wantErr: "start is after its end"},
		{name: "invalid", ranges: []Range{{}}, wantErr: "invalid address"},
		{name: "zoned", ranges: []Range{{addr("fe80::1%eth0"), addr("fe80::1%eth0")}}, wantErr: "zoned"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			s, err := NewSet(tt.ranges...)
			if tt.wantErr != "" {
				if err == nil || !strings.Contains(err.Error(), tt.wantErr) {
					t.Fatalf("NewSet error = %v, want one containing %q", err, tt.wantErr)
				}
				return
			}
			if err != nil {
				t.Fatalf("NewSet: %v", err)
			}
			checkNormalised(t, s)
			if diff := cmp.Diff(tt.want, s.Entries()); diff != "" {
				t.Errorf("Entries() mismatch (-want +got):\n%s", diff)
			}
		})
	}
}

func TestSetOf(t *testing.T) {
	tests := []struct {
		prefix string
		want   []string
	}{
		{"10.6.0.0/16", []string{"10.6.0.0-10.6.255.255"}},
		{"10.6.7.8/16", []string{"10.6.0.0-10.6.255.255"}},
		{"10.6.0.1/32", []string{"10.6.0.1"}},
		{"10.6.0.0/31", []string{"10.6.0.0-10.6.0.1"}},
		{"0.0.0.0/0", []string{"0.0.0.0-255.255.255.255"}},
		{"fd00::/64", []string{"fd00::-fd00::ffff:ffff:ffff:ffff"}},
		{"fd00::/63", []string{"fd00::-fd00::1:ffff:ffff:ffff:ffff"}},
		{"fd00::/65", []string{"fd00::-fd00::7fff:ffff:ffff:ffff"}},
		{"fd00::1/128", []string{"fd00::1"}},
		{"::/0", []string{"::-ffff:ffff:ffff:ffff:ffff:ffff:ffff:ffff"}},
	}
	for _, tt := range tests {
		t.Run(tt.prefix, func(t *testing.T) {
			if diff := cmp.Diff(tt.want, SetOf(prefix(tt.prefix)).Entries()); diff != "" {
				t.Errorf("SetOf mismatch (-want +got):\n%s", diff)
			}
		})
	}
	t.Run("invalid", func(t *testing.T) {
		if !SetOf(netip.Prefix{}).IsEmpty() {
			t.Error("SetOf(invalid) is not empty")
		}
	})
}

func TestContains(t *testing.T) {
	s := set(t, "10.0.0.1-10.0.0.5", "10.0.0.9", "10.0.1.0-10.0.1.255")
	tests := []struct {
		a    string
		want bool
	}{
		{"10.0.0.0", false},
		{"10.0.0.1", true},
		{"10.0.0.3", true},
		{"10.0.0.5", true},
		{"10.0.0.6", false},
		{"10.0.0.9", true},
		{"10.0.0.10", false},
		{"10.0.1.128", true},
		{"10.0.2.0", false},
		{"::ffff:10.0.0.1", false}, // another family, even if it maps to a member
		{"fd00::1", false},
	}
	for _, tt := range tests {
		t.Run(tt.a, func(t *testing.T) {
			if got := s.Contains(addr(tt.a)); got != tt.want {
				t.Errorf("Contains(%s) = %v, want %v", tt.a, got, tt.want)
			}
		})
	}
	t.Run("zero set", func(t *testing.T) {
		var z Set
		if z.Contains(addr("10.0.0.1")) || z.Contains(netip.Addr{}) {
			t.Error("zero Set contains something")
		}
	})
}

func pow2(n uint) *big.Int { return new(big.Int).Lsh(big.NewInt(1), n) }

func TestCount(t *testing.T) {
	tests := []struct {
		name    string
		s       Set
		want    *big.Int
		fits    bool
		wantU64 uint64
	}{
		{name: "empty", s: Set{}, want: big.NewInt(0), fits: true},
		{name: "one", s: set(t, "10.0.0.1"), want: big.NewInt(1), fits: true, wantU64: 1},
		{name: "ranges", s: set(t, "10.0.0.1-10.0.0.5", "10.0.0.9"), want: big.NewInt(6), fits: true, wantU64: 6},
		{name: "whole v4", s: SetOf(prefix("0.0.0.0/0")), want: pow2(32), fits: true, wantU64: 1 << 32},
		{name: "v6 /64", s: SetOf(prefix("fd00::/64")), want: pow2(64), fits: false},
		{name: "v6 /65", s: SetOf(prefix("fd00::/65")), want: pow2(63), fits: true, wantU64: 1 << 63},
		{name: "v6 /32", s: SetOf(prefix("2001:db8::/32")), want: pow2(96), fits: false},
		{name: "two v6 /64", s: set(t, "fd00::-fd00::ffff:ffff:ffff:ffff", "fd01::-fd01::ffff:ffff:ffff:ffff"), want: pow2(65), fits: false},
		{name: "whole v6", s: SetOf(prefix("::/0")), want: pow2(128), fits: false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if got := tt.s.Count(); got.Cmp(tt.want) != 0 {
				t.Errorf("Count() = %s, want %s", got, tt.want)
			}
			n, ok := tt.s.CountUint64()
			if ok != tt.fits || (ok && n != tt.wantU64) {
				t.Errorf("CountUint64() = %d, %v; want %d, %v", n, ok, tt.wantU64, tt.fits)
			}
		})
	}
	t.Run("union of v6 halves", func(t *testing.T) {
		lo, hi := SetOf(prefix("::/1")), SetOf(prefix("8000::/1"))
		u, err := lo.Union(hi)
		if err != nil {
			t.Fatal(err)
		}
		if got := u.Count(); got.Cmp(pow2(128)) != 0 {
			t.Errorf("Count() = %s, want 2^128", got)
		}
		if len(u.Ranges()) != 1 {
			t.Errorf("halves not merged: %s", u)
		}
	})
}

func TestEqual(t *testing.T) {
	tests := []struct {
		name string
		a, b Set
		want bool
	}{
		{name: "both empty", want: true},
		{name: "empty v4", a: Set{}, b: set(t, "10.0.0.1"), want: false},
		{name: "same", a: set(t, "10.0.0.1-10.0.0.3"), b: set(t, "10.0.0.1", "10.0.0.2", "10.0.0.3"), want: true},
		{name: "different", a: set(t, "10.0.0.1-10.0.0.3"), b: set(t, "10.0.0.1-10.0.0.4"), want: false},
		{name: "same numbers other family", a: set(t, "0.0.0.1"), b: set(t, "::1"), want: false},
		{name: "removed to empty", a: func() Set { s := set(t, "10.0.0.1"); s.Remove(addr("10.0.0.1")); return s }(), b: Set{}, want: true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if got := tt.a.Equal(tt.b); got != tt.want {
				t.Errorf("%s.Equal(%s) = %v, want %v", tt.a, tt.b, got, tt.want)
			}
			if got := tt.b.Equal(tt.a); got != tt.want {
				t.Errorf("%s.Equal(%s) = %v, want %v", tt.b, tt.a, got, tt.want)
			}
		})
	}
}

func TestRangesIsACopy(t *testing.T) {
	s := set(t, "10.0.0.1-10.0.0.5")
	rs := s.Ranges()
	rs[0].First = addr("10.0.0.0")
	if got := s.String(); got != "10.0.0.1-10.0.0.5" {
		t.Errorf("set changed through Ranges(): %s", got)
	}
}
