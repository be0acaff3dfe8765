package cli

import (
	"context"
	"fmt"
	"net/netip"
	"sort"

	appsv1 "k8s.io/api/apps/v1"
	corev1 "k8s.io/api/core/v1"
	"sigs.k8s.io/controller-runtime/pkg/client"

	"github.com/ipkeeper/ipkeeper/api/ipkeeper/v1alpha1"
	"github.com/ipkeeper/ipkeeper/api/v2beta1"
	"github.com/ipkeeper/ipkeeper/internal/ipnet"
	"github.com/ipkeeper/ipkeeper/internal/spiderpool"
)

// state is what the commands read from the cluster, listed once.
type state struct {
	Claims    []v1alpha1.IPClaim
	Pools     []v2beta1.SpiderIPPool
	Subnets   []v2beta1.SpiderSubnet
	Reserved  []v2beta1.SpiderReservedIP
	Endpoints []v2beta1.SpiderEndpoint
	Pods      []corev1.Pod
	Sets      []appsv1.StatefulSet
}

// What to list besides claims, pools, subnets and reservations.
type want struct{ endpoints, pods bool }

func load(ctx context.Context, c client.Client, w want) (*state, error) {
	s := &state{}
	lists := []struct {
		what string
		list client.ObjectList
		on   bool
	}{
		{"IPClaims", &v1alpha1.IPClaimList{}, true},
		{"SpiderIPPools", &v2beta1.SpiderIPPoolList{}, true},
		{"SpiderSubnets", &v2beta1.SpiderSubnetList{}, true},
		{"SpiderReservedIPs", &v2beta1.SpiderReservedIPList{}, true},
		{"SpiderEndpoints", &v2beta1.SpiderEndpointList{}, w.endpoints},
		{"pods", &corev1.PodList{}, w.pods},
		{"StatefulSets", &appsv1.StatefulSetList{}, w.pods},
	}
	for _, l := range lists {
		if !l.on {
			continue
		}
		if err := c.List(ctx, l.list); err != nil {
			return nil, fmt.Errorf("list %s: %w", l.what, err)
		}
		switch v := l.list.(type) {
		case *v1alpha1.IPClaimList:
			s.Claims = v.Items
		case *v2beta1.SpiderIPPoolList:
			s.Pools = v.Items
		case *v2beta1.SpiderSubnetList:
			s.Subnets = v.Items
		case *v2beta1.SpiderReservedIPList:
			s.Reserved = v.Items
		case *v2beta1.SpiderEndpointList:
			s.Endpoints = v.Items
		case *corev1.PodList:
			s.Pods = v.Items
		case *appsv1.StatefulSetList:
			s.Sets = v.Items
		}
	}
	sort.Slice(s.Pools, func(i, j int) bool { return s.Pools[i].Name < s.Pools[j].Name })
	sort.Slice(s.Subnets, func(i, j int) bool { return s.Subnets[i].Name < s.Subnets[j].Name })
	return s, nil
}

// reservedSet is the union of every SpiderReservedIP entry that parses, as
// the agents reserve them (an entry that does not parse reserves nothing,
// and does not undo the others).
func (s *state) reservedSet(family int) ipnet.Set {
	var out ipnet.Set
	for _, r := range s.Reserved {
		for _, e := range r.Spec.IPs {
			set, err := ipnet.ParseSet([]string{e})
			if err != nil || set.Family() != family {
				continue
			}
			if u, err := out.Union(set); err == nil {
				out = u
			}
		}
	}
	return out
}

// reservedBy names the SpiderReservedIPs holding a.
func (s *state) reservedBy(a netip.Addr) []string {
	var out []string
	for _, r := range s.Reserved {
		for _, e := range r.Spec.IPs {
			if set, err := ipnet.ParseSet([]string{e}); err == nil && set.Contains(a) {
				out = append(out, r.Name)
				break
			}
		}
	}
	return out
}

// claimedIn is the set of claimed addresses of family.
func (s *state) claimedIn(family int, keep func(*v1alpha1.IPClaim) bool) ipnet.Set {
	var out ipnet.Set
	for i := range s.Claims {
		c := &s.Claims[i]
		a, err := netip.ParseAddr(c.Spec.Address)
		if err != nil || ipnet.Family(a) != family || (keep != nil && !keep(c)) {
			continue
		}
		out.Insert(a)
	}
	return out
}

// poolOf parses a pool with the reservations added, as the agents see it.
func (s *state) poolOf(p *v2beta1.SpiderIPPool) (ipnet.Pool, error) {
	parsed, err := spiderpool.PoolOf(p)
	if err != nil {
		return parsed, err
	}
	parsed.Reserved = s.reservedSet(spiderpool.PoolFamily(p))
	return parsed, nil
}
