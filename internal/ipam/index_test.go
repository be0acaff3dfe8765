package ipam

import (
	"fmt"
	"net/netip"
	"testing"

	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/types"

	"github.com/ipkeeper/ipkeeper/api/ipkeeper/v1alpha1"
)

// nextFromStart returns an index of node whose cursor is at the start of
// pool p (10.6.0.101–10.6.0.120), and the first address Next gives it.
func nextFromStart(t *testing.T, node string) (*Index, netip.Addr) {
	t.Helper()
	x := NewIndex(node)
	x.SetPool(testPool("10.6.0.101-10.6.0.120"))
	x.pools["p"].cursor = 0
	a, ok, err := x.Next("p")
	if err != nil || !ok {
		t.Fatalf("Next: %v, %v", ok, err)
	}
	return x, a
}

func TestNextChoosesAmongTheNextFreeAddresses(t *testing.T) {
	seen := map[netip.Addr]int{}
	for i := range 200 {
		_, a := nextFromStart(t, fmt.Sprint("node", i))
		seen[a]++
	}
	for a := range seen {
		if a.Compare(netip.MustParseAddr("10.6.0.101")) < 0 || a.Compare(netip.MustParseAddr("10.6.0.104")) > 0 {
			t.Errorf("Next gave %s from the start of the pool, want one of .101–.104", a)
		}
	}
	if len(seen) != nearCandidates {
		t.Errorf("200 agents starting at the same place chose %d distinct addresses, want %d: %v", len(seen), nearCandidates, seen)
	}
}

// Two agents whose cursors are at the same place race for the same address
// about one time in nearCandidates, not every time.
func TestAgentsAtTheSamePlaceMostlyTryDifferentAddresses(t *testing.T) {
	same := 0
	const trials = 400
	for i := range trials {
		_, a := nextFromStart(t, fmt.Sprint("a", i))
		_, b := nextFromStart(t, fmt.Sprint("b", i))
		if a == b {
			same++
		}
	}
	if same > trials/2 {
		t.Errorf("%d of %d pairs tried the same address, want about %d", same, trials, trials/nearCandidates)
	}
}

// After a lost race the agent jumps to a free address chosen uniformly, not
// to the free address behind a random place of the pool: in a filling pool
// that is the first address after the longest claimed run, where another
// agent is allocating.
func TestScatterChoosesAmongFreeAddressesUniformly(t *testing.T) {
	x := NewIndex("node")
	x.SetPool(testPool("10.6.1.1-10.6.1.200"))
	// Free: .1–.9 and .200; .10–.199 claimed (a front at .200).
	for i := 10; i < 200; i++ {
		x.Done(netip.AddrFrom4([4]byte{10, 6, 1, byte(i)}), true)
	}
	front := netip.MustParseAddr("10.6.1.200")
	hits := 0
	const trials = 2000
	for range trials {
		x.Scatter("p")
		a, ok, err := x.Next("p")
		if err != nil || !ok {
			t.Fatalf("Next: %v, %v", ok, err)
		}
		x.Done(a, false)
		if a == front {
			hits++
		}
	}
	// Uniform over the 10 free addresses, .200 is among the four next
	// candidates of 4 of them: 10 % of tries. A random place of the pool
	// reaches it from 190 of 200 places: about 24 %.
	if hits > trials*16/100 {
		t.Errorf("after Scatter, Next gave the address behind the claimed run %d times of %d, want about 10 %%", hits, trials)
	}
}

// An address passed over stays in line: the cursor moves past the first
// candidate only, and what is in flight is never offered twice.
func TestNextOffersEveryAddressOnceWhileInFlight(t *testing.T) {
	x, first := nextFromStart(t, "node")
	got := map[netip.Addr]bool{first: true}
	for range 19 {
		a, ok, err := x.Next("p")
		if err != nil || !ok {
			t.Fatalf("Next after %d: %v, %v", len(got), ok, err)
		}
		if got[a] {
			t.Fatalf("%s offered twice while in flight", a)
		}
		got[a] = true
	}
	if _, ok, _ := x.Next("p"); ok {
		t.Fatal("a 21st address offered from a pool of 20, all in flight")
	}
}

// indexClaim is the claim of addr held by pod ns/name, at version rv of
// incarnation uid.
func indexClaim(addr, pod string, uid types.UID, rv string) *v1alpha1.IPClaim {
	return &v1alpha1.IPClaim{
		ObjectMeta: metav1.ObjectMeta{Name: v1alpha1.ClaimName(netip.MustParseAddr(addr)), UID: uid, ResourceVersion: rv},
		Spec: v1alpha1.IPClaimSpec{Address: addr, Pool: "p",
			Holder: v1alpha1.ClaimHolder{Namespace: "ns", Name: pod, UID: types.UID(pod + "-uid"), Interface: "eth0"}},
	}
}

// An address released and claimed again by the same agent has one claim
// name and two incarnations. The informer's events of the first (a late
// add or update, then its delete) can arrive after the agent recorded the
// second from its own write, above all when the informer replays what it
// missed while the API server restarted: they must not take the new claim
// out of the index, where the pod's next sandbox looks for its address.
func TestIndexKeepsANewerClaimAgainstLateEventsOfAnOlderOne(t *testing.T) {
	x := NewIndex("node1")
	old := indexClaim("10.6.0.96", "a", "claim-1", "100")
	x.SetClaim(old)
	x.DeleteClaim(old) // the agent's own release
	cur := indexClaim("10.6.0.96", "b", "claim-2", "105")
	x.SetClaim(cur) // the agent's own create

	x.SetClaim(old)    // the informer's late add of the first claim
	x.DeleteClaim(old) // and its delete
	b := types.NamespacedName{Namespace: "ns", Name: "b"}
	if got := x.ClaimsOf(b); len(got) != 1 || got[0].UID != "claim-2" {
		t.Fatalf("claims of pod b after late events of the released claim: %v, want claim-2", got)
	}
	if got := x.ClaimsOf(types.NamespacedName{Namespace: "ns", Name: "a"}); len(got) != 0 {
		t.Errorf("claims of pod a: %v, want none", got)
	}
	if !x.taken[0].Contains(netip.MustParseAddr("10.6.0.96")) {
		t.Error("10.6.0.96 is free in the index while claim-2 holds it")
	}

	// The same incarnation: an update the agent wrote (a take-over by a new
	// sandbox) is not undone by the informer's older version.
	moved := cur.DeepCopy()
	moved.ResourceVersion, moved.Spec.Holder.ContainerID = "110", "sandbox-2"
	x.SetClaim(moved)
	x.SetClaim(cur)
	if got := x.ClaimsOf(b); len(got) != 1 || got[0].Spec.Holder.ContainerID != "sandbox-2" {
		t.Errorf("claim of pod b after the informer's older version: %+v, want sandbox-2's", got[0].Spec.Holder)
	}

	// Versions that are not well formed (a fake store's) are taken as newer.
	x.SetClaim(indexClaim("10.6.0.97", "c", "claim-3", "x"))
	x.SetClaim(indexClaim("10.6.0.97", "d", "claim-3", "y"))
	if got := x.ClaimsOf(types.NamespacedName{Namespace: "ns", Name: "d"}); len(got) != 1 {
		t.Errorf("claims of pod d: %v, want the last one set", got)
	}

	// A delete of the incarnation indexed removes it.
	x.DeleteClaim(moved)
	if got := x.ClaimsOf(b); len(got) != 0 || x.taken[0].Contains(netip.MustParseAddr("10.6.0.96")) {
		t.Errorf("after the delete of claim-2: claims %v, taken %v", got, x.taken[0].Contains(netip.MustParseAddr("10.6.0.96")))
	}
}

// An agent knows other nodes' claims by their metadata alone (name, UID,
// version): the address must be taken for it as long as the claim exists,
// whichever of its two watches tells last.
func TestAnotherNodesClaimIsTakenByItsMetadataAlone(t *testing.T) {
	x := NewIndex("node1")
	addr := netip.MustParseAddr("10.6.0.50")
	name := v1alpha1.ClaimName(addr)
	taken := func() bool { return x.taken[0].Contains(addr) }

	x.SetClaimRef(name, "claim-1", "10", "")
	if !taken() {
		t.Fatal("an address claimed on another node is free in the index")
	}
	x.DeleteClaimRef(name, "claim-0") // a late delete of an earlier incarnation
	if !taken() {
		t.Fatal("the delete of another incarnation freed the address")
	}
	x.SetClaimRef(name, "claim-2", "20", "")
	x.SetClaimRef(name, "claim-1", "10", "") // late, older
	x.DeleteClaimRef(name, "claim-1")
	if !taken() {
		t.Fatal("late events of claim-1 freed the address claim-2 holds")
	}
	x.DeleteClaimRef(name, "claim-2")
	if taken() {
		t.Fatal("the address is still taken after its claim was deleted")
	}

	// This node's claim moved to another node (a StatefulSet pod taken
	// along): the node-selected watch tells a delete, the metadata watch
	// the new version. The address stays taken in either order.
	own := indexClaim("10.6.0.50", "db-0", "claim-3", "30")
	own.Spec.Node = "node1"
	x.SetClaim(own)
	x.SetClaimRef(name, "claim-3", "30", "")
	x.SetClaimRef(name, "claim-3", "31", "")
	x.DeleteClaim(own)
	if !taken() {
		t.Fatal("a claim taken over by another node is free in the index")
	}
	if got := x.ClaimsOf(types.NamespacedName{Namespace: "ns", Name: "db-0"}); len(got) != 0 {
		t.Errorf("claims of db-0 after it moved away: %v, want none", got)
	}
	x.DeleteClaimRef(name, "claim-3")

	// The agent's own release frees the address at once, unless the claim
	// changed after the version it deleted at (the delete removed nothing).
	mine := indexClaim("10.6.0.50", "a", "claim-4", "40")
	x.SetClaim(mine)
	x.SetClaimRef(name, "claim-4", "40", "")
	x.Released(mine)
	if taken() {
		t.Fatal("the agent's own release left the address taken until the watch tells")
	}
	x.SetClaim(mine)
	x.SetClaimRef(name, "claim-4", "41", "")
	x.Released(mine)
	if !taken() {
		t.Fatal("a release at an older version than the claim's freed the address")
	}
	x.DeleteClaimRef(name, "claim-4")

	// A claim this agent knows by metadata only (another node's, read from
	// the API server for a StatefulSet pod) and releases itself is free at
	// once too.
	theirs := indexClaim("10.6.0.50", "db-1", "claim-5", "50")
	x.SetClaimRef(name, "claim-5", "50", "")
	x.Released(theirs)
	if taken() {
		t.Fatal("another node's claim this agent released stays taken in its index")
	}
}

func TestAddressOfClaimInvertsClaimName(t *testing.T) {
	for _, s := range []string{"10.6.0.1", "fd00:10:6::1", "2001:db8::ffff:1"} {
		a := netip.MustParseAddr(s)
		got, err := v1alpha1.AddressOfClaim(v1alpha1.ClaimName(a))
		if err != nil || got != a {
			t.Errorf("AddressOfClaim(ClaimName(%s)) = %v, %v", s, got, err)
		}
	}
	for _, bad := range []string{"", "pool-a", "10-6-0-1", "fd00::1", "FD00-0010-0006-0000-0000-0000-0000-0001", "0000-0000-0000-0000-0000-ffff-0a06-0001"} {
		if a, err := v1alpha1.AddressOfClaim(bad); err == nil {
			t.Errorf("AddressOfClaim(%q) = %v, want an error", bad, a)
		}
	}
}
