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
