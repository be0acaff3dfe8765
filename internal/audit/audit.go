// Package audit checks the invariants of ipkeeper's state (DESIGN.md §2) on
// a snapshot of the cluster's objects: no address held by two live pods, no
// claim without a live holder once the garbage collector has had its window,
// every SpiderEndpoint backed by the claims it shows, every claim inside its
// pool and outside the reservations made before it, every running pod with
// an address, and pool status counts that agree with the claims.
//
// It is pure: the caller lists the objects (the chaos run, kubectl ipkeeper
// check) and passes them with the time of the check; Check returns findings.
// This package may import only the standard library, k8s.io/api,
// k8s.io/apimachinery, ipkeeper's api/ packages, internal/ipnet and
// internal/spiderpool; never client-go or controller-runtime.
package audit

import (
	"fmt"
	"net/netip"
	"sort"
	"strings"
	"time"

	appsv1 "k8s.io/api/apps/v1"
	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/types"

	"github.com/ipkeeper/ipkeeper/api/ipkeeper/v1alpha1"
	"github.com/ipkeeper/ipkeeper/api/v2beta1"
	"github.com/ipkeeper/ipkeeper/internal/ipnet"
	"github.com/ipkeeper/ipkeeper/internal/spiderpool"
)

// Kind names what a finding is about.
type Kind string

// The kinds of finding, most serious first.
const (
	// DuplicateAddress: two live pods show the same address.
	DuplicateAddress Kind = "duplicate-address"
	// ClaimWithoutHolder: a claim whose holder is gone (and, for a
	// StatefulSet claim, whose ordinal is gone) older than the GC window.
	ClaimWithoutHolder Kind = "claim-without-holder"
	// PodAddressUnclaimed: a live pod shows an address no claim gives it.
	PodAddressUnclaimed Kind = "pod-address-unclaimed"
	// PodWithoutAddress: a pod that should run has no address, or has not
	// started within the start window.
	PodWithoutAddress Kind = "pod-without-address"
	// EndpointWithoutClaim: a SpiderEndpoint shows an address no claim of
	// that pod backs.
	EndpointWithoutClaim Kind = "endpoint-without-claim"
	// ClaimOutsidePool: a claim's address is not in its pool's free set (its
	// ips minus excludeIPs, gateway, network and broadcast), or its pool is
	// missing.
	ClaimOutsidePool Kind = "claim-outside-pool"
	// ClaimReserved: a claim made after a SpiderReservedIP reserved its
	// address.
	ClaimReserved Kind = "claim-reserved"
	// PoolCountMismatch: a pool's status.allocatedIPCount differs from the
	// number of its claims.
	PoolCountMismatch Kind = "pool-count-mismatch"
)

// Finding is one broken invariant.
type Finding struct {
	Kind Kind
	// Object names what is wrong: "IPClaim 10.6.10.3", "Pod ns/name" …
	Object string
	// Address is the address concerned, when there is one.
	Address string
	// Detail says what was expected and what was found.
	Detail string
	// Age is how long the object has existed, when it matters (claims).
	Age time.Duration
}

func (f Finding) String() string {
	s := fmt.Sprintf("%s: %s", f.Kind, f.Object)
	if f.Address != "" {
		s += " (" + f.Address + ")"
	}
	if f.Detail != "" {
		s += ": " + f.Detail
	}
	if f.Age > 0 {
		s += fmt.Sprintf(" [age %s]", f.Age.Round(time.Second))
	}
	return s
}

// Input is a snapshot of the cluster and the windows the check allows.
type Input struct {
	Claims       []v1alpha1.IPClaim
	Endpoints    []v2beta1.SpiderEndpoint
	Pods         []corev1.Pod
	StatefulSets []appsv1.StatefulSet
	Pools        []v2beta1.SpiderIPPool
	Reserved     []v2beta1.SpiderReservedIP
	// Now is the time of the snapshot.
	Now time.Time
	// GCWindow is how old a claim without a live holder may be before it is
	// a leak: the garbage collector's scan period plus its margin past a
	// terminating pod's deadline.
	GCWindow time.Duration
	// StartWindow is how long a pod may go without an address before it is
	// a finding (it waits for a node, an agent, a retry).
	StartWindow time.Duration
	// ReservationGrace is how long after a SpiderReservedIP's creation an
	// agent may still hand out its addresses (its cache catching up).
	ReservationGrace time.Duration
}

// Live reports whether a pod counts as holding its address at now: not
// Succeeded or Failed, and not being deleted past its grace period (the
// API server's deletionTimestamp is the request time plus the grace).
func Live(p *corev1.Pod, now time.Time) bool {
	if p.Status.Phase == corev1.PodSucceeded || p.Status.Phase == corev1.PodFailed {
		return false
	}
	return p.DeletionTimestamp == nil || now.Before(p.DeletionTimestamp.Time)
}

// PodAddresses returns the addresses a pod's status shows.
func PodAddresses(p *corev1.Pod) []netip.Addr {
	if p.Spec.HostNetwork {
		return nil // the node's own addresses, which no IPAM hands out
	}
	seen := map[netip.Addr]bool{}
	var out []netip.Addr
	add := func(s string) {
		if a, err := netip.ParseAddr(s); err == nil && !seen[a.Unmap()] {
			seen[a.Unmap()] = true
			out = append(out, a.Unmap())
		}
	}
	add(p.Status.PodIP)
	for _, ip := range p.Status.PodIPs {
		add(ip.IP)
	}
	return out
}

// Duplicates returns a finding for every address that two or more live pods
// show at now. It is the check the chaos run samples during the run.
func Duplicates(pods []corev1.Pod, now time.Time) []Finding {
	holders := map[netip.Addr][]string{}
	for i := range pods {
		p := &pods[i]
		if !Live(p, now) {
			continue
		}
		for _, a := range PodAddresses(p) {
			holders[a] = append(holders[a], p.Namespace+"/"+p.Name+" uid "+string(p.UID))
		}
	}
	var out []Finding
	for a, hs := range holders {
		if len(hs) > 1 {
			sort.Strings(hs)
			out = append(out, Finding{Kind: DuplicateAddress, Object: "Pods " + strings.Join(hs, ", "), Address: a.String(),
				Detail: fmt.Sprintf("%d live pods show this address", len(hs))})
		}
	}
	sortFindings(out)
	return out
}

// Check returns every broken invariant of the snapshot, sorted by kind and
// object.
func Check(in Input) []Finding {
	x := newIndex(in)
	out := Duplicates(in.Pods, in.Now)
	out = append(out, x.claimFindings()...)
	out = append(out, x.podFindings()...)
	out = append(out, x.endpointFindings()...)
	out = append(out, x.poolCountFindings()...)
	sortFindings(out)
	return out
}

type index struct {
	in     Input
	pods   map[types.NamespacedName]*corev1.Pod
	sts    map[types.NamespacedName]*appsv1.StatefulSet
	pools  map[string]*v2beta1.SpiderIPPool
	claims map[netip.Addr]*v1alpha1.IPClaim
	// reserved is, per SpiderReservedIP, its addresses and creation time.
	reserved []reservation
}

type reservation struct {
	name    string
	set     ipnet.Set
	created time.Time
}

func newIndex(in Input) *index {
	x := &index{in: in, pods: map[types.NamespacedName]*corev1.Pod{}, sts: map[types.NamespacedName]*appsv1.StatefulSet{},
		pools: map[string]*v2beta1.SpiderIPPool{}, claims: map[netip.Addr]*v1alpha1.IPClaim{}}
	for i := range in.Pods {
		p := &in.Pods[i]
		x.pods[types.NamespacedName{Namespace: p.Namespace, Name: p.Name}] = p
	}
	for i := range in.StatefulSets {
		s := &in.StatefulSets[i]
		x.sts[types.NamespacedName{Namespace: s.Namespace, Name: s.Name}] = s
	}
	for i := range in.Pools {
		x.pools[in.Pools[i].Name] = &in.Pools[i]
	}
	for i := range in.Claims {
		c := &in.Claims[i]
		if a, err := netip.ParseAddr(c.Spec.Address); err == nil {
			x.claims[a.Unmap()] = c
		}
	}
	for i := range in.Reserved {
		r := &in.Reserved[i]
		for _, e := range r.Spec.IPs {
			// Entry by entry, as the agent reads them: a malformed one
			// reserves nothing but does not void the others.
			if set, err := ipnet.ParseSet([]string{e}); err == nil {
				x.reserved = append(x.reserved, reservation{name: r.Name, set: set, created: r.CreationTimestamp.Time})
			}
		}
	}
	return x
}

func (x *index) claimFindings() []Finding {
	var out []Finding
	for i := range x.in.Claims {
		c := &x.in.Claims[i]
		obj := "IPClaim " + c.Name
		age := x.in.Now.Sub(c.CreationTimestamp.Time)
		addr, err := netip.ParseAddr(c.Spec.Address)
		if err != nil {
			out = append(out, Finding{Kind: ClaimOutsidePool, Object: obj, Address: c.Spec.Address, Detail: "spec.address does not parse"})
			continue
		}
		addr = addr.Unmap()
		if !x.held(c) && age > x.in.GCWindow {
			out = append(out, Finding{Kind: ClaimWithoutHolder, Object: obj, Address: addr.String(), Age: age,
				Detail: fmt.Sprintf("holder %s/%s uid %s is gone", c.Spec.Holder.Namespace, c.Spec.Holder.Name, c.Spec.Holder.UID)})
		}
		if why := x.outsidePool(c, addr); why != "" {
			out = append(out, Finding{Kind: ClaimOutsidePool, Object: obj, Address: addr.String(), Detail: why})
		}
		for _, r := range x.reserved {
			if r.set.Contains(addr) && c.CreationTimestamp.After(r.created.Add(x.in.ReservationGrace)) {
				out = append(out, Finding{Kind: ClaimReserved, Object: obj, Address: addr.String(),
					Detail: fmt.Sprintf("made at %s, after SpiderReservedIP %s (%s) reserved it",
						c.CreationTimestamp.UTC().Format(time.RFC3339), r.name, r.created.UTC().Format(time.RFC3339))})
			}
		}
	}
	return out
}

// held reports whether a claim's holder is live (a quarantine claim always
// is: it keeps its address from every pod): its pod incarnation runs,
// or, for a StatefulSet claim, the StatefulSet still has its ordinal (the
// pod restarts). This is the garbage collector's rule seen from outside.
func (x *index) held(c *v1alpha1.IPClaim) bool {
	if c.Quarantined() {
		// Held for no pod on purpose: another host answered for it.
		return true
	}
	h := c.Spec.Holder
	pod := x.pods[types.NamespacedName{Namespace: h.Namespace, Name: h.Name}]
	if pod != nil && (h.UID == "" || pod.UID == h.UID) && Live(pod, x.in.Now) {
		return true
	}
	if c.Spec.Owner.Kind != spiderpool.KindStatefulSet {
		return false
	}
	sts := x.sts[types.NamespacedName{Namespace: h.Namespace, Name: c.Spec.Owner.Name}]
	if sts == nil {
		return false
	}
	_, kept := spiderpool.OrdinalSlot(c, sts)
	return kept
}

// outsidePool says why a claim's address cannot be one of its pool's, or
// "" when it can.
func (x *index) outsidePool(c *v1alpha1.IPClaim, addr netip.Addr) string {
	pool := x.pools[c.Spec.Pool]
	if pool == nil {
		return fmt.Sprintf("pool %q does not exist", c.Spec.Pool)
	}
	p, err := spiderpool.PoolOf(pool)
	if err != nil {
		return fmt.Sprintf("pool %q does not parse: %v", c.Spec.Pool, err)
	}
	if !p.Free().Contains(addr) {
		return fmt.Sprintf("not in the free set of pool %q (ips %s, excludeIPs %s)", c.Spec.Pool,
			strings.Join(pool.Spec.IPs, ","), strings.Join(pool.Spec.ExcludeIPs, ","))
	}
	return ""
}

func (x *index) podFindings() []Finding {
	var out []Finding
	for i := range x.in.Pods {
		p := &x.in.Pods[i]
		if !Live(p, x.in.Now) || p.DeletionTimestamp != nil || p.Spec.HostNetwork {
			continue
		}
		obj := "Pod " + p.Namespace + "/" + p.Name
		addrs := PodAddresses(p)
		if len(addrs) == 0 {
			age := x.in.Now.Sub(p.CreationTimestamp.Time)
			if p.Status.Phase == corev1.PodRunning || age > x.in.StartWindow {
				out = append(out, Finding{Kind: PodWithoutAddress, Object: obj, Age: age,
					Detail: fmt.Sprintf("phase %s, node %q, no address", p.Status.Phase, p.Spec.NodeName)})
			}
			continue
		}
		for _, a := range addrs {
			c := x.claims[a]
			if c == nil || c.Spec.Holder.Namespace != p.Namespace || c.Spec.Holder.Name != p.Name || (c.Spec.Holder.UID != "" && c.Spec.Holder.UID != p.UID) {
				out = append(out, Finding{Kind: PodAddressUnclaimed, Object: obj, Address: a.String(), Detail: claimDetail(c)})
			}
		}
	}
	return out
}

func claimDetail(c *v1alpha1.IPClaim) string {
	if c == nil {
		return "no claim of this address"
	}
	return fmt.Sprintf("its claim names %s/%s uid %s", c.Spec.Holder.Namespace, c.Spec.Holder.Name, c.Spec.Holder.UID)
}

func (x *index) endpointFindings() []Finding {
	var out []Finding
	for i := range x.in.Endpoints {
		ep := &x.in.Endpoints[i]
		obj := "SpiderEndpoint " + ep.Namespace + "/" + ep.Name
		for _, d := range ep.Status.Current.IPs {
			for _, v := range []*string{d.IPv4, d.IPv6} {
				if v == nil || *v == "" {
					continue
				}
				a, ok := endpointAddr(*v)
				if !ok {
					out = append(out, Finding{Kind: EndpointWithoutClaim, Object: obj, Address: *v, Detail: "address does not parse"})
					continue
				}
				c := x.claims[a]
				if c == nil || c.Spec.Holder.Namespace != ep.Namespace || c.Spec.Holder.Name != ep.Name || c.Spec.Holder.Interface != d.Interface {
					out = append(out, Finding{Kind: EndpointWithoutClaim, Object: obj, Address: a.String(),
						Detail: "interface " + d.Interface + ": " + claimDetail(c)})
				}
			}
		}
	}
	return out
}

// endpointAddr parses an endpoint's address, written with its prefix length.
func endpointAddr(s string) (netip.Addr, bool) {
	if p, err := netip.ParsePrefix(s); err == nil {
		return p.Addr().Unmap(), true
	}
	a, err := netip.ParseAddr(s)
	return a.Unmap(), err == nil
}

func (x *index) poolCountFindings() []Finding {
	count := map[string]int64{}
	for i := range x.in.Claims {
		count[x.in.Claims[i].Spec.Pool]++
	}
	var out []Finding
	for i := range x.in.Pools {
		p := &x.in.Pools[i]
		var got int64
		if p.Status.AllocatedIPCount != nil {
			got = *p.Status.AllocatedIPCount
		}
		if got != count[p.Name] {
			out = append(out, Finding{Kind: PoolCountMismatch, Object: "SpiderIPPool " + p.Name,
				Detail: fmt.Sprintf("status.allocatedIPCount %d, %d claims", got, count[p.Name])})
		}
	}
	return out
}

var kindOrder = map[Kind]int{DuplicateAddress: 0, ClaimWithoutHolder: 1, PodAddressUnclaimed: 2, PodWithoutAddress: 3,
	EndpointWithoutClaim: 4, ClaimOutsidePool: 5, ClaimReserved: 6, PoolCountMismatch: 7}

func sortFindings(fs []Finding) {
	sort.SliceStable(fs, func(i, j int) bool {
		if kindOrder[fs[i].Kind] != kindOrder[fs[j].Kind] {
			return kindOrder[fs[i].Kind] < kindOrder[fs[j].Kind]
		}
		if fs[i].Object != fs[j].Object {
			return fs[i].Object < fs[j].Object
		}
		return fs[i].Address < fs[j].Address
	})
}
