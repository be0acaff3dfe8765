package importer

import (
	"net/netip"
	"testing"
)

// A SpiderEndpoint's address ("10.6.168.101/16", or a bare address) as
// Spiderpool wrote it: no panic; what is accepted is a valid address in its
// one spelling (an IPv4-mapped IPv6 address is its IPv4 address), which
// reads back as itself.
func FuzzParseEndpointAddress(f *testing.F) {
	for _, seed := range []string{"10.6.168.101/16", "fd00::1/64", "10.6.168.101", "::ffff:10.0.0.1/120", "fe80::1%eth0", "x/16", ""} {
		f.Add(seed)
	}
	f.Fuzz(func(t *testing.T, s string) {
		a, err := parseEndpointAddress(s)
		if err != nil {
			if err.Error() == "" {
				t.Fatalf("%q refused without a message", s)
			}
			return
		}
		if !a.IsValid() || a.Is4In6() {
			t.Fatalf("%q accepted as %v", s, a)
		}
		if again, err := parseEndpointAddress(a.String()); err != nil || again != a {
			t.Fatalf("%q: %v written back parsed %v, %v", s, a, again, err)
		}
		if p, err := netip.ParsePrefix(s); err == nil && p.Addr().Unmap() != a {
			t.Fatalf("%q: address %v is not the prefix's %v", s, a, p.Addr())
		}
	})
}
