package ipam

import (
	"fmt"
	"net/netip"
	"testing"
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
