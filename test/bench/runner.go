package main

import (
	"context"
	"errors"
	"fmt"
	"path/filepath"
	"time"
)

// runner runs the workload on one cluster.
type runner struct {
	cfg     config
	env     *env
	tracker *tracker
	profile string // the directory of this run's CPU profiles; empty takes none
}

// modeResult is one mode's run.
type modeResult struct {
	CreateS   float64 `json:"create_s"`
	RecreateS float64 `json:"recreate_s"`
	DeleteS   float64 `json:"delete_s"`
	// AddP50Ms and AddP99Ms are the agents' ADD latency in the create
	// phase (ipkeeper), interpolated within histogram buckets.
	AddP50Ms *float64 `json:"add_p50_ms,omitempty"`
	AddP99Ms *float64 `json:"add_p99_ms,omitempty"`
	// APIWritesPerPod is the create phase's IPClaim and SpiderEndpoint
	// writes per pod (ipkeeper).
	APIWritesPerPod *float64 `json:"api_writes_per_pod,omitempty"`
	// APIRequestsPerPod counts every API request of the create phase, all
	// clients and resources, per pod.
	APIRequestsPerPod float64 `json:"api_requests_per_pod"`
	// SandboxP50Ms and SandboxP99Ms are the create phase's sandbox setup
	// times (namespace and CNI chain) logged by the node simulators.
	SandboxP50Ms float64 `json:"sandbox_p50_ms"`
	SandboxP99Ms float64 `json:"sandbox_p99_ms"`
	ClusterUpS   float64 `json:"cluster_up_s"`
	// NodeMemoryMiB is, on real nodes, each node's resident memory (its
	// cgroup's RSS: kubelet, containerd, shims, kube-proxy and every pod)
	// with every pod of the workload running, at the end of create.
	NodeMemoryMiB map[string]float64 `json:"node_memory_mib,omitempty"`
	Phases        []phaseResult      `json:"phases"`
	Failures      []string           `json:"failures,omitempty"`
}

// runMode starts a fresh cluster for mode, runs the three phases and takes
// the cluster down again. The result is filled as far as the run got. With
// a profile directory, every phase's first seconds are profiled into it.
func runMode(ctx context.Context, cfg config, mode string, b binaries, dir, profile string) (res *modeResult, err error) {
	res = &modeResult{}
	start := time.Now()
	say := func(line string) { fmt.Printf("[%-10s] %s\n", mode, line) }
	e, err := startCluster(ctx, mode, filepath.Join(dir, mode), b, cfg.nodes, say)
	if e != nil {
		defer func() {
			failed := err != nil || len(res.Failures) > 0
			logs := filepath.Join(dir, "logs-"+mode)
			if derr := e.down(failed || cfg.keepLogs, logs); derr != nil {
				err = errors.Join(err, fmt.Errorf("take the %s cluster down: %w", mode, derr))
			}
			if failed || cfg.keepLogs {
				say("logs kept in " + logs)
			}
		}()
	}
	if err != nil {
		return res, fmt.Errorf("start the %s cluster: %w", mode, err)
	}
	res.ClusterUpS = round3(time.Since(start).Seconds())
	r := &runner{cfg: cfg, env: e, profile: profile}
	return res, r.run(ctx, res)
}

func (r *runner) run(ctx context.Context, res *modeResult) error {
	if err := r.env.createNamespace(ctx); err != nil {
		return err
	}
	if r.env.mode == modeIpkeeper {
		if err := r.env.createPool(ctx, r.cfg.pods()); err != nil {
			return err
		}
	}
	t, err := startTracker(ctx, r.env.cs)
	if err != nil {
		return err
	}
	defer t.stop()
	r.tracker = t
	for _, ph := range []phase{r.createPhase(), r.recreatePhase(), r.deletePhase()} {
		pr, err := r.runPhase(ctx, ph)
		res.Phases = append(res.Phases, pr)
		if err != nil {
			res.Failures = append(res.Failures, err.Error())
			return err
		}
		for _, p := range pr.Checks.problems() {
			res.Failures = append(res.Failures, ph.name+": "+p)
		}
		if ph.name == "create" && r.env.cluster.RealNodes() {
			if res.NodeMemoryMiB, err = r.env.nodeMemory(); err != nil {
				return err
			}
		}
	}
	res.summarize()
	return nil
}

func (r *runner) progress(phase, line string) {
	fmt.Printf("[%-10s] %-8s %s\n", r.env.mode, phase, line)
}

// summarize copies the headline figures out of the phases.
func (res *modeResult) summarize() {
	for _, p := range res.Phases {
		switch p.Name {
		case phaseCreate:
			res.CreateS, res.APIRequestsPerPod = p.Seconds, p.APIRequestsPerPod
			res.APIWritesPerPod = p.APIWritesPerPod
			if p.Sandbox != nil {
				res.SandboxP50Ms, res.SandboxP99Ms = p.Sandbox.P50Ms, p.Sandbox.P99Ms
			}
			if p.AgentAdd != nil {
				res.AddP50Ms, res.AddP99Ms = &p.AgentAdd.P50Ms, &p.AgentAdd.P99Ms
			}
		case phaseRecreate:
			res.RecreateS = p.Seconds
		case phaseDelete:
			res.DeleteS = p.Seconds
		}
	}
}

// duplicates sums the addresses held twice over every phase.
func (res *modeResult) duplicates() int {
	n := 0
	for _, p := range res.Phases {
		n += p.Checks.Duplicates
	}
	return n
}
