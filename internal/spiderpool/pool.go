package spiderpool

import (
	"fmt"
	"net/netip"

	"github.com/ipkeeper/ipkeeper/api/v2beta1"
	"github.com/ipkeeper/ipkeeper/internal/ipnet"
)

// PoolOf parses a SpiderIPPool's addresses: spec.subnet (masked), spec.ips
// and spec.excludeIPs inside it, and spec.gateway. Errors name the pool and
// the field. Reserved addresses are not part of a pool's own spec; the
// caller adds them.
func PoolOf(p *v2beta1.SpiderIPPool) (ipnet.Pool, error) {
	return parsePool("SpiderIPPool "+p.Name, p.Spec.Subnet, p.Spec.IPs, p.Spec.ExcludeIPs, p.Spec.Gateway)
}

// SubnetPoolOf parses a SpiderSubnet's addresses as PoolOf does a pool's.
func SubnetPoolOf(s *v2beta1.SpiderSubnet) (ipnet.Pool, error) {
	return parsePool("SpiderSubnet "+s.Name, s.Spec.Subnet, s.Spec.IPs, s.Spec.ExcludeIPs, s.Spec.Gateway)
}

func parsePool(what, subnet string, ips, exclude []string, gateway *string) (ipnet.Pool, error) {
	prefix, err := netip.ParsePrefix(subnet)
	if err != nil {
		return ipnet.Pool{}, fmt.Errorf("%s: spec.subnet %q: %w", what, subnet, err)
	}
	prefix = prefix.Masked()
	pool := ipnet.Pool{Subnet: prefix}
	if pool.IPs, err = ipnet.ParseSetIn(ips, prefix); err != nil {
		return ipnet.Pool{}, fmt.Errorf("%s: spec.ips: %w", what, err)
	}
	if pool.Exclude, err = ipnet.ParseSetIn(exclude, prefix); err != nil {
		return ipnet.Pool{}, fmt.Errorf("%s: spec.excludeIPs: %w", what, err)
	}
	if gateway != nil && *gateway != "" {
		if pool.Gateway, err = netip.ParseAddr(*gateway); err != nil {
			return ipnet.Pool{}, fmt.Errorf("%s: spec.gateway %q: %w", what, *gateway, err)
		}
	}
	return pool, nil
}

// PoolFamily is a pool's IP family, 4 or 6: spec.ipVersion, else that of its
// subnet (4 when the subnet does not parse; the webhook refuses such pools).
func PoolFamily(p *v2beta1.SpiderIPPool) int {
	if p.Spec.IPVersion != nil {
		return int(*p.Spec.IPVersion)
	}
	return SubnetFamily(p.Spec.Subnet)
}

// SubnetFamily is the IP family of a CIDR string, 4 when it does not parse.
func SubnetFamily(cidr string) int {
	if pfx, err := netip.ParsePrefix(cidr); err == nil && ipnet.Family(pfx.Addr()) == 6 {
		return 6
	}
	return 4
}
