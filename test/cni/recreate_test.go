//go:build e2e

package cni

import (
	"testing"

	"github.com/google/go-cmp/cmp"
)

// A stateless pod whose sandbox is re-created (node reboot, runtime restart:
// same pod UID, new container ID) keeps its address, whether the old
// sandbox's DEL comes before the new ADD, after it, or never: the address is
// the pod's until the pod is gone. The old sandbox's DEL never frees what the
// new one holds; the new sandbox's DEL, once the pod is deleted, does.
func TestRecreatedSandboxKeepsTheAddress(t *testing.T) {
	requireRoot(t)
	tests := []struct {
		name     string
		delFirst bool
	}{
		{name: "new ADD, then the old sandbox's DEL"},
		{name: "the old sandbox's DEL, then the new ADD", delFirst: true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			socket := agentSocket(t)
			node := newNode(t)
			startAgent(t, node, socket)
			rt := newRuntime(t, node, networkOptions{cniVersion: "1.0.0", socket: socket, chain: viaMacvlan, ipv4Pools: []string{"p1"}})
			old := newSandbox(t, node, "web-7d9f-abcde", nil)
			first, _ := summarize(rt.mustAdd(t, old))

			sb := recreated(t, old)
			if tt.delFirst {
				if err := rt.del(t, old); err != nil {
					t.Fatalf("DEL of the old sandbox: %v", err)
				}
			}
			again, _ := summarize(rt.mustAdd(t, sb))
			if !cmp.Equal(again, first) {
				t.Fatalf("the re-created sandbox got %v, the pod had %v", again, first)
			}
			if !tt.delFirst {
				if err := rt.del(t, old); err != nil {
					t.Fatalf("late DEL of the old sandbox: %v", err)
				}
			}
			wantClaims(t, node, first...)
			if err := rt.check(t, sb); err != nil {
				t.Errorf("CHECK of the new sandbox after the old one's DEL: %v", err)
			}
			wantView(t, sb, podView{exists: true, addrs: first, gws: map[string]string{"4": "10.6.0.1"}})

			endPod(t, sb)
			if err := rt.del(t, sb); err != nil {
				t.Fatalf("DEL of the deleted pod's sandbox: %v", err)
			}
			wantClaims(t, node)
		})
	}
}
