//go:build e2e

package e2e

import (
	"net/netip"
	"testing"

	"github.com/ipkeeper/ipkeeper/test/framework"
	"github.com/ipkeeper/ipkeeper/test/seedwalk"
)

// Pod start does not need the controller: with it stopped, pods still get
// addresses from their pools (only automatic pools wait for it).
func TestControllerDownPodsStillStart(t *testing.T) {
	env := framework.Start(t, framework.Options{Nodes: 1, Ipkeeper: true, Fresh: true})
	if err := env.Cluster.StopProcess(t.Context(), "ipkeeper-controller"); err != nil {
		t.Fatalf("stop the controller: %v", err)
	}
	ns := env.Namespace(t)
	createDeployment(t, env, ns, "web", 3)
	seen := map[string]bool{}
	for _, p := range seedwalk.WaitReadyPods(t, env, ns, "app=web", 3) {
		ip, err := netip.ParseAddr(p.Status.PodIP)
		if err != nil || ip.Less(netip.MustParseAddr("10.6.10.1")) || netip.MustParseAddr("10.6.19.254").Less(ip) {
			t.Errorf("pod %s got %q, want an address of the default pool", p.Name, p.Status.PodIP)
		}
		if seen[p.Status.PodIP] {
			t.Errorf("address %s handed out twice", p.Status.PodIP)
		}
		seen[p.Status.PodIP] = true
	}
}
