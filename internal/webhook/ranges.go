package webhook

import (
	"fmt"
	"net/netip"

	"k8s.io/apimachinery/pkg/util/validation/field"

	"github.com/ipkeeper/ipkeeper/api/v2beta1"
	"github.com/ipkeeper/ipkeeper/internal/ipnet"
)

// parseSubnet checks a subnet field: a CIDR in canonical form.
func parseSubnet(path *field.Path, s string) (netip.Prefix, *field.Error) {
	p, err := netip.ParsePrefix(s)
	if err != nil {
		return p, field.Invalid(path, s, "must be a CIDR such as 10.6.0.0/16")
	}
	if p != p.Masked() {
		return p, field.Invalid(path, s, fmt.Sprintf("host bits are set; want %s", p.Masked()))
	}
	return p, nil
}

// parseEntries checks a list of addresses and ranges inside subnet, one entry
// at a time so that each refusal names its index.
func parseEntries(path *field.Path, entries []string, subnet netip.Prefix) (ipnet.Set, field.ErrorList) {
	var errs field.ErrorList
	var all ipnet.Set
	for i, e := range entries {
		one, err := ipnet.ParseSetIn([]string{e}, subnet)
		if err != nil {
			errs = append(errs, field.Invalid(path.Index(i), e, trimEntry(err.Error())))
			continue
		}
		all, _ = all.Union(one)
	}
	return all, errs
}

// trimEntry drops the core parser's "entry 0: " prefix: the path says which.
func trimEntry(msg string) string {
	if len(msg) > 9 && msg[:9] == "entry 0: " {
		return msg[9:]
	}
	return msg
}

// checkGateway checks gateway is an address inside subnet and, when ips is
// given, not one of the addresses handed out (unless excluded).
func checkGateway(path *field.Path, gw *string, subnet netip.Prefix, ips, exclude ipnet.Set) field.ErrorList {
	if gw == nil || *gw == "" {
		return nil
	}
	a, err := netip.ParseAddr(*gw)
	switch {
	case err != nil:
		return field.ErrorList{field.Invalid(path, *gw, "must be an IP address")}
	case !subnet.Contains(a):
		return field.ErrorList{field.Invalid(path, *gw, fmt.Sprintf("must be inside subnet %s", subnet))}
	case isEdge(a, subnet):
		return field.ErrorList{field.Invalid(path, *gw, fmt.Sprintf("is the network or broadcast address of subnet %s; a gateway is a host address", subnet))}
	case ips.Contains(a) && !exclude.Contains(a):
		return field.ErrorList{field.Invalid(path, *gw, "is inside ips; a gateway is not handed to pods — remove it from ips or add it to excludeIPs")}
	}
	return nil
}

// isEdge reports whether a is the network or broadcast address of an IPv4
// subnet that has them (shorter than /31, RFC 3021).
func isEdge(a netip.Addr, subnet netip.Prefix) bool {
	subnet = subnet.Masked()
	if !a.Is4() || !subnet.Addr().Is4() || subnet.Bits() >= 31 {
		return false
	}
	if a == subnet.Addr() {
		return true
	}
	b := subnet.Addr().As4()
	host := uint32(1)<<(32-subnet.Bits()) - 1
	last := (uint32(b[0])<<24 | uint32(b[1])<<16 | uint32(b[2])<<8 | uint32(b[3])) | host
	return a == netip.AddrFrom4([4]byte{byte(last >> 24), byte(last >> 16), byte(last >> 8), byte(last)})
}

// checkRoutes refuses default routes, bad CIDRs and addresses, repeated
// destinations, and next hops a pod of subnet cannot reach directly: of the
// other family, unspecified, or outside the subnet.
func checkRoutes(path *field.Path, routes []v2beta1.Route, subnet netip.Prefix) field.ErrorList {
	var errs field.ErrorList
	seen := map[netip.Prefix]int{}
	for i, r := range routes {
		p := path.Index(i)
		dst, err := netip.ParsePrefix(r.Dst)
		switch {
		case err != nil:
			errs = append(errs, field.Invalid(p.Child("dst"), r.Dst, "must be a CIDR such as 10.0.0.0/16"))
		case dst.Bits() == 0:
			errs = append(errs, field.Invalid(p.Child("dst"), r.Dst, "a default route is not allowed; the default route follows the pool's gateway"))
		default:
			if j, dup := seen[dst.Masked()]; dup {
				errs = append(errs, field.Duplicate(p.Child("dst"), fmt.Sprintf("%s (also spec.routes[%d])", r.Dst, j)))
			}
			seen[dst.Masked()] = i
		}
		gw, err := netip.ParseAddr(r.Gw)
		switch {
		case err != nil:
			errs = append(errs, field.Invalid(p.Child("gw"), r.Gw, "must be an IP address"))
		case gw.Is4() != subnet.Addr().Is4():
			errs = append(errs, field.Invalid(p.Child("gw"), r.Gw, fmt.Sprintf("is of the other IP family than subnet %s; want a next hop inside it", subnet)))
		case gw.IsUnspecified():
			errs = append(errs, field.Invalid(p.Child("gw"), r.Gw, fmt.Sprintf("is the unspecified address; want a next hop inside subnet %s", subnet)))
		case !subnet.Contains(gw):
			errs = append(errs, field.Invalid(p.Child("gw"), r.Gw, fmt.Sprintf("is outside subnet %s; a pod reaches only next hops on its own subnet", subnet)))
		}
	}
	return errs
}

// checkVersion refuses an ipVersion that does not match the subnet.
func checkVersion(path *field.Path, v *v2beta1.IPVersion, subnet netip.Prefix) field.ErrorList {
	if v == nil || !subnet.IsValid() {
		return nil
	}
	fam := 4
	if subnet.Addr().Is6() {
		fam = 6
	}
	if int(*v) != fam {
		return field.ErrorList{field.Invalid(path, int(*v), fmt.Sprintf("subnet %s is IPv%d; want %d", subnet, fam, fam))}
	}
	return nil
}

func versionOf(p netip.Prefix) *v2beta1.IPVersion {
	v := v2beta1.IPVersion(4)
	if p.Addr().Is6() {
		v = 6
	}
	return &v
}
