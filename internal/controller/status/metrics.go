package status

import (
	"context"
	"net/netip"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	ctrl "sigs.k8s.io/controller-runtime"
	"sigs.k8s.io/controller-runtime/pkg/client"

	"github.com/ipkeeper/ipkeeper/api/ipkeeper/v1alpha1"
	"github.com/ipkeeper/ipkeeper/api/v2beta1"
	"github.com/ipkeeper/ipkeeper/internal/controller"
	"github.com/ipkeeper/ipkeeper/internal/ipnet"
	"github.com/ipkeeper/ipkeeper/internal/spiderpool"
)

// The series of Collector, one per pool or subnet cluster-wide. Names match
// the chart's dashboard and alert rules (charts/ipkeeper/files); change them
// together: test/e2e checks that every name those read is exported.
var (
	poolTotalDesc     = prometheus.NewDesc("ipkeeper_pool_addresses", "Addresses of a SpiderIPPool: spec.ips minus spec.excludeIPs (status.totalIPCount).", []string{"pool"}, nil)
	poolAllocatedDesc = prometheus.NewDesc("ipkeeper_pool_allocated_addresses", "Addresses of a SpiderIPPool held by a claim (status.allocatedIPCount).", []string{"pool"}, nil)
	poolReservedDesc  = prometheus.NewDesc("ipkeeper_pool_reserved_addresses", "Addresses of a SpiderIPPool held by SpiderReservedIPs.", []string{"pool"}, nil)
	poolFreeDesc      = prometheus.NewDesc("ipkeeper_pool_free_addresses", "Addresses a SpiderIPPool can still hand out: not excluded, reserved, claimed, the gateway or an IPv4 network or broadcast address.", []string{"pool"}, nil)

	subnetTotalDesc     = prometheus.NewDesc("ipkeeper_subnet_addresses", "Addresses a SpiderSubnet offers: spec.ips minus spec.excludeIPs (status.totalIPCount).", []string{"subnet"}, nil)
	subnetAllocatedDesc = prometheus.NewDesc("ipkeeper_subnet_allocated_addresses", "Addresses of a SpiderSubnet given to its SpiderIPPools (status.allocatedIPCount).", []string{"subnet"}, nil)
	subnetReservedDesc  = prometheus.NewDesc("ipkeeper_subnet_reserved_addresses", "Addresses of a SpiderSubnet held by SpiderReservedIPs.", []string{"subnet"}, nil)
	subnetFreeDesc      = prometheus.NewDesc("ipkeeper_subnet_free_addresses", "Addresses of a SpiderSubnet in no pool and not reserved: what new or growing pools can still take.", []string{"subnet"}, nil)
	collectErrorsDesc   = prometheus.NewDesc("ipkeeper_pool_metrics_errors", "1 when the last scrape could not read pools, subnets, claims or reservations from the cache, else 0.", nil, nil)
)

// counts are the gauges of one pool or subnet.
type counts struct {
	total, allocated, reserved, free int64
}

// Collector exports the address counts of every pool and subnet, read from
// the manager's cache at scrape time: no extra API request, and the same
// derivation as the status the reconcilers write.
type Collector struct {
	// Reader is the manager's cached client.
	Reader client.Reader
	// Elected is closed once this replica leads (mgr.Elected()): until then
	// nothing is exported, so that the series exist once cluster-wide.
	Elected <-chan struct{}
	// Subnets exports SpiderSubnets' counts too (SpiderSubnets on).
	Subnets bool
	// Timeout bounds one scrape's cache reads; 0 means 5 s.
	Timeout time.Duration
}

// Describe sends the descriptions of every series.
func (c *Collector) Describe(ch chan<- *prometheus.Desc) {
	for _, d := range []*prometheus.Desc{poolTotalDesc, poolAllocatedDesc, poolReservedDesc, poolFreeDesc,
		subnetTotalDesc, subnetAllocatedDesc, subnetReservedDesc, subnetFreeDesc, collectErrorsDesc} {
		ch <- d
	}
}

// Collect sends the current counts, or nothing before this replica leads.
func (c *Collector) Collect(ch chan<- prometheus.Metric) {
	select {
	case <-c.Elected:
	default:
		return
	}
	timeout := c.Timeout
	if timeout == 0 {
		timeout = 5 * time.Second
	}
	ctx, cancel := context.WithTimeout(context.Background(), timeout)
	defer cancel()
	failed := 0.0
	if err := c.collect(ctx, ch); err != nil {
		ctrl.Log.WithName("metrics").Error(err, "Could not collect pool metrics")
		failed = 1
	}
	ch <- prometheus.MustNewConstMetric(collectErrorsDesc, prometheus.GaugeValue, failed)
}

func (c *Collector) collect(ctx context.Context, ch chan<- prometheus.Metric) error {
	var pools v2beta1.SpiderIPPoolList
	if err := c.Reader.List(ctx, &pools, client.UnsafeDisableDeepCopy); err != nil {
		return err
	}
	var reservations v2beta1.SpiderReservedIPList
	if err := c.Reader.List(ctx, &reservations, client.UnsafeDisableDeepCopy); err != nil {
		return err
	}
	reserved := reservedSets(reservations.Items)
	for i := range pools.Items {
		p := &pools.Items[i]
		var claims v1alpha1.IPClaimList
		if err := c.Reader.List(ctx, &claims, client.MatchingFields{controller.IndexClaimPool: p.Name}, client.UnsafeDisableDeepCopy); err != nil {
			return err
		}
		send(ch, p.Name, poolCounts(p, reserved, claims.Items), poolTotalDesc, poolAllocatedDesc, poolReservedDesc, poolFreeDesc)
	}
	if !c.Subnets {
		return nil
	}
	var subnets v2beta1.SpiderSubnetList
	if err := c.Reader.List(ctx, &subnets, client.UnsafeDisableDeepCopy); err != nil {
		return err
	}
	for i := range subnets.Items {
		s := &subnets.Items[i]
		send(ch, s.Name, subnetCounts(s, pools.Items, reserved), subnetTotalDesc, subnetAllocatedDesc, subnetReservedDesc, subnetFreeDesc)
	}
	return nil
}

func send(ch chan<- prometheus.Metric, name string, n counts, total, allocated, reserved, free *prometheus.Desc) {
	for _, s := range []struct {
		d *prometheus.Desc
		v int64
	}{{total, n.total}, {allocated, n.allocated}, {reserved, n.reserved}, {free, n.free}} {
		ch <- prometheus.MustNewConstMetric(s.d, prometheus.GaugeValue, float64(s.v), name)
	}
}

// reservedSets is the union of every SpiderReservedIP's addresses, per
// family (index 0: IPv4, 1: IPv6); an entry that does not parse reserves
// nothing, as in the agents.
func reservedSets(rs []v2beta1.SpiderReservedIP) [2]ipnet.Set {
	var by [2]ipnet.Set
	for _, r := range rs {
		for _, e := range r.Spec.IPs {
			s, err := ipnet.ParseSet([]string{e})
			if err != nil || s.IsEmpty() {
				continue
			}
			i := famIdx(s.Family())
			by[i], _ = by[i].Union(s)
		}
	}
	return by
}

func famIdx(fam int) int {
	if fam == 6 {
		return 1
	}
	return 0
}

// poolCounts derives a pool's gauges: total as the status writes it
// (totalOf), allocated as the number of its claims, reserved and free from
// the pool's addresses, the reservations of its family and its claimed
// addresses. A pool whose spec does not parse counts its claims only.
func poolCounts(pool *v2beta1.SpiderIPPool, reserved [2]ipnet.Set, claims []v1alpha1.IPClaim) counts {
	n := counts{allocated: int64(len(claims))}
	p, err := spiderpool.PoolOf(pool)
	if err != nil {
		return n
	}
	p.Reserved = reserved[famIdx(ipnet.Family(p.Subnet.Addr()))]
	var taken ipnet.Set
	for _, c := range claims {
		if a, err := netip.ParseAddr(c.Spec.Address); err == nil {
			taken.Insert(a)
		}
	}
	got := p.Counts(taken)
	n.total, n.reserved, n.free = saturate(got.Total), saturate(got.Reserved), saturate(got.Free)
	return n
}

// subnetCounts derives a subnet's gauges as Subnets.Reconcile does: total
// offered, allocated as given to the pools of the same subnet, reserved
// among the offered, and free as offered in no pool and not reserved.
func subnetCounts(subnet *v2beta1.SpiderSubnet, pools []v2beta1.SpiderIPPool, reserved [2]ipnet.Set) counts {
	prefix, err := netip.ParsePrefix(subnet.Spec.Subnet)
	if err != nil {
		return counts{}
	}
	offered := setOf(subnet.Spec.IPs, prefix).Difference(setOf(subnet.Spec.ExcludeIPs, prefix))
	var given ipnet.Set
	for i := range pools {
		if sameSubnet(pools[i].Spec.Subnet, subnet.Spec.Subnet) {
			given, _ = given.Union(setOf(pools[i].Spec.IPs, prefix).Intersect(offered))
		}
	}
	held := offered.Intersect(reserved[famIdx(ipnet.Family(prefix.Addr()))])
	unavailable, _ := given.Union(held)
	return counts{
		total:     saturate(offered.Count()),
		allocated: saturate(given.Count()),
		reserved:  saturate(held.Count()),
		free:      saturate(offered.Difference(unavailable).Count()),
	}
}
