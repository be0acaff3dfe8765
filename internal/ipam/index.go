package ipam

import (
	"fmt"
	"hash/fnv"
	"math"
	"math/rand/v2"
	"net/netip"
	"sync"

	"k8s.io/apimachinery/pkg/types"
	"k8s.io/apimachinery/pkg/util/resourceversion"

	"github.com/ipkeeper/ipkeeper/api/ipkeeper/v1alpha1"
	"github.com/ipkeeper/ipkeeper/api/v2beta1"
	"github.com/ipkeeper/ipkeeper/internal/ipnet"
	"github.com/ipkeeper/ipkeeper/internal/spiderpool"
)

// Index is an agent's in-memory view of allocation state: pools, reserved
// addresses and claims, fed by informer events and by the agent's own writes.
// It answers "which address to try next" without touching the API server.
// All methods are safe for concurrent use.
type Index struct {
	mu       sync.Mutex
	seed     uint64
	pools    map[string]*poolState
	reserved map[string][]ipnet.Set // by SpiderReservedIP name: one set per entry that parses
	// reservedBy is the union of reserved, per family (index 0: v4, 1: v6).
	reservedBy [2]ipnet.Set
	// taken holds every claimed address, per family, whatever its pool.
	taken  [2]ipnet.Set
	claims map[string]*v1alpha1.IPClaim // by claim name: this node's, and those the agent wrote
	// others are the claims of the whole cluster as the agent's metadata
	// watch sees them, by name: enough to know their addresses are taken.
	others   map[string]claimRef
	byPod    map[types.NamespacedName]map[string]bool
	inflight map[netip.Addr]bool
	rand     *rand.Rand
	subnets  map[string]*v2beta1.SpiderSubnet
	// changed is closed, and replaced, when a pool or subnet changes.
	changed chan struct{}
}

type poolState struct {
	obj    *v2beta1.SpiderIPPool
	spec   ipnet.Pool // without Reserved
	err    error      // why the spec cannot be used
	free   ipnet.Set  // spec.Free() with Reserved; recomputed lazily
	stale  bool
	cursor uint64
}

// NewIndex returns an empty index. seed (e.g. a hash of the node name) makes
// each agent start its search at a different place in every pool, so agents
// on different nodes rarely race for the same address.
func NewIndex(seed string) *Index {
	h := fnv.New64a()
	h.Write([]byte(seed))
	sum := h.Sum64()
	return &Index{
		seed:     sum,
		rand:     rand.New(rand.NewPCG(sum, sum>>1|1)),
		pools:    map[string]*poolState{},
		reserved: map[string][]ipnet.Set{},
		claims:   map[string]*v1alpha1.IPClaim{},
		others:   map[string]claimRef{},
		byPod:    map[types.NamespacedName]map[string]bool{},
		inflight: map[netip.Addr]bool{},
		subnets:  map[string]*v2beta1.SpiderSubnet{},
	}
}

func famIdx(f int) int {
	if f == 6 {
		return 1
	}
	return 0
}

// SetPool records a pool's current spec.
func (x *Index) SetPool(p *v2beta1.SpiderIPPool) {
	spec, err := spiderpool.PoolOf(p)
	x.mu.Lock()
	defer x.mu.Unlock()
	st := x.pools[p.Name]
	if st == nil {
		st = &poolState{}
		x.pools[p.Name] = st
		st.cursor = x.seed
	}
	st.obj, st.spec, st.err, st.stale = p, spec, err, true
	x.notifyLocked()
}

// DeletePool forgets a pool.
func (x *Index) DeletePool(name string) {
	x.mu.Lock()
	defer x.mu.Unlock()
	delete(x.pools, name)
	x.notifyLocked()
}

// Pools returns every known pool.
func (x *Index) Pools() []*v2beta1.SpiderIPPool {
	x.mu.Lock()
	defer x.mu.Unlock()
	out := make([]*v2beta1.SpiderIPPool, 0, len(x.pools))
	for _, st := range x.pools {
		out = append(out, st.obj)
	}
	return out
}

// Pool returns the pool of that name, or nil.
func (x *Index) Pool(name string) *v2beta1.SpiderIPPool {
	x.mu.Lock()
	defer x.mu.Unlock()
	if st, ok := x.pools[name]; ok {
		return st.obj
	}
	return nil
}

// Parsed returns the pool of that name with its parsed spec; ok is false
// when the index has no such pool or its spec does not parse.
func (x *Index) Parsed(name string) (*v2beta1.SpiderIPPool, ipnet.Pool, bool) {
	x.mu.Lock()
	defer x.mu.Unlock()
	st, ok := x.pools[name]
	if !ok || st.err != nil {
		return nil, ipnet.Pool{}, false
	}
	return st.obj, st.spec, true
}

// SetReserved records the addresses of one SpiderReservedIP and returns the
// entries that do not parse, which reserve nothing.
func (x *Index) SetReserved(name string, entries []string) (malformed []string) {
	// Fail closed: an entry that does not parse must not cost the others
	// their reservation (the webhook refuses such entries, but it runs only
	// while the controller does). Entries are parsed one by one.
	sets := make([]ipnet.Set, 0, len(entries))
	for _, e := range entries {
		set, err := ipnet.ParseSet([]string{e})
		if err != nil {
			malformed = append(malformed, e)
			continue
		}
		sets = append(sets, set)
	}
	x.mu.Lock()
	defer x.mu.Unlock()
	x.reserved[name] = sets
	x.recomputeReserved()
	return malformed
}

// DeleteReserved forgets one SpiderReservedIP.
func (x *Index) DeleteReserved(name string) {
	x.mu.Lock()
	defer x.mu.Unlock()
	delete(x.reserved, name)
	x.recomputeReserved()
}

func (x *Index) recomputeReserved() {
	var by [2]ipnet.Set
	for _, sets := range x.reserved {
		for _, s := range sets {
			if s.IsEmpty() {
				continue
			}
			i := famIdx(s.Family())
			by[i], _ = by[i].Union(s)
		}
	}
	x.reservedBy = by
	for _, st := range x.pools {
		st.stale = true
	}
}

// IsReserved reports whether a is reserved by any SpiderReservedIP.
func (x *Index) IsReserved(a netip.Addr) bool {
	x.mu.Lock()
	defer x.mu.Unlock()
	return x.reservedBy[famIdx(ipnet.Family(a))].Contains(a)
}

// SetClaim records a claim (from the informer or from the agent's own write).
// Both feed the index, so an informer event can arrive after the agent's own
// write that made it stale (the informer lags, and after an API server
// restart it replays what it missed): a version older than the one recorded
// under the name is ignored, whichever incarnation of the claim either is.
func (x *Index) SetClaim(c *v1alpha1.IPClaim) {
	a, err := netip.ParseAddr(c.Spec.Address)
	if err != nil {
		return
	}
	x.mu.Lock()
	defer x.mu.Unlock()
	if old, ok := x.claims[c.Name]; ok {
		if older(c, old) {
			return
		}
		x.unlinkPod(old)
	}
	x.claims[c.Name] = c
	x.taken[famIdx(ipnet.Family(a))].Insert(a)
	key := types.NamespacedName{Namespace: c.Spec.Holder.Namespace, Name: c.Spec.Holder.Name}
	if x.byPod[key] == nil {
		x.byPod[key] = map[string]bool{}
	}
	x.byPod[key][c.Name] = true
}

// older reports whether c is an earlier version than cur of the claim under
// one name. Resource versions of one resource are comparable; when either
// is not a well-formed one, c is taken as the newer, as an informer would.
func older(c, cur *v1alpha1.IPClaim) bool {
	n, err := resourceversion.CompareResourceVersion(c.ResourceVersion, cur.ResourceVersion)
	return err == nil && n < 0
}

// claimRef is what the metadata of a claim tells: its incarnation and
// version, and the pool of a quarantine claim (its labels); the address is
// the name's.
type claimRef struct {
	uid           types.UID
	rv            string
	addr          netip.Addr
	quarantinedIn string
}

// SetClaimRef records a claim seen only by its metadata (another node's,
// from the metadata watch of every claim): its address is taken.
// quarantinedIn is the pool of a quarantine claim, empty for any other. A
// version older than the one recorded is ignored, as in SetClaim.
func (x *Index) SetClaimRef(name string, uid types.UID, rv, quarantinedIn string) {
	a, err := v1alpha1.AddressOfClaim(name)
	if err != nil {
		return
	}
	x.mu.Lock()
	defer x.mu.Unlock()
	if old, ok := x.others[name]; ok {
		if n, err := resourceversion.CompareResourceVersion(rv, old.rv); err == nil && n < 0 {
			return
		}
	}
	x.others[name] = claimRef{uid: uid, rv: rv, addr: a, quarantinedIn: quarantinedIn}
	x.taken[famIdx(ipnet.Family(a))].Insert(a)
}

// DeleteClaimRef forgets the claim incarnation uid seen by its metadata.
func (x *Index) DeleteClaimRef(name string, uid types.UID) {
	x.mu.Lock()
	defer x.mu.Unlock()
	if cur, ok := x.others[name]; ok && cur.uid == uid {
		delete(x.others, name)
		x.freeLocked(name, cur.addr)
	}
}

// freeLocked frees addr for this agent unless a claim of that name is still
// known, fully or by its metadata.
func (x *Index) freeLocked(name string, addr netip.Addr) {
	if _, ok := x.claims[name]; ok {
		return
	}
	if _, ok := x.others[name]; ok {
		return
	}
	x.taken[famIdx(ipnet.Family(addr))].Remove(addr)
}

// DeleteClaim forgets claim c; its address becomes free for this agent. A
// delete names the incarnation it removed (by UID): the delete event of a
// claim whose address was since claimed again under the same name, arriving
// after the agent's own write of the new claim, leaves the new one alone.
func (x *Index) DeleteClaim(c *v1alpha1.IPClaim) {
	x.mu.Lock()
	defer x.mu.Unlock()
	x.deleteClaimLocked(c)
}

func (x *Index) deleteClaimLocked(c *v1alpha1.IPClaim) {
	cur, ok := x.claims[c.Name]
	if !ok || cur.UID != c.UID {
		return
	}
	delete(x.claims, c.Name)
	x.unlinkPod(cur)
	if a, err := netip.ParseAddr(cur.Spec.Address); err == nil {
		x.freeLocked(c.Name, a)
	}
}

// Released forgets claim c, which this agent has just deleted at its
// version: the whole record, and the metadata one when it is of that version
// or older (the metadata watch has not told the delete yet). The address is
// free for this agent at once, whether the index held the claim whole or by
// metadata only (another node's, released here), unless the claim had
// changed since c (the delete then removed nothing) and the metadata watch
// says so.
func (x *Index) Released(c *v1alpha1.IPClaim) {
	x.mu.Lock()
	defer x.mu.Unlock()
	if o, ok := x.others[c.Name]; ok && o.uid == c.UID {
		if n, err := resourceversion.CompareResourceVersion(o.rv, c.ResourceVersion); err != nil || n <= 0 {
			delete(x.others, c.Name)
		}
	}
	x.deleteClaimLocked(c)
	if a, err := netip.ParseAddr(c.Spec.Address); err == nil {
		x.freeLocked(c.Name, a)
	}
}

func (x *Index) unlinkPod(c *v1alpha1.IPClaim) {
	key := types.NamespacedName{Namespace: c.Spec.Holder.Namespace, Name: c.Spec.Holder.Name}
	delete(x.byPod[key], c.Name)
	if len(x.byPod[key]) == 0 {
		delete(x.byPod, key)
	}
}

// Quarantined counts the pool's quarantine claims: this node's by their
// whole record (this agent quarantines them), the others' by metadata.
func (x *Index) Quarantined(pool string) int {
	x.mu.Lock()
	defer x.mu.Unlock()
	n := 0
	for _, c := range x.claims {
		if c.Quarantined() && c.Spec.Pool == pool {
			n++
		}
	}
	for name, r := range x.others {
		if _, whole := x.claims[name]; !whole && r.quarantinedIn == pool {
			n++
		}
	}
	return n
}

// ClaimsOf returns the claims held under a pod's namespace and name, by any
// incarnation of it.
func (x *Index) ClaimsOf(pod types.NamespacedName) []*v1alpha1.IPClaim {
	x.mu.Lock()
	defer x.mu.Unlock()
	out := make([]*v1alpha1.IPClaim, 0, len(x.byPod[pod]))
	for name := range x.byPod[pod] {
		out = append(out, x.claims[name])
	}
	return out
}

// Claims returns every claim the index knows.
func (x *Index) Claims() []*v1alpha1.IPClaim {
	x.mu.Lock()
	defer x.mu.Unlock()
	out := make([]*v1alpha1.IPClaim, 0, len(x.claims))
	for _, c := range x.claims {
		out = append(out, c)
	}
	return out
}

// Next picks the next address of pool to try and marks it in flight, so that
// concurrent requests on this agent never try the same address. The caller
// must end the attempt with Done. ok is false when the pool has no address
// left that is neither taken nor in flight.
func (x *Index) Next(pool string) (netip.Addr, bool, error) {
	x.mu.Lock()
	defer x.mu.Unlock()
	st, ok := x.pools[pool]
	if !ok {
		return netip.Addr{}, false, fmt.Errorf("pool %q is not known to this agent yet", pool)
	}
	if st.err != nil {
		return netip.Addr{}, false, st.err
	}
	free := x.freeOf(st)
	if free.IsEmpty() {
		return netip.Addr{}, false, nil
	}
	n, fits := free.CountUint64()
	if !fits {
		n = math.MaxUint64
	}
	taken := &x.taken[famIdx(ipnet.Family(st.spec.Subnet.Addr()))]
	it := ipnet.NewIterator(free, taken, st.cursor%n)
	var near [nearCandidates]netip.Addr
	k := 0
	for k < len(near) {
		a, more := it.Next()
		if !more {
			break
		}
		if !x.inflight[a] {
			near[k] = a
			k++
		}
	}
	if k == 0 {
		return netip.Addr{}, false, nil
	}
	// Start the next search after the first candidate: a freed address goes
	// to the back of the line instead of being handed straight out again.
	rank, _ := free.Rank(near[0])
	st.cursor = rank + 1
	a := near[x.rand.IntN(k)]
	x.inflight[a] = true
	return a, true, nil
}

// nearCandidates is how many of the next free addresses Next chooses among,
// at random: two agents whose cursors are in the same stretch of a nearly
// full pool then mostly try different addresses instead of racing for the
// first one.
const nearCandidates = 4

// Done ends an attempt on a: claimed means the address is now held (by this
// agent or, after AlreadyExists, by someone else).
func (x *Index) Done(a netip.Addr, claimed bool) {
	x.mu.Lock()
	defer x.mu.Unlock()
	delete(x.inflight, a)
	if claimed {
		x.taken[famIdx(ipnet.Family(a))].Insert(a)
	}
}

// Scatter moves the pool's cursor to an address chosen at random among those
// still free. The allocator calls it after losing a race (AlreadyExists):
// the winner is usually taking the addresses right after this one, so
// following it would lose again and again; agents that jump apart stop
// meeting. The choice is uniform over the free addresses, not over the
// pool: a random place in the pool lands, after the claimed run it falls
// into, on the first free address behind the longest runs, which is where
// other agents are allocating (their fronts) once the pool fills up.
func (x *Index) Scatter(pool string) {
	x.mu.Lock()
	defer x.mu.Unlock()
	st, ok := x.pools[pool]
	if !ok || st.err != nil {
		return
	}
	free := x.freeOf(st)
	open := free.Difference(x.taken[famIdx(ipnet.Family(st.spec.Subnet.Addr()))])
	n, fits := open.CountUint64()
	switch {
	case n == 0:
		return
	case !fits: // a huge pool (IPv6) is nowhere near full: any place will do
		st.cursor = x.rand.Uint64()
		return
	}
	a, _ := open.Nth(x.rand.Uint64N(n))
	if r, ok := free.Rank(a); ok {
		st.cursor = r
	}
}

// PoolCounts returns a pool's counts for error messages.
func (x *Index) PoolCounts(pool string) (ipnet.Counts, bool) {
	x.mu.Lock()
	defer x.mu.Unlock()
	st, ok := x.pools[pool]
	if !ok || st.err != nil {
		return ipnet.Counts{}, false
	}
	p := st.spec
	p.Reserved = x.reservedBy[famIdx(ipnet.Family(p.Subnet.Addr()))]
	return p.Counts(x.taken[famIdx(ipnet.Family(p.Subnet.Addr()))]), true
}

// PoolAllows reports whether a is one the pool may hand out now (inside ips,
// not excluded, not reserved, not the gateway).
func (x *Index) PoolAllows(pool string, a netip.Addr) bool {
	x.mu.Lock()
	defer x.mu.Unlock()
	st, ok := x.pools[pool]
	if !ok || st.err != nil {
		return false
	}
	return x.freeOf(st).Contains(a)
}

func (x *Index) freeOf(st *poolState) ipnet.Set {
	if st.stale {
		p := st.spec
		p.Reserved = x.reservedBy[famIdx(ipnet.Family(p.Subnet.Addr()))]
		st.free = p.Free()
		st.stale = false
	}
	return st.free
}
