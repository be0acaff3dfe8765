package ipam

import (
	"context"
	"errors"
	"fmt"
	"net/netip"
	"slices"
	"strings"
	"sync"
	"time"

	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/types"

	"github.com/ipkeeper/ipkeeper/api/ipkeeper/v1alpha1"
	"github.com/ipkeeper/ipkeeper/api/v2beta1"
	"github.com/ipkeeper/ipkeeper/internal/ipnet"
	"github.com/ipkeeper/ipkeeper/internal/spiderpool"
)

// Config tunes an Allocator.
type Config struct {
	// Node is the agent's node.
	Node string
	// EnableStatefulSet keeps StatefulSet pods' addresses across restarts
	// (Helm value ipam.enableStatefulSet upstream). Off: they are stateless.
	EnableStatefulSet bool
	// EnableIPv4 and EnableIPv6 (config enableIPv4/enableIPv6): true requires
	// an address of the family on every interface, false hands none out, nil
	// gives one of each family the interface's pools are of.
	EnableIPv4, EnableIPv6 *bool
	// DisableAutoPools refuses pods that ask for an automatic pool (SpiderSubnets
	// or automatic pools off in the configuration) with a clear error.
	DisableAutoPools bool
	// MaxConflicts bounds the AlreadyExists retries of one allocation.
	MaxConflicts int
	// AutoPoolWait bounds how long an ADD waits for the workload's
	// automatic pools to appear; zero does not wait.
	AutoPoolWait time.Duration
	// Multus is the node's Multus namespace and cluster default network
	// (configuration multusNamespace and clusterNetwork).
	Multus spiderpool.Multus
}

// familyPolicy is EnableIPv4 or EnableIPv6.
func (c Config) familyPolicy(fam int) *bool {
	if fam == 6 {
		return c.EnableIPv6
	}
	return c.EnableIPv4
}

// Allocator gives and takes back the addresses of one node's pods.
type Allocator struct {
	cfg     Config
	index   *Index
	store   Store
	cluster Cluster
	locks   podLocks
	written writtenEndpoints
	unsure  unsureClaims
	// Conflicts counts claims lost to another writer (AlreadyExists), for metrics.
	Conflicts func()
}

// New returns an Allocator over an index fed by informers.
func New(cfg Config, index *Index, store Store, cluster Cluster) *Allocator {
	if cfg.MaxConflicts == 0 {
		cfg.MaxConflicts = 64
	}
	return &Allocator{cfg: cfg, index: index, store: store, cluster: cluster, Conflicts: func() {}}
}

// AllocationError means no candidate pool could give an address; Msg says
// which pools were considered and why each could not, Reason is one of the
// Reason constants (empty counts as ReasonNoCandidatePool).
type AllocationError struct{ Msg, Reason string }

func (e *AllocationError) Error() string { return e.Msg }

// request is one ADD, resolved against the cluster.
type request struct {
	*AddRequest
	pod     *corev1.Pod
	key     types.NamespacedName
	owner   v1alpha1.ClaimOwner
	ordinal *int32
	sel     *Selection
	// routes are the pod's ipam.spidernet.io/routes.
	routes []spiderpool.Route
	// claims are those held under the pod's namespace and name: this
	// node's from the index, and for a StatefulSet pod every node's.
	claims []*v1alpha1.IPClaim
}

// Add gives one interface of a pod its addresses, one per family its pools
// name. Repeating an Add for the same pod incarnation and interface returns
// the same addresses.
func (a *Allocator) Add(ctx context.Context, in *AddRequest) (*Allocation, error) {
	key := in.Pod.Key()
	unlock := a.locks.lock(key)
	defer unlock()

	req, err := a.resolve(ctx, in, key)
	if err != nil {
		return nil, err
	}
	if err := a.settleUnsure(ctx, req); err != nil {
		return nil, err
	}
	if req.claims, err = a.claimsOf(ctx, req); err != nil {
		return nil, err
	}
	held, stale := a.sortClaims(req)
	families, err := a.families(req)
	if err != nil {
		return nil, err
	}
	var got []grant
	for _, fam := range families {
		g, err := a.claimFamily(ctx, req, fam, held[fam])
		if err != nil {
			a.rollback(ctx, got, held)
			return nil, err
		}
		got = append(got, g)
	}
	alloc, err := a.allocation(req, got)
	if err != nil {
		a.rollback(ctx, got, held)
		return nil, err
	}
	v, err := a.store.PutEndpoint(ctx, a.endpoint(req, alloc))
	if err != nil {
		a.rollback(ctx, got, held)
		return nil, fmt.Errorf("record endpoint: %w", err)
	}
	if !a.stateful(req.owner) {
		a.written.put(req.pod.UID, v)
	}
	// What the pod held and no longer uses: claims of older incarnations, and
	// a held claim the pod moved away from (ipkeeper.io/ordinal-ips changed).
	for _, h := range mapValues(held) {
		stale = append(stale, h.claim)
	}
	for _, c := range stale {
		if !slices.ContainsFunc(got, func(g grant) bool { return g.claim.Name == c.Name }) {
			_ = a.release(ctx, c)
		}
	}
	return alloc, nil
}

// families are the IP families the interface gets an address of: those its
// deciding rule names pools for, as the configuration's enableIPv4 and
// enableIPv6 allow or require.
func (a *Allocator) families(req *request) ([]int, error) {
	var out []int
	for _, fam := range []int{4, 6} {
		named := slices.Contains(req.sel.Families(), fam)
		switch policy := a.cfg.familyPolicy(fam); {
		case policy == nil && named, policy != nil && *policy && named:
			out = append(out, fam)
		case policy != nil && *policy:
			return nil, &AllocationError{Reason: ReasonNoCandidatePool, Msg: fmt.Sprintf("no IPv%d address for interface %s of pod %s: IPv%d is on in this cluster (enableIPv%d), so every interface needs one, but %s names no IPv%d pool",
				fam, req.IfName, req.key, fam, fam, req.sel.Rule, fam)}
		}
	}
	return out, nil
}

// grant is a claim an Add holds for the pod, with its address parsed once.
type grant struct {
	claim *v1alpha1.IPClaim
	addr  netip.Addr
}

// resolve loads the pod and everything pool choice needs.
func (a *Allocator) resolve(ctx context.Context, in *AddRequest, key types.NamespacedName) (*request, error) {
	pod, err := a.cluster.Pod(ctx, key, in.Pod.UID)
	if err != nil {
		return nil, fmt.Errorf("get pod %s: %w", key, err)
	}
	if in.Pod.UID != "" && pod.UID != in.Pod.UID {
		return nil, fmt.Errorf("pod %s has uid %s, not %s: %w", key, pod.UID, in.Pod.UID, ErrNotFound)
	}
	owner, err := a.cluster.TopOwner(ctx, pod)
	if err != nil {
		return nil, fmt.Errorf("find owner of pod %s: %w", key, err)
	}
	ns, err := a.cluster.Namespace(ctx, pod.Namespace)
	if err != nil && !errors.Is(err, ErrNotFound) {
		return nil, fmt.Errorf("get namespace %s: %w", pod.Namespace, err)
	}
	node, err := a.cluster.Node(ctx)
	if err != nil {
		return nil, fmt.Errorf("get node %s: %w", a.cfg.Node, err)
	}
	if err := a.awaitAutoPools(ctx, pod, owner); err != nil {
		return nil, err
	}
	sel, err := Select(SelectInput{
		Pod: pod, Namespace: ns, Node: node, IfName: in.IfName, NAD: spiderpool.NetworkOf(pod, in.IfName, a.cfg.Multus), Multus: a.cfg.Multus,
		NetconfIPv4: in.DefaultIPv4Pools, NetconfIPv6: in.DefaultIPv6Pools,
		AutoPools: a.autoPools(owner, in.IfName), AutoPoolsOff: a.cfg.DisableAutoPools, Pools: a.index.Pools(),
	})
	if err != nil {
		return nil, err
	}
	routes, err := annotationRoutes(pod)
	if err != nil {
		return nil, err
	}
	req := &request{AddRequest: in, pod: pod, key: key, owner: owner, sel: sel, routes: routes}
	if a.stateful(owner) {
		req.ordinal = spiderpool.OrdinalOf(pod.Name, owner.Name)
	}
	return req, nil
}

func (a *Allocator) stateful(owner v1alpha1.ClaimOwner) bool {
	return a.cfg.EnableStatefulSet && owner.Kind == spiderpool.KindStatefulSet
}

// claimsOf returns the claims held under the pod's name. The index holds
// this node's claims whole and the other nodes' by address only; a
// StatefulSet ordinal's claim follows its pod to whichever node it runs on,
// so a StatefulSet pod's are read from the API server instead (one list by
// field selector per ADD of such a pod, a consistent read).
func (a *Allocator) claimsOf(ctx context.Context, req *request) ([]*v1alpha1.IPClaim, error) {
	if !a.stateful(req.owner) {
		return a.index.ClaimsOf(req.key), nil
	}
	listed, err := a.store.ClaimsOfPod(ctx, req.key)
	if err != nil {
		return nil, fmt.Errorf("list the claims of pod %s: %w", req.key, err)
	}
	return listed, nil
}

// sortClaims splits the claims under the pod's name for this interface into
// those the request may keep (per family) and stale ones of older incarnations.
func (a *Allocator) sortClaims(req *request) (map[int]grant, []*v1alpha1.IPClaim) {
	held := map[int]grant{}
	var stale []*v1alpha1.IPClaim
	for _, c := range req.claims {
		if c.Spec.Holder.Interface != req.IfName {
			continue
		}
		addr, err := netip.ParseAddr(c.Spec.Address)
		if err != nil {
			continue
		}
		fam := ipnet.Family(addr)
		if _, ok := held[fam]; !ok && a.mayKeep(req, c, fam, addr) {
			held[fam] = grant{claim: c, addr: addr}
			continue
		}
		stale = append(stale, c)
	}
	return held, stale
}

// mayKeep reports whether claim c can serve this request: it is this very
// incarnation's, or this StatefulSet ordinal's and its pool is still a
// candidate that allows the address (not reserved or excluded since).
func (a *Allocator) mayKeep(req *request, c *v1alpha1.IPClaim, fam int, addr netip.Addr) bool {
	if c.Spec.Holder.UID == req.pod.UID {
		return true
	}
	if !a.stateful(req.owner) || c.Spec.Owner.Kind != spiderpool.KindStatefulSet || c.Spec.Owner.Name != req.owner.Name {
		return false
	}
	candidate := slices.ContainsFunc(req.sel.Pools[fam], func(p *v2beta1.SpiderIPPool) bool { return p.Name == c.Spec.Pool })
	return candidate && a.index.PoolAllows(c.Spec.Pool, addr)
}

// claimFamily returns the request's claim for one family: the held one
// (taken over by this incarnation if needed) or a new one.
func (a *Allocator) claimFamily(ctx context.Context, req *request, fam int, held grant) (grant, error) {
	if want, ok, err := a.ordinalAddress(ctx, req, fam); err != nil {
		return grant{}, err
	} else if ok {
		if held.claim != nil && held.addr == want {
			return a.takeOver(ctx, req, held)
		}
		return a.claimExact(ctx, req, fam, want)
	}
	if held.claim != nil {
		return a.takeOver(ctx, req, held)
	}
	return a.claimNew(ctx, req, fam)
}

// takeOver points a held claim at this incarnation (a StatefulSet pod
// restarted with a new UID); a no-op when it already is.
func (a *Allocator) takeOver(ctx context.Context, req *request, held grant) (grant, error) {
	c, want := held.claim, a.holder(req)
	if c.Spec.Holder == want && c.Spec.Node == a.cfg.Node {
		return held, nil
	}
	updated := c.DeepCopy()
	updated.Spec.Holder, updated.Spec.Node, updated.Spec.Owner = want, a.cfg.Node, req.owner
	updated.Labels = claimLabels(c.Spec.Pool, a.cfg.Node)
	out, err := a.store.UpdateClaim(ctx, updated)
	if err != nil {
		return grant{}, fmt.Errorf("take over %s for pod %s: %w", c.Spec.Address, req.key, err)
	}
	a.index.SetClaim(out)
	return grant{claim: out, addr: held.addr}, nil
}

// claimNew takes a free address from the first candidate pool that has one.
func (a *Allocator) claimNew(ctx context.Context, req *request, fam int) (grant, error) {
	var why []string
	for _, p := range req.sel.Pools[fam] {
		g, reason, err := a.claimFromPool(ctx, req, p.Name)
		if err != nil {
			return grant{}, err
		}
		if g.claim != nil {
			return g, nil
		}
		why = append(why, fmt.Sprintf("pool %s: %s", p.Name, reason))
	}
	reason := ReasonExhausted
	if len(req.sel.Pools[fam]) == 0 {
		reason = ReasonNoCandidatePool
	}
	return grant{}, a.noAddress(req, fam, reason, why)
}

func (a *Allocator) noAddress(req *request, fam int, reason string, why []string) error {
	if d := req.sel.Describe(); d != "" {
		why = append(why, d)
	}
	return &AllocationError{Reason: reason, Msg: fmt.Sprintf("no IPv%d address for interface %s of pod %s (%s): %s",
		fam, req.IfName, req.key, req.sel.Rule, strings.Join(why, "; "))}
}

// claimFromPool tries the pool's free addresses in this agent's order until a
// create succeeds. A nil claim with a reason means the pool is full.
func (a *Allocator) claimFromPool(ctx context.Context, req *request, pool string) (grant, string, error) {
	for conflicts := 0; conflicts < a.cfg.MaxConflicts; {
		addr, ok, err := a.index.Next(pool)
		if err != nil {
			return grant{}, err.Error(), nil
		}
		if !ok {
			return grant{}, a.exhausted(pool), nil
		}
		c, err := a.store.CreateClaim(ctx, a.newClaim(req, pool, addr))
		switch {
		case err == nil && !a.index.PoolAllows(pool, addr):
			// The pool changed while the create was in flight (an edit took
			// the address out, or a reservation took it): the webhook let
			// the edit through because no claim held the address yet. Give
			// it back and look again in the pool as it is now.
			a.index.Done(addr, true)
			if err := a.release(ctx, c); err != nil {
				return grant{}, "", fmt.Errorf("give back %s, which pool %s no longer allows: %w", addr, pool, err)
			}
		case err == nil:
			a.index.Done(addr, true)
			a.index.SetClaim(c)
			return grant{claim: c, addr: addr}, "", nil
		case errors.Is(err, ErrTaken):
			a.index.Done(addr, true)
			a.index.Scatter(pool)
			a.Conflicts()
			conflicts++
		default:
			c, rerr := a.committedAnyway(ctx, req, addr)
			if c != nil {
				a.index.Done(addr, true)
				a.index.SetClaim(c)
				return grant{claim: c, addr: addr}, "", nil
			}
			if rerr != nil {
				// The claim may exist, unseen by the index until the
				// informer catches up: the pod's next ADD reads it first.
				a.unsure.add(req.key, v1alpha1.ClaimName(addr))
			}
			a.index.Done(addr, false)
			return grant{}, "", fmt.Errorf("claim %s in pool %s: %w", addr, pool, err)
		}
	}
	return grant{}, "", fmt.Errorf("pool %s: gave up after %d conflicting claims: %w", pool, a.cfg.MaxConflicts, ErrConflict)
}

// committedAnyway reads back the claim of addr after a create that failed
// without an answer (a time-out after the API server committed it): the
// claim when it exists and names this very request (taking another address
// would leave two claims for one interface), nil when it does not, or the
// read's error when the outcome is still unknown.
func (a *Allocator) committedAnyway(ctx context.Context, req *request, addr netip.Addr) (*v1alpha1.IPClaim, error) {
	c, err := a.store.GetClaim(ctx, v1alpha1.ClaimName(addr))
	if errors.Is(err, ErrNotFound) {
		return nil, nil
	}
	if err != nil {
		return nil, err
	}
	if h := c.Spec.Holder; h.UID == req.pod.UID && h.Interface == req.IfName && h.ContainerID == req.ContainerID {
		return c, nil
	}
	return nil, nil
}

// settleUnsure reads back the claims earlier ADDs of the pod created without
// learning the outcome, and puts those the pod holds into the index, so that
// sortClaims sees them: else a second address would be taken for the pod.
// While one cannot be read, the ADD fails (try again later) and takes
// nothing.
func (a *Allocator) settleUnsure(ctx context.Context, req *request) error {
	names := a.unsure.take(req.key)
	for i, name := range names {
		c, err := a.store.GetClaim(ctx, name)
		switch {
		case errors.Is(err, ErrNotFound):
		case err != nil:
			for _, n := range names[i:] {
				a.unsure.add(req.key, n)
			}
			return fmt.Errorf("claim %s, which an earlier ADD of pod %s may have made: %w", name, req.key, err)
		case c.Spec.Holder.UID == req.pod.UID:
			a.index.SetClaim(c)
		}
	}
	return nil
}

func (a *Allocator) exhausted(pool string) string {
	n, ok := a.index.PoolCounts(pool)
	if !ok {
		return "all IPs have been exhausted"
	}
	return fmt.Sprintf("all IPs have been exhausted (total %s, reserved %s, excluded %s, in use %s%s)", n.Total, n.Reserved, n.Excluded, n.InUse, a.quarantinedNote(pool))
}

// rollback releases the claims an Add created before it failed; claims it
// only took over stay with the pod.
func (a *Allocator) rollback(ctx context.Context, got []grant, held map[int]grant) {
	for _, g := range got {
		if slices.ContainsFunc(mapValues(held), func(h grant) bool { return h.claim.Name == g.claim.Name }) {
			continue
		}
		_ = a.release(ctx, g.claim)
	}
}

func (a *Allocator) release(ctx context.Context, c *v1alpha1.IPClaim) error {
	if err := a.store.DeleteClaim(ctx, c); err != nil {
		return fmt.Errorf("release %s: %w", c.Spec.Address, err)
	}
	a.index.Released(c)
	return nil
}

func (a *Allocator) holder(req *request) v1alpha1.ClaimHolder {
	return v1alpha1.ClaimHolder{
		Namespace: req.pod.Namespace, Name: req.pod.Name, UID: req.pod.UID,
		ContainerID: req.ContainerID, Interface: req.IfName, Network: req.Network,
	}
}

func (a *Allocator) newClaim(req *request, pool string, addr netip.Addr) *v1alpha1.IPClaim {
	return &v1alpha1.IPClaim{
		ObjectMeta: metav1.ObjectMeta{Name: v1alpha1.ClaimName(addr), Labels: claimLabels(pool, a.cfg.Node)},
		Spec: v1alpha1.IPClaimSpec{
			Address: addr.String(), Pool: pool, Node: a.cfg.Node,
			Holder: a.holder(req), Owner: req.owner, Ordinal: req.ordinal,
		},
	}
}

func claimLabels(pool, node string) map[string]string {
	return map[string]string{v1alpha1.LabelPool: pool, v1alpha1.LabelNode: node}
}

func mapValues[K comparable, V any](m map[K]V) []V {
	out := make([]V, 0, len(m))
	for _, v := range m {
		out = append(out, v)
	}
	return out
}

// podLocks serialises requests for the same pod; different pods never wait
// for each other.
type podLocks struct {
	mu    sync.Mutex
	locks map[types.NamespacedName]*podLock
}

type podLock struct {
	sync.Mutex
	users int
}

func (l *podLocks) lock(key types.NamespacedName) func() {
	l.mu.Lock()
	if l.locks == nil {
		l.locks = map[types.NamespacedName]*podLock{}
	}
	pl := l.locks[key]
	if pl == nil {
		pl = &podLock{}
		l.locks[key] = pl
	}
	pl.users++
	l.mu.Unlock()
	pl.Lock()
	return func() {
		pl.Unlock()
		l.mu.Lock()
		pl.users--
		if pl.users == 0 {
			delete(l.locks, key)
		}
		l.mu.Unlock()
	}
}
