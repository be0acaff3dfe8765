package ipam

import (
	"slices"
	"strings"
	"testing"
)

// A SpiderReservedIP written while the webhook was down (or before the
// schema checked entries) may hold an entry that does not parse: it reserves
// nothing and is reported, and the entries that do parse stay reserved.
func TestAMalformedReservedEntryCostsTheOthersTheirReservation(t *testing.T) {
	s, c := newMemStore(), newMemCluster("node1")
	a := agentFor(t, "node1", s, c, testPool("10.6.168.131-10.6.168.133"))
	bad := a.index.SetReserved("r", []string{"10.6.168.131", "999.6.168.1", "10.6.168.132-10.6.168.131"})
	if want := []string{"999.6.168.1", "10.6.168.132-10.6.168.131"}; !slices.Equal(bad, want) {
		t.Fatalf("malformed entries %q, want %q", bad, want)
	}
	for _, name := range []string{"a", "b"} {
		pod := statelessPod(name, poolAnno)
		c.addPod(pod)
		resp, err := a.Add(t.Context(), addReq(pod, "c-"+name))
		if err != nil {
			t.Fatalf("pod %s: %v", name, err)
		}
		if got := resp.IPs[0].Address.String(); got == "10.6.168.131/16" {
			t.Fatalf("pod %s got the reserved 10.6.168.131", name)
		}
	}
	p3 := statelessPod("c", poolAnno)
	c.addPod(p3)
	if _, err := a.Add(t.Context(), addReq(p3, "c-c")); err == nil || !strings.Contains(err.Error(), "reserved 1") {
		t.Fatalf("third pod: %v; want exhaustion with 1 reserved", err)
	}
}
