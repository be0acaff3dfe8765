package localcluster

import (
	"fmt"
	"net"
	"testing"
)

// The cluster's ports come from below the kernel's ephemeral range, where no
// outgoing connection takes one between their choice and their bind.
func TestFreePortsAreBelowTheEphemeralRange(t *testing.T) {
	low := ephemeralLow()
	ports, err := freePorts(43)
	if err != nil {
		t.Fatal(err)
	}
	seen := map[int]bool{}
	for _, p := range ports {
		if p >= low || p < 1024 || seen[p] {
			t.Errorf("port %d: want distinct ports in [1024, %d)", p, low)
		}
		seen[p] = true
		l, err := net.Listen("tcp", fmt.Sprintf("127.0.0.1:%d", p))
		if err != nil {
			t.Errorf("port %d is not free: %v", p, err)
			continue
		}
		_ = l.Close()
	}
	if len(ports) != 43 {
		t.Errorf("%d ports, want 43", len(ports))
	}
}
