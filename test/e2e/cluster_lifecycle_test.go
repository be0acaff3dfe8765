//go:build e2e

package e2e

import (
	"context"
	"os"
	"os/exec"
	"strings"
	"testing"
	"time"

	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	"github.com/ipkeeper/ipkeeper/test/framework"
	"github.com/ipkeeper/ipkeeper/test/localcluster"
	"github.com/ipkeeper/ipkeeper/test/localcluster/nsmount"
	"github.com/ipkeeper/ipkeeper/test/seedwalk"
)

// TestClusterNodesimRestartAdoptsSandboxes restarts node2's simulator: the
// running pod keeps its sandbox (same container id, namespace and address,
// no second ADD) and the node serves new pods and deletions again.
func TestClusterNodesimRestartAdoptsSandboxes(t *testing.T) {
	env := localCluster.Get(t)
	if env.Cluster == nil {
		t.Skip("the reused cluster's state directory is not readable")
	}
	ns := env.Namespace(t)
	createPod(t, env, ns, "before", "node2", nil)
	before := seedwalk.WaitPodReady(t, env, ns, "before")
	sb := env.Sandbox(t, before)

	ctx := t.Context()
	if err := env.Cluster.StopProcess(ctx, localcluster.NodesimProcessName("node2")); err != nil {
		t.Fatalf("stop node2's simulator: %v", err)
	}
	if err := env.Cluster.RestartNodesim(ctx, "node2"); err != nil {
		t.Fatalf("restart node2's simulator: %v", err)
	}
	createPod(t, env, ns, "after", "node2", nil)
	seedwalk.WaitPodReady(t, env, ns, "after")

	now, err := env.Client.CoreV1().Pods(ns).Get(ctx, "before", metav1.GetOptions{})
	if err != nil {
		t.Fatalf("get pod before: %v", err)
	}
	adopted := env.Sandbox(t, now)
	if adopted.ContainerID != sb.ContainerID || adopted.NetNS != sb.NetNS || now.Status.PodIP != before.Status.PodIP {
		t.Errorf("sandbox after restart %s %s %s, want the adopted %s %s %s", adopted.ContainerID, adopted.NetNS,
			now.Status.PodIP, sb.ContainerID, sb.NetNS, before.Status.PodIP)
	}
	if !seedwalk.PodReady(now) {
		t.Errorf("pod before is not ready after the restart: %+v", now.Status)
	}
	if err := env.Client.CoreV1().Pods(ns).Delete(ctx, "before", metav1.DeleteOptions{}); err != nil {
		t.Fatalf("delete pod before: %v", err)
	}
	env.WaitFor(t, podsTimeout, "adopted sandbox removed", func(context.Context) (bool, error) {
		return !nsmount.Exists(sb.NetNS), nil
	})
}

// TestClusterDownLeavesNothing starts its own cluster with running pods, takes
// it down, and checks that no process, namespace, link, mount or state file
// of it is left.
func TestClusterDownLeavesNothing(t *testing.T) {
	env := framework.Start(t, framework.Options{Nodes: 2, Fresh: true})
	c := env.Cluster
	ns := env.Namespace(t)
	createDeployment(t, env, ns, "web", 4)
	seedwalk.WaitReadyPods(t, env, ns, "app=web", 4)

	procs, err := c.Processes()
	if err != nil || len(procs) != 6 { // etcd, apiserver, controller-manager, scheduler, 2 simulators
		t.Fatalf("processes %+v (%v), want 6", procs, err)
	}
	prefix, state := c.Prefix(), c.StateDir()
	if pins, _ := nsmount.List("/run/netns", prefix+"-"); len(pins) != 2+4 {
		t.Fatalf("netns pins %v, want 2 nodes and 4 pods", pins)
	}

	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	if err := c.Down(ctx); err != nil {
		t.Fatalf("down: %v", err)
	}
	for _, p := range procs {
		if p.Alive() {
			t.Errorf("process %s (pid %d) still runs", p.Name, p.PID)
		}
	}
	if out := run(t, "ip", "netns", "list"); strings.Contains(out, prefix) {
		t.Errorf("ip netns still lists namespaces of %s:\n%s", prefix, out)
	}
	if out := run(t, "ip", "-o", "link", "show"); strings.Contains(out, prefix) {
		t.Errorf("ip link still lists links of %s:\n%s", prefix, out)
	}
	mounts, err := os.ReadFile("/proc/mounts")
	if err != nil {
		t.Fatalf("read mounts: %v", err)
	}
	for _, line := range strings.Split(string(mounts), "\n") {
		if strings.Contains(line, prefix) || strings.Contains(line, state) {
			t.Errorf("mount left: %s", line)
		}
	}
	for _, f := range []string{"cluster.json", "kubeconfig", "run", "nodes", "etcd", "pki", "logs"} {
		if _, err := os.Stat(state + "/" + f); err == nil {
			t.Errorf("state file %s left in %s", f, state)
		}
	}
	if err := c.Down(ctx); err != nil {
		t.Errorf("a second down failed: %v", err)
	}
}

func run(t *testing.T, name string, args ...string) string {
	t.Helper()
	out, err := exec.CommandContext(t.Context(), name, args...).CombinedOutput()
	if err != nil {
		t.Fatalf("%s %v: %v: %s", name, args, err, out)
	}
	return string(out)
}
