//go:build e2e

package cni

import (
	"fmt"
	"os"
	"slices"
	"testing"
	"time"
)

// TestMeasureDetectionCost measures what each detection adds to ADD as the
// runtime sees it (libcni → macvlan → spiderpool → agent → API server, and
// the probes on the pod's link), p50 and p99 over the same number of ADDs
// per configuration, on a pool whose gateway answers (a namespace on the
// underlay) and whose addresses nobody else holds: the cost every pod pays.
// It asserts nothing about time; it reports. Run it with
//
//	IPKEEPER_MEASURE=200 go test -tags e2e ./test/cni/ -run TestMeasureDetectionCost -v
//
// (the value is the number of ADDs per configuration).
func TestMeasureDetectionCost(t *testing.T) {
	requireRoot(t)
	n := 0
	if _, err := fmt.Sscan(os.Getenv("IPKEEPER_MEASURE"), &n); err != nil || n < 1 {
		t.Skip("a measurement, not a check: set IPKEEPER_MEASURE to the number of ADDs per configuration")
	}
	configs := []struct {
		name string
		conf []string
	}{
		{"detection off", nil},
		{"gateway detection", []string{"enableGatewayDetection: true"}},
		{"IP-conflict detection (200 ms)", []string{"enableIPConflictDetection: true", "ipConflictDetectionTimeoutMs: 200"}},
		{"both", []string{"enableIPConflictDetection: true", "ipConflictDetectionTimeoutMs: 200", "enableGatewayDetection: true"}},
	}
	for _, c := range configs {
		t.Run(c.name, func(t *testing.T) {
			node := newNode(t)
			withUnderlay(t, node)
			foreignHost(t, node, "gw", "10.9.0.1/16")
			pool := testPool(t, "10.9.0.0/16", "10.9.0.1", "10.9.1.1-10.9.4.254")
			socket := agentSocket(t)
			detectingAgent(t, node, socket, c.conf...)
			rt := newRuntime(t, node, networkOptions{cniVersion: "1.0.0", socket: socket, ipv4Pools: []string{pool}})
			took := make([]time.Duration, 0, n)
			for i := range n {
				sb := newSandbox(t, node, fmt.Sprintf("pod-%d", i), nil)
				start := time.Now()
				rt.mustAdd(t, sb)
				took = append(took, time.Since(start))
				endPod(t, sb)
				if err := rt.del(t, sb); err != nil {
					t.Fatalf("DEL: %v", err)
				}
			}
			slices.Sort(took)
			t.Logf("%s: %d ADDs, p50 %s, p99 %s, max %s", c.name, n, pct(took, 50), pct(took, 99), took[len(took)-1].Round(100*time.Microsecond))
		})
	}
}

func pct(sorted []time.Duration, p int) time.Duration {
	i := (len(sorted)*p + 99) / 100
	return sorted[max(0, min(len(sorted)-1, i-1))].Round(100 * time.Microsecond)
}
