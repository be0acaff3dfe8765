package main

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"runtime"
	"slices"
	"strings"
	"time"
)

// Targets of issue 6.
const maxRatio = 1.3

// report is test/bench/results/latest.json.
type report struct {
	Machine string `json:"machine"`
	Nodes   int    `json:"nodes"`
	// RealNodes: kubelet + containerd nodes, ipkeeper from its chart.
	RealNodes   bool        `json:"real_nodes,omitempty"`
	Pods        int         `json:"pods"`
	Deployments int         `json:"deployments"`
	Replicas    int         `json:"replicas"`
	Ipkeeper    *modeResult `json:"ipkeeper,omitempty"`
	HostLocal   *modeResult `json:"host_local,omitempty"`
	// Duplicates counts addresses held by two pods, over every check.
	Duplicates int `json:"duplicates"`
	// Ratios are ipkeeper's phase times over host-local's, summed over the
	// rounds; Ipkeeper and HostLocal are the first round's results.
	Ratios map[string]float64 `json:"ratios,omitempty"`
	// Rounds holds every round when there are several (-rounds).
	Rounds  []round         `json:"rounds,omitempty"`
	Targets map[string]bool `json:"targets_met,omitempty"`
	// LoadAverage is the machine's 1-minute load before the run (other
	// tenants make the numbers noisy).
	LoadAverage string `json:"load_average_before"`
	Go          string `json:"go"`
	Kubernetes  string `json:"kubernetes"`
	Etcd        string `json:"etcd"`
	Date        string `json:"date"`
	// Started is when the run began (UTC), to the minute; it names the
	// copy, so that runs of the same day are all kept.
	Started  string   `json:"started"`
	Command  string   `json:"command"`
	TotalS   float64  `json:"total_s"`
	Notes    []string `json:"notes"`
	Failures []string `json:"failures,omitempty"`
}

var notes = []string{
	"create: from the first Deployment create call until every pod is Running with an address",
	"recreate: every pod deleted at once (parallel deletes); until all replacements (new UIDs) are Running with an address",
	"delete: the Deployments deleted; until every pod is gone and every address released (ipkeeper: no IPClaim of the pool and status.allocatedIPCount 0; host-local: no allocation file in any node's store)",
	"add_p50_ms/add_p99_ms: the agents' ipkeeper_agent_request_duration_seconds{op=add} summed over nodes, interpolated linearly within buckets (1, 2, 5, 10, 20, 50, 100 ms …)",
	"sandbox_*: the node simulators' logged sandbox setup time (netns + whole CNI chain: macvlan and the IPAM plugin), exact percentiles",
	"api_*: apiserver_request_total differences over the phase, every client (the bench itself included)",
	"cpu_s: CPU seconds per component over the phase from /proc; cni-plugins are the simulators' reaped children; other = machine busy time not accounted to the cluster or the bench (other tenants); on real nodes node-system (kubelet, containerd, shims, kube-proxy, CNI plugins) and node-pods (every pod's containers: ipkeeper's agents and controller, the workload's pause) are the nodes' cgroups",
}

// round is one run of every mode, in Order.
type round struct {
	Order     []string           `json:"order"`
	Ratios    map[string]float64 `json:"ratios,omitempty"`
	Ipkeeper  *modeResult        `json:"ipkeeper,omitempty"`
	HostLocal *modeResult        `json:"host_local,omitempty"`
}

// roundOrder is the order of the modes in round i: as given in even rounds,
// reversed in odd ones, so that a machine growing faster or slower during the
// invocation favours neither mode.
func roundOrder(modes []string, i int) []string {
	order := slices.Clone(modes)
	if i%2 == 1 {
		slices.Reverse(order)
	}
	return order
}

// run builds the binaries, runs every mode and assembles the report.
func run(ctx context.Context, cfg config) (*report, error) {
	if os.Geteuid() != 0 {
		return nil, errors.New("the local cluster needs root (network namespaces, bind mounts)")
	}
	started := time.Now()
	dir, cleanup, err := workDir(cfg.workDir)
	if err != nil {
		return nil, err
	}
	fmt.Printf("bench: %d nodes, %d Deployments x %d replicas = %d pods; work dir %s\n", cfg.nodes, cfg.deployments, cfg.replicas, cfg.pods(), dir)
	b, err := buildBinaries(dir, cfg.k8sBinDir, cfg.nodes, cfg.realNodes, cfg.maxPods)
	if err != nil {
		return nil, errors.Join(err, cleanup(false))
	}
	if cfg.profileDir != "" {
		b.cluster.APIServerArgs = append(b.cluster.APIServerArgs, "--profiling=true")
	}
	rep := newReport(cfg, b)
	var errs []error
	for i := 0; i < cfg.rounds && ctx.Err() == nil; i++ {
		rd := round{Order: roundOrder(cfg.modes, i)}
		for _, mode := range rd.Order {
			if cfg.rounds > 1 {
				fmt.Printf("bench: round %d of %d, %s\n", i+1, cfg.rounds, mode)
			}
			profile := ""
			if cfg.profileDir != "" && i == 0 {
				profile = filepath.Join(cfg.profileDir, mode)
			}
			res, err := runMode(ctx, cfg, mode, b, filepath.Join(dir, fmt.Sprint("round-", i+1)), profile)
			rd.set(mode, res)
			rep.add(mode, res)
			if err != nil {
				errs = append(errs, fmt.Errorf("round %d, %s: %w", i+1, mode, err))
			}
			if ctx.Err() != nil {
				break
			}
		}
		rd.Ratios = ratios([]round{rd})
		if i == 0 {
			rep.Ipkeeper, rep.HostLocal = rd.Ipkeeper, rd.HostLocal
		}
		if cfg.rounds > 1 {
			rep.Rounds = append(rep.Rounds, rd)
		}
	}
	rep.finish(started)
	if len(rep.Failures) > 0 && len(errs) == 0 {
		errs = append(errs, fmt.Errorf("checks failed: %s", strings.Join(rep.Failures, "; ")))
	}
	return rep, errors.Join(append(errs, cleanup(len(errs) > 0))...)
}

// workDir returns the directory for binaries and state, and a function that
// removes it when it was made here and nothing went wrong (logs of a failed
// run are kept).
func workDir(dir string) (string, func(failed bool) error, error) {
	if dir != "" {
		abs, err := filepath.Abs(dir)
		if err != nil {
			return "", nil, fmt.Errorf("resolve %s: %w", dir, err)
		}
		return abs, func(bool) error { return nil }, os.MkdirAll(abs, 0o755)
	}
	tmp, err := os.MkdirTemp("", "ipkeeper-bench-")
	if err != nil {
		return "", nil, fmt.Errorf("create work dir: %w", err)
	}
	return tmp, func(failed bool) error {
		if failed {
			fmt.Fprintf(os.Stderr, "bench: work dir with the logs kept: %s\n", tmp)
			return nil
		}
		return os.RemoveAll(tmp)
	}, nil
}

func newReport(cfg config, b binaries) *report {
	return &report{
		Machine: machine(), Nodes: cfg.nodes, RealNodes: cfg.realNodes, Pods: cfg.pods(), Deployments: cfg.deployments, Replicas: cfg.replicas,
		LoadAverage: loadAverage(),
		Go:          runtime.Version(), Kubernetes: k8sVersion(b.cluster.K8sBinDir), Etcd: etcdVersion(),
		Date: time.Now().UTC().Format("2006-01-02"), Started: time.Now().UTC().Format("2006-01-02T1504Z"),
		Command: strings.TrimSpace("go run ./test/bench " + strings.Join(cfg.args, " ")),
		Notes:   notes,
	}
}

func (rd *round) set(mode string, res *modeResult) {
	switch mode {
	case modeIpkeeper:
		rd.Ipkeeper = res
	case modeHostLocal:
		rd.HostLocal = res
	}
}

// add counts a mode's run in the report's duplicates and failures.
func (rep *report) add(mode string, res *modeResult) {
	if res == nil {
		return
	}
	rep.Duplicates += res.duplicates()
	for _, f := range res.Failures {
		rep.Failures = append(rep.Failures, mode+": "+f)
	}
}

func complete(m *modeResult) bool { return m != nil && len(m.Phases) == 3 && m.DeleteS > 0 }

// ratios divides ipkeeper's phase times by host-local's, each summed over the
// rounds where both modes completed; nil when there is none.
func ratios(rounds []round) map[string]float64 {
	var ik, hl [3]float64
	n := 0
	for _, rd := range rounds {
		if !complete(rd.Ipkeeper) || !complete(rd.HostLocal) {
			continue
		}
		n++
		for i, pair := range [][2]float64{
			{rd.Ipkeeper.CreateS, rd.HostLocal.CreateS},
			{rd.Ipkeeper.RecreateS, rd.HostLocal.RecreateS},
			{rd.Ipkeeper.DeleteS, rd.HostLocal.DeleteS},
		} {
			ik[i] += pair[0]
			hl[i] += pair[1]
		}
	}
	if n == 0 {
		return nil
	}
	return map[string]float64{
		phaseCreate: round3(ik[0] / hl[0]), phaseRecreate: round3(ik[1] / hl[1]), phaseDelete: round3(ik[2] / hl[2]),
	}
}

// finish computes the ratios and the targets.
func (rep *report) finish(started time.Time) {
	rep.TotalS = round3(time.Since(started).Seconds())
	rounds := rep.Rounds
	if len(rounds) == 0 {
		rounds = []round{{Ipkeeper: rep.Ipkeeper, HostLocal: rep.HostLocal}}
	}
	rep.Ratios = ratios(rounds)
	rep.Targets = map[string]bool{}
	if rep.Ratios != nil {
		rep.Targets["create_within_1.3x"] = rep.Ratios[phaseCreate] <= maxRatio
		rep.Targets["recreate_within_1.3x"] = rep.Ratios[phaseRecreate] <= maxRatio
	}
	rep.Targets["zero_duplicates"] = rep.Duplicates == 0
	if complete(rep.Ipkeeper) {
		ok := true
		for _, rd := range rounds {
			if !complete(rd.Ipkeeper) {
				ok = false
				continue
			}
			last := rd.Ipkeeper.Phases[2].Checks
			ok = ok && last.PoolAllocated != nil && *last.PoolAllocated == 0 && last.Claims != nil && *last.Claims == 0
		}
		rep.Targets["pool_count_0_after_delete"] = ok
	}
}

// writeResults writes latest.json and the dated copy
// <date>T<hhmm>Z-<nodes>x<pods>.json.
func writeResults(dir string, rep *report) error {
	return writeJSON(dir, rep, fmt.Sprintf("%s-%dx%d.json", rep.Started, rep.Nodes, rep.Pods))
}

// writeJSON writes v as latest.json and as dated under dir; an empty dir
// writes nothing.
func writeJSON(dir string, v any, dated string) error {
	if dir == "" {
		return nil
	}
	data, err := json.MarshalIndent(v, "", "  ")
	if err != nil {
		return fmt.Errorf("encode results: %w", err)
	}
	data = append(data, '\n')
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return fmt.Errorf("create %s: %w", dir, err)
	}
	for _, name := range []string{"latest.json", dated} {
		if err := os.WriteFile(filepath.Join(dir, name), data, 0o644); err != nil {
			return fmt.Errorf("write results: %w", err)
		}
	}
	fmt.Printf("results written to %s\n", filepath.Join(dir, "latest.json"))
	return nil
}
