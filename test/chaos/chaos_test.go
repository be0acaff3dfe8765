//go:build e2e

// Package chaos is the chaos run of issue 13: churn on a local cluster of
// simulated nodes (real API server, etcd, controller-manager, ipkeeper
// agents and controller, the CNI plugin and macvlan in network namespaces)
// while agents, the controller, the API server and etcd are killed with
// SIGKILL and restarted and nodes go NotReady, sampling throughout that no
// address is held by two live pods, and auditing everything once it is
// quiet (internal/audit).
//
//	go test -tags e2e ./test/chaos -run TestChaos -v                         # short: 5,000 allocations
//	go test -tags e2e ./test/chaos -run TestChaos -v -timeout 70m \
//	    -chaos.allocations=100000 -chaos.report=../../docs/reliability.md     # make chaos
//
// An allocation is a pod incarnation (pod UID) given an address by a CNI
// ADD: for a workload's pod, seen through a watch of pods with an address in
// its status (the node reported it); for a pod of the kubelet stream, counted
// when its first ADD succeeds. Workload incarnations created and deleted
// while the watch is down (the API server killed) are not counted, so the
// count is a lower bound.
package chaos

import (
	"flag"
	"fmt"
	"math/rand/v2"
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/ipkeeper/ipkeeper/test/framework"
	"github.com/ipkeeper/ipkeeper/test/localcluster"
)

var (
	flagAllocations = flag.Int("chaos.allocations", 5000, "allocations of churn before the run stops")
	flagSeed        = flag.Int64("chaos.seed", 0, "seed of the random schedule; 0 picks one (printed)")
	flagNodes       = flag.Int("chaos.nodes", 4, "simulated nodes")
	flagLimit       = flag.Duration("chaos.limit", 0, "stop the churn after this long even if the allocations are not reached (the run then fails); 0: 25m for up to 10,000 allocations, else 55m")
	flagKubelet     = flag.Int("chaos.kubelet", 36, "pods at a time per node whose CNI calls the run makes itself, as a kubelet would (0: none)")
	flagChurn       = flag.Int("chaos.churn", 0, "workers changing the workloads (scaling, deleting pods, restarting and re-creating StatefulSets, editing pools, reserving addresses); 0: 4 for up to 10,000 allocations, else 2 (a workload pod costs the cluster more than a kubelet-stream pod: scheduling, its controller, a simulated container, status writes)")
	flagReport      = flag.String("chaos.report", "", "write the counts to this markdown file (make chaos: docs/reliability.md)")
)

// The windows of this cluster: the GC scans every gcScanSeconds and keeps a
// terminating pod's address 30 s past its deadline (the controller's
// margin); pods have a grace period of podGraceSeconds.
const (
	gcScanSeconds   = 2
	podGraceSeconds = 1
	gcWindow        = (gcScanSeconds+podGraceSeconds+30)*time.Second + 10*time.Second
	// nodeGrace is the node controller's grace before a silent node is
	// NotReady (node-monitor-grace-period; 50 s by default): longer than an
	// API server restart takes here, so that one does not make every node
	// NotReady at once.
	nodeGrace = 40 * time.Second
	// quietLimit bounds the settling after the churn stops. It is longer
	// than kube-controller-manager's 5 minutes for a ReplicaSet's
	// expectations to expire: a ReplicaSet whose own pod writes it did not
	// see (the API server was down when they went through) makes no new
	// pods until then, whatever happens to it.
	quietLimit = 8 * time.Minute
)

func TestChaos(t *testing.T) {
	seed := *flagSeed
	if seed == 0 {
		seed = time.Now().UnixNano()
	}
	limit := *flagLimit
	if limit == 0 {
		limit = 25 * time.Minute
		if longRun() {
			limit = 55 * time.Minute
		}
	}
	t.Logf("chaos: seed %d (rerun with -chaos.seed=%d), target %d allocations, limit %s, %d nodes", seed, seed, *flagAllocations, limit, *flagNodes)
	begin := time.Now()
	env := framework.Start(t, framework.Options{Nodes: *flagNodes, Ipkeeper: true, Fresh: true, Configure: configure(t)})
	t.Logf("chaos: cluster %s up in %s", env, time.Since(begin).Round(time.Second))

	r := newRun(t, env, seed, limit)
	r.setup()
	r.churnAndFaults()
	r.quiet()
	r.finish()
}

// configure shortens the windows the run waits on: the GC's scan, the node
// controller's grace for a silent node.
func configure(t *testing.T) func(*localcluster.Config) {
	return func(cfg *localcluster.Config) {
		conf := filepath.Join(cfg.StateDir, "chaos-conf.yml")
		data := fmt.Sprintf("gc:\n  enabled: true\n  scanIntervalSeconds: %d\n", gcScanSeconds)
		if err := os.WriteFile(conf, []byte(data), 0o644); err != nil {
			t.Fatalf("write controller configuration: %v", err)
		}
		for i := range cfg.ClusterProcesses {
			if cfg.ClusterProcesses[i].Name == "ipkeeper-controller" {
				cfg.ClusterProcesses[i].Argv = append(cfg.ClusterProcesses[i].Argv, "--config", conf)
			}
		}
		cfg.ControllerManagerArgs = append(cfg.ControllerManagerArgs,
			"--node-monitor-grace-period="+nodeGrace.String(), "--node-monitor-period=2s")
	}
}

// longRun says whether this is a long run (make chaos), whose defaults for
// the limit, the churn workers and the fault pace differ from a short one's.
func longRun() bool { return *flagAllocations > 10000 }

// rng is a seeded source for one goroutine of the run.
func rng(seed int64, stream uint64) *rand.Rand {
	return rand.New(rand.NewPCG(uint64(seed), stream))
}
