package status

import (
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"
	"github.com/prometheus/client_golang/prometheus"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	"github.com/ipkeeper/ipkeeper/api/ipkeeper/v1alpha1"
	"github.com/ipkeeper/ipkeeper/api/v2beta1"
	"github.com/ipkeeper/ipkeeper/internal/ipnet"
)

func pool(subnet string, ips, exclude []string, gateway string) *v2beta1.SpiderIPPool {
	p := &v2beta1.SpiderIPPool{ObjectMeta: metav1.ObjectMeta{Name: "p"},
		Spec: v2beta1.SpiderIPPoolSpec{Subnet: subnet, IPs: ips, ExcludeIPs: exclude}}
	if gateway != "" {
		p.Spec.Gateway = &gateway
	}
	return p
}

func claims(addrs ...string) []v1alpha1.IPClaim {
	out := make([]v1alpha1.IPClaim, 0, len(addrs))
	for _, a := range addrs {
		out = append(out, v1alpha1.IPClaim{Spec: v1alpha1.IPClaimSpec{Address: a, Pool: "p"}})
	}
	return out
}

func reservations(entries ...string) [2]ipnet.Set {
	return reservedSets([]v2beta1.SpiderReservedIP{{Spec: v2beta1.SpiderReservedIPSpec{IPs: entries}}})
}

func TestPoolCounts(t *testing.T) {
	tests := []struct {
		name     string
		pool     *v2beta1.SpiderIPPool
		reserved [2]ipnet.Set
		claims   []v1alpha1.IPClaim
		want     counts
	}{{
		name: "empty pool",
		pool: pool("10.0.0.0/24", []string{"10.0.0.10-10.0.0.19"}, nil, ""),
		want: counts{total: 10, free: 10},
	}, {
		name:   "excluded, reserved, gateway and claimed addresses are not free",
		pool:   pool("10.0.0.0/24", []string{"10.0.0.10-10.0.0.19"}, []string{"10.0.0.19"}, "10.0.0.10"),
		claims: claims("10.0.0.11", "10.0.0.12"), reserved: reservations("10.0.0.13", "10.0.0.19", "10.0.1.5"),
		// 9 after the exclusion; reserved .13 only (.19 is excluded, 10.0.1.5 outside);
		// free: 9 - gateway - 2 claimed - 1 reserved.
		want: counts{total: 9, allocated: 2, reserved: 1, free: 5},
	}, {
		name:   "full pool",
		pool:   pool("10.0.0.0/30", []string{"10.0.0.1-10.0.0.2"}, nil, ""),
		claims: claims("10.0.0.1", "10.0.0.2"),
		want:   counts{total: 2, allocated: 2, free: 0},
	}, {
		name:     "IPv6 reservations do not count in an IPv4 pool",
		pool:     pool("10.0.0.0/24", []string{"10.0.0.10-10.0.0.11"}, nil, ""),
		reserved: reservations("fd00::1"),
		want:     counts{total: 2, free: 2},
	}, {
		name: "IPv6 pool keeps its first address",
		pool: pool("fd00::/120", []string{"fd00::-fd00::3"}, nil, "fd00::1"), claims: claims("fd00::2"),
		reserved: reservations("fd00::3"),
		want:     counts{total: 4, allocated: 1, reserved: 1, free: 1},
	}, {
		name:   "a spec that does not parse counts its claims only",
		pool:   pool("not-a-cidr", nil, nil, ""),
		claims: claims("10.0.0.1"),
		want:   counts{allocated: 1},
	}}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got := poolCounts(tt.pool, tt.reserved, tt.claims)
			if diff := cmp.Diff(tt.want, got, cmp.AllowUnexported(counts{})); diff != "" {
				t.Errorf("poolCounts (-want +got):\n%s", diff)
			}
		})
	}
}

func TestSubnetCounts(t *testing.T) {
	subnet := &v2beta1.SpiderSubnet{Spec: v2beta1.SpiderSubnetSpec{Subnet: "10.0.0.0/24",
		IPs: []string{"10.0.0.10-10.0.0.29"}, ExcludeIPs: []string{"10.0.0.29"}}}
	pools := []v2beta1.SpiderIPPool{
		*pool("10.0.0.0/24", []string{"10.0.0.10-10.0.0.14"}, nil, ""),
		*pool("10.0.0.0/24", []string{"10.0.0.14-10.0.0.15", "10.0.0.29"}, nil, ""), // overlaps; .29 excluded by the subnet
		*pool("10.1.0.0/24", []string{"10.1.0.10-10.1.0.19"}, nil, ""),              // another subnet
	}
	got := subnetCounts(subnet, pools, reservations("10.0.0.20-10.0.0.21", "10.0.0.10"))
	// Offered 19; given .10-.15 (6); reserved .10, .20, .21 (3); free: 19 - 6 - 2 (.20, .21).
	want := counts{total: 19, allocated: 6, reserved: 3, free: 11}
	if diff := cmp.Diff(want, got, cmp.AllowUnexported(counts{})); diff != "" {
		t.Errorf("subnetCounts (-want +got):\n%s", diff)
	}
}

// A replica that does not lead exports no pool series, so that each pool
// has one series cluster-wide; the descriptions are those of every series.
func TestCollectorExportsOnlyOnTheLeader(t *testing.T) {
	c := &Collector{Elected: make(chan struct{})}
	reg := prometheus.NewPedanticRegistry()
	reg.MustRegister(c)
	if mfs, err := reg.Gather(); err != nil || len(mfs) != 0 {
		t.Errorf("gathered %d families (error %v) before the election, want none", len(mfs), err)
	}
	descs := make(chan *prometheus.Desc, 32)
	c.Describe(descs)
	close(descs)
	var names []string
	for d := range descs {
		s := d.String()
		names = append(names, s[strings.Index(s, `"`)+1:strings.Index(s, `", help`)])
	}
	want := []string{"ipkeeper_pool_addresses", "ipkeeper_pool_allocated_addresses", "ipkeeper_pool_reserved_addresses", "ipkeeper_pool_free_addresses",
		"ipkeeper_subnet_addresses", "ipkeeper_subnet_allocated_addresses", "ipkeeper_subnet_reserved_addresses", "ipkeeper_subnet_free_addresses",
		"ipkeeper_pool_metrics_errors"}
	if diff := cmp.Diff(want, names); diff != "" {
		t.Errorf("series (-want +got):\n%s", diff)
	}
}
