package ipnet

import (
	"net/netip"
	"testing"
)

func TestRankInvertsNth(t *testing.T) {
	s, err := ParseSet([]string{"10.0.0.1-10.0.0.3", "10.0.0.10", "10.0.1.0-10.0.1.255"})
	if err != nil {
		t.Fatal(err)
	}
	n, _ := s.CountUint64()
	for i := uint64(0); i < n; i++ {
		a, _ := s.Nth(i)
		r, ok := s.Rank(a)
		if !ok || r != i {
			t.Fatalf("Rank(%s) = %d, %v; want %d, true", a, r, ok, i)
		}
	}
	for _, tc := range []struct {
		addr string
		want uint64
	}{{"10.0.0.0", 0}, {"10.0.0.5", 3}, {"10.0.0.11", 4}, {"10.0.2.0", 260}} {
		r, ok := s.Rank(netip.MustParseAddr(tc.addr))
		if ok || r != tc.want {
			t.Errorf("Rank(%s) = %d, %v; want %d, false", tc.addr, r, ok, tc.want)
		}
	}
	if _, ok := s.Rank(netip.MustParseAddr("fd00::1")); ok {
		t.Error("an IPv6 address is not a member of an IPv4 set")
	}
}
