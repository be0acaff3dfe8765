package v1alpha1

import (
	"fmt"
	"net/netip"
	"strings"
)

// ClaimName is the IPClaim name of an address: IPv4 as is (10.6.168.101),
// IPv6 as eight dash-separated groups of four hex digits. Deriving the name
// from the address alone makes the API server refuse a second claim on it.
func ClaimName(a netip.Addr) string {
	a = a.Unmap()
	if a.Is4() {
		return a.String()
	}
	b := a.As16()
	var sb strings.Builder
	for i := 0; i < 16; i += 2 {
		if i > 0 {
			sb.WriteByte('-')
		}
		fmt.Fprintf(&sb, "%02x%02x", b[i], b[i+1])
	}
	return sb.String()
}

// AddressOfClaim is the address an IPClaim name stands for, the inverse of
// ClaimName; a name ClaimName would not have made is an error.
func AddressOfClaim(name string) (netip.Addr, error) {
	a, err := netip.ParseAddr(strings.ReplaceAll(name, "-", ":"))
	if err != nil || ClaimName(a) != name {
		return netip.Addr{}, fmt.Errorf("claim name %q is not an address in the form ClaimName gives", name)
	}
	return a, nil
}
