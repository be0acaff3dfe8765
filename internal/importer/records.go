package importer

import (
	"fmt"
	"net/netip"
	"slices"
	"strings"

	"k8s.io/apimachinery/pkg/types"

	"github.com/ipkeeper/ipkeeper/api/v2beta1"
	"github.com/ipkeeper/ipkeeper/internal/spiderpool"
)

// record is one statement of Spiderpool's that a pod holds an address: an
// entry of a pool's status.allocatedIPs, or an address of a SpiderEndpoint.
type record struct {
	addr   netip.Addr
	pool   string // "" when an endpoint names no pool
	object string // the record, as conflicts name it
	pod    types.NamespacedName
	uid    types.UID
	iface  string
	// ep is the endpoint of an endpoint record; nil for a pool record.
	ep *v2beta1.SpiderEndpoint
}

// holder names the pod incarnation the record names.
func (r record) holder() string { return holderString(r.pod, r.uid) }

func holderString(pod types.NamespacedName, uid types.UID) string {
	return fmt.Sprintf("%s (uid %s)", pod, uid)
}

// gather collects the records to import: every entry of the pools awaiting
// their import, and every endpoint address of those pools or of those
// addresses. Endpoint addresses of other pools were written by ipkeeper's
// agents, which claimed them first.
func (p *planner) gather() map[netip.Addr][]record {
	byAddr := map[netip.Addr][]record{}
	for name := range p.pending {
		pool := p.pools[name].obj
		entries, err := spiderpool.AllocatedIPs(pool)
		if err != nil {
			p.conflict(Conflict{Kind: ConflictUnreadable, Objects: []string{poolObject(name)}, Detail: err.Error()})
			continue
		}
		for addr, e := range entries {
			byAddr[addr] = append(byAddr[addr], record{
				addr: addr, pool: name, object: poolObject(name), pod: e.Pod, uid: e.UID, iface: e.Interface,
			})
		}
	}
	// Addresses of the pools first, so that which endpoints join does not
	// depend on their order.
	var others []record
	for i := range p.in.Endpoints {
		ep := &p.in.Endpoints[i]
		for _, d := range ep.Status.Current.IPs {
			for _, a := range [][2]*string{{d.IPv4, d.IPv4Pool}, {d.IPv6, d.IPv6Pool}} {
				r, ok := p.endpointRecord(ep, d.Interface, a[0], a[1])
				switch {
				case !ok:
				case p.pending[r.pool]:
					byAddr[r.addr] = append(byAddr[r.addr], r)
				default:
					others = append(others, r)
				}
			}
		}
	}
	for _, r := range others {
		if _, recorded := byAddr[r.addr]; recorded {
			byAddr[r.addr] = append(byAddr[r.addr], r)
		}
	}
	for _, recs := range byAddr {
		slices.SortFunc(recs, func(a, b record) int { return strings.Compare(a.object, b.object) })
	}
	return byAddr
}

func poolObject(name string) string { return "SpiderIPPool " + name + " status.allocatedIPs" }

func endpointObject(ep *v2beta1.SpiderEndpoint) string {
	return "SpiderEndpoint " + ep.Namespace + "/" + ep.Name
}

// endpointRecord reads one address of an endpoint ("a.b.c.d/len", as
// Spiderpool writes it); ok is false when there is none or it does not parse
// (a conflict when its pool awaits the import).
func (p *planner) endpointRecord(ep *v2beta1.SpiderEndpoint, iface string, value, pool *string) (record, bool) {
	if value == nil || *value == "" {
		return record{}, false
	}
	pod := types.NamespacedName{Namespace: ep.Namespace, Name: ep.Name}
	poolName := deref(pool)
	addr, err := parseEndpointAddress(*value)
	if err != nil {
		if p.pending[poolName] {
			p.conflict(Conflict{Kind: ConflictUnreadable, Objects: []string{endpointObject(ep)},
				Holders: []string{holderString(pod, ep.Status.Current.UID)},
				Detail:  fmt.Sprintf("%s interface %s: address %q: %v", endpointObject(ep), iface, *value, err)})
		}
		return record{}, false
	}
	return record{addr: addr, pool: poolName, object: endpointObject(ep), pod: pod, uid: ep.Status.Current.UID, iface: iface, ep: ep}, true
}

// parseEndpointAddress reads "a.b.c.d/len", or a bare address.
func parseEndpointAddress(s string) (netip.Addr, error) {
	if pfx, err := netip.ParsePrefix(s); err == nil {
		return pfx.Addr().Unmap(), nil
	}
	a, err := netip.ParseAddr(s)
	return a.Unmap(), err
}

func deref(s *string) string {
	if s == nil {
		return ""
	}
	return *s
}
