package importer

import (
	"cmp"
	"fmt"
	"net/netip"
	"slices"
	"strings"

	appsv1 "k8s.io/api/apps/v1"
	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/types"

	"github.com/ipkeeper/ipkeeper/api/ipkeeper/v1alpha1"
	"github.com/ipkeeper/ipkeeper/api/v2beta1"
	"github.com/ipkeeper/ipkeeper/internal/ipnet"
	"github.com/ipkeeper/ipkeeper/internal/spiderpool"
)

// Input is the cluster, as the caller listed it.
type Input struct {
	// Pools is every SpiderIPPool. Those awaiting their import
	// (spiderpool.AwaitsImport) are planned.
	Pools []v2beta1.SpiderIPPool
	// Endpoints is every SpiderEndpoint.
	Endpoints []v2beta1.SpiderEndpoint
	// Pods is every pod; only metadata, phase and node are read.
	Pods []corev1.Pod
	// StatefulSets is every StatefulSet.
	StatefulSets []appsv1.StatefulSet
	// Claims is every IPClaim.
	Claims []v1alpha1.IPClaim
	// EnableStatefulSet keeps the address of a StatefulSet pod that is away
	// while its StatefulSet has the ordinal (ipam.enableStatefulSet); off,
	// StatefulSet pods are stateless.
	EnableStatefulSet bool
}

// Result is what Plan decided.
type Result struct {
	// Claims are the claims to create, in address order.
	Claims []*v1alpha1.IPClaim
	// Conflicts are the records that disagree; nothing may be written while
	// there is any.
	Conflicts []Conflict
	// Pools are the pools whose records were planned, by name.
	Pools []PoolSummary
}

// PoolSummary counts what became of one pool's records, by address.
type PoolSummary struct {
	Name string
	// New are addresses to claim.
	New int
	// Held are addresses an IPClaim already holds for the same pod (an
	// earlier, interrupted import).
	Held int
	// Gone are addresses of pods that are gone: skipped, free in ipkeeper.
	Gone int
	// Conflicting are addresses with a conflict.
	Conflicting int
}

// Plan decides the claims that make Spiderpool's allocations ipkeeper's: one
// per address held by a pod that is still there, with the holder, owner,
// ordinal, pool and node Spiderpool recorded. A record whose pod is gone is
// skipped and counted; records that disagree are conflicts.
func Plan(in Input) Result {
	p := newPlanner(in)
	byAddr := p.gather()
	addrs := make([]netip.Addr, 0, len(byAddr))
	for a := range byAddr {
		addrs = append(addrs, a)
	}
	slices.SortFunc(addrs, netip.Addr.Compare)
	for _, a := range addrs {
		p.decide(a, byAddr[a])
	}
	return p.result()
}

// planner holds the indexes Plan looks things up in.
type planner struct {
	in           Input
	pools        map[string]*poolInfo
	pending      map[string]bool
	pods         map[types.NamespacedName]*corev1.Pod
	statefulSets map[types.NamespacedName]*appsv1.StatefulSet
	claims       map[string]*v1alpha1.IPClaim
	summary      map[string]*PoolSummary
	out          Result
}

// poolInfo is a pool with its spec parsed once.
type poolInfo struct {
	obj  *v2beta1.SpiderIPPool
	spec ipnet.Pool
	err  error
	free *ipnet.Set // computed on first use
}

func newPlanner(in Input) *planner {
	p := &planner{
		in: in, pools: map[string]*poolInfo{}, pending: map[string]bool{},
		pods:         map[types.NamespacedName]*corev1.Pod{},
		statefulSets: map[types.NamespacedName]*appsv1.StatefulSet{},
		claims:       map[string]*v1alpha1.IPClaim{}, summary: map[string]*PoolSummary{},
	}
	for i := range in.Pools {
		pool := &in.Pools[i]
		spec, err := spiderpool.PoolOf(pool)
		p.pools[pool.Name] = &poolInfo{obj: pool, spec: spec, err: err}
		if spiderpool.AwaitsImport(pool) {
			p.pending[pool.Name] = true
			p.summary[pool.Name] = &PoolSummary{Name: pool.Name}
		}
	}
	for i := range in.Pods {
		p.pods[types.NamespacedName{Namespace: in.Pods[i].Namespace, Name: in.Pods[i].Name}] = &in.Pods[i]
	}
	for i := range in.StatefulSets {
		p.statefulSets[types.NamespacedName{Namespace: in.StatefulSets[i].Namespace, Name: in.StatefulSets[i].Name}] = &in.StatefulSets[i]
	}
	for i := range in.Claims {
		p.claims[in.Claims[i].Name] = &in.Claims[i]
	}
	return p
}

// decide plans one address from all its records.
func (p *planner) decide(addr netip.Addr, recs []record) {
	holding, claim, kept := p.keptHolding(recs)
	sum := p.summaryOf(recs)
	if !kept {
		sum.Gone++
		return
	}
	if p.disagree(addr, recs) {
		sum.Conflicting++
		return
	}
	if holding.pool == "" {
		// An endpoint that names no pool: the pool's own record says which.
		if pools := distinct(recs, func(r record) string { return r.pool }); len(pools) == 1 {
			holding.pool = pools[0]
			claim = p.claimFor(holding)
		}
	}
	if why := p.outside(holding.pool, addr); why != "" {
		sum.Conflicting++
		p.conflict(Conflict{Kind: ConflictOutsidePool, Address: addr.String(), Objects: objects(recs), Holders: []string{holding.holder()},
			Detail: fmt.Sprintf("%s of pod %s is %s", addr, holding.holder(), why)})
		return
	}
	if cur := p.claims[claim.Name]; cur != nil {
		if SameHolder(cur, claim) {
			sum.Held++
			return
		}
		sum.Conflicting++
		p.conflict(Claimed(claim, cur, objects(recs)...))
		return
	}
	sum.New++
	p.out.Claims = append(p.out.Claims, claim)
}

// keptHolding returns the record that best describes a holding still in
// use (an endpoint record of the holder before a pool record), with its
// claim; kept is false when every pod the records name is gone.
func (p *planner) keptHolding(recs []record) (record, *v1alpha1.IPClaim, bool) {
	for _, endpointFirst := range []bool{true, false} {
		for _, r := range recs {
			if (r.ep != nil) != endpointFirst {
				continue
			}
			if c := p.claimFor(r); p.holds(r, c) {
				return r, c, true
			}
		}
	}
	return record{}, nil, false
}

// holds reports whether the pod incarnation r names still holds the
// address: it exists and has not completed, or it is a StatefulSet pod that
// is away while its StatefulSet still has the ordinal (the rule the agent and
// the garbage collector apply).
func (p *planner) holds(r record, c *v1alpha1.IPClaim) bool {
	if pod := p.pods[r.pod]; pod != nil && pod.UID == r.uid &&
		pod.Status.Phase != corev1.PodSucceeded && pod.Status.Phase != corev1.PodFailed {
		return true
	}
	if !p.in.EnableStatefulSet || c.Spec.Owner.Kind != spiderpool.KindStatefulSet {
		return false
	}
	_, kept := spiderpool.OrdinalSlot(c, p.statefulSets[types.NamespacedName{Namespace: r.pod.Namespace, Name: c.Spec.Owner.Name}])
	return kept
}

// disagree reports, as conflicts, records of one address that name
// different pod incarnations or different pools.
func (p *planner) disagree(addr netip.Addr, recs []record) bool {
	holders, pools := distinct(recs, record.holder), distinct(recs, func(r record) string { return r.pool })
	if len(holders) > 1 {
		p.conflict(Conflict{Kind: ConflictHolders, Address: addr.String(), Objects: objects(recs), Holders: holdersOf(recs),
			Detail: fmt.Sprintf("the records of %s name different pods: %s", addr, describe(recs, record.holder))})
	}
	if len(pools) > 1 {
		p.conflict(Conflict{Kind: ConflictPools, Address: addr.String(), Objects: objects(recs), Holders: holdersOf(recs),
			Detail: fmt.Sprintf("%s is recorded in pools %s: %s", addr, strings.Join(pools, " and "),
				describe(recs, func(r record) string { return "pool " + cmp.Or(r.pool, "(none)") }))})
	}
	return len(holders) > 1 || len(pools) > 1
}

// outside says why the pool may not hand out addr, "" when it may.
func (p *planner) outside(pool string, addr netip.Addr) string {
	info := p.pools[pool]
	switch {
	case pool == "":
		return "recorded without a pool"
	case info == nil:
		return fmt.Sprintf("recorded in SpiderIPPool %s, which does not exist", pool)
	case info.err != nil:
		return fmt.Sprintf("in a pool whose spec does not parse (%v)", info.err)
	}
	if info.free == nil {
		free := info.spec.Free()
		info.free = &free
	}
	if info.free.Contains(addr) {
		return ""
	}
	s := info.spec
	switch {
	case !s.Subnet.Contains(addr):
		return fmt.Sprintf("outside spec.subnet %s of SpiderIPPool %s", s.Subnet, pool)
	case !s.IPs.Contains(addr):
		return "outside spec.ips of SpiderIPPool " + pool
	case s.Exclude.Contains(addr):
		return "in spec.excludeIPs of SpiderIPPool " + pool
	case addr == s.Gateway:
		return "the gateway of SpiderIPPool " + pool
	}
	return fmt.Sprintf("the network or broadcast address of spec.subnet %s of SpiderIPPool %s", s.Subnet, pool)
}

// summaryOf is the summary an address counts in: that of its first pool
// awaiting the import.
func (p *planner) summaryOf(recs []record) *PoolSummary {
	for _, r := range recs {
		if s := p.summary[r.pool]; s != nil {
			return s
		}
	}
	// Unreachable: every address has a record of such a pool.
	return &PoolSummary{}
}

func (p *planner) conflict(c Conflict) { p.out.Conflicts = append(p.out.Conflicts, c) }

func (p *planner) result() Result {
	slices.SortStableFunc(p.out.Conflicts, func(a, b Conflict) int {
		return cmp.Or(compareAddrs(a.Address, b.Address), strings.Compare(string(a.Kind), string(b.Kind)), strings.Compare(a.Detail, b.Detail))
	})
	for _, s := range p.summary {
		p.out.Pools = append(p.out.Pools, *s)
	}
	slices.SortFunc(p.out.Pools, func(a, b PoolSummary) int { return strings.Compare(a.Name, b.Name) })
	return p.out
}

// compareAddrs orders addresses numerically, the empty one first.
func compareAddrs(a, b string) int {
	pa, errA := netip.ParseAddr(a)
	pb, errB := netip.ParseAddr(b)
	if errA != nil || errB != nil {
		return strings.Compare(a, b)
	}
	return pa.Compare(pb)
}

func objects(recs []record) []string {
	return distinct(recs, func(r record) string { return r.object })
}

func holdersOf(recs []record) []string { return distinct(recs, record.holder) }

// distinct returns the values f gives the records, without repeats, in
// record order; empty values are left out.
func distinct(recs []record, f func(record) string) []string {
	var out []string
	for _, r := range recs {
		if v := f(r); v != "" && !slices.Contains(out, v) {
			out = append(out, v)
		}
	}
	return out
}

// describe says what each record states, "object names value".
func describe(recs []record, f func(record) string) string {
	parts := make([]string, 0, len(recs))
	for _, r := range recs {
		parts = append(parts, r.object+" names "+f(r))
	}
	return strings.Join(parts, ", ")
}
