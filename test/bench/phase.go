package main

import (
	"context"
	"errors"
	"fmt"
	"math"
	"path/filepath"
	"runtime"
	"time"
)

// phaseResult is one timed phase of one mode.
type phaseResult struct {
	Name    string  `json:"name"`
	Seconds float64 `json:"seconds"`
	// Milestones are further times from the start of the phase.
	Milestones map[string]float64 `json:"milestones_s,omitempty"`
	// APIRequests counts every request the API server served during the
	// phase (all clients, all resources).
	APIRequests       float64 `json:"api_requests"`
	APIRequestsPerPod float64 `json:"api_requests_per_pod"`
	// APIWritesPerPod counts creates, updates, patches and deletes of
	// IPClaims and SpiderEndpoints per pod, refused ones included (ipkeeper).
	APIWritesPerPod *float64 `json:"api_writes_per_pod,omitempty"`
	// APIWrites409PerPod counts those of them refused with 409 Conflict.
	APIWrites409PerPod *float64       `json:"api_writes_409_per_pod,omitempty"`
	TopRequests        []requestCount `json:"top_requests"`
	// CPU is the CPU seconds each component used during the phase.
	CPU cpuTimes `json:"cpu_s"`
	// Utilization is the machine's busy share of all its CPUs during the
	// phase (1 = saturated).
	Utilization float64 `json:"machine_utilization"`
	// Sandbox is the node simulators' sandbox setup time (namespace and the
	// whole CNI chain) of the pods set up during the phase.
	Sandbox *latency `json:"sandbox_setup,omitempty"`
	// AgentAdd is the agents' ADD latency (ipkeeper).
	AgentAdd *agentAdd `json:"agent_add,omitempty"`
	Checks   checks    `json:"checks"`
}

type latency struct {
	Count int     `json:"count"`
	P50Ms float64 `json:"p50_ms"`
	P99Ms float64 `json:"p99_ms"`
	MaxMs float64 `json:"max_ms"`
}

type agentAdd struct {
	Count  float64 `json:"count"`
	Errors float64 `json:"errors"`
	// Conflicts counts claims lost to another agent (AlreadyExists), each
	// an extra create.
	Conflicts float64 `json:"conflicts"`
	// P50Ms and P99Ms are interpolated linearly within the histogram's
	// buckets (1, 2, 5, 10, 20, 50 ms …), as histogram_quantile does.
	P50Ms float64 `json:"p50_ms"`
	P99Ms float64 `json:"p99_ms"`
}

// phase is one step of the workload: an action, and a condition polled
// while it runs and after, until the action is done and the condition holds.
type phase struct {
	name string
	// prepare runs before the clock starts (optional).
	prepare func()
	act     func(ctx context.Context) error
	// done reports whether the phase is over and a progress text; it may
	// record milestones (seconds since the start) in the map it is given.
	done func(ctx context.Context, milestones map[string]float64, elapsed float64) (bool, string, error)
}

// snapshot is the counters read before and after a phase.
type snapshot struct {
	at     time.Time
	api    requests
	cpu    cpuTimes
	agents agentSnapshot
}

func (r *runner) snapshot(ctx context.Context) (snapshot, error) {
	s := snapshot{at: time.Now()}
	var err error
	if s.api, err = r.env.apiRequests(ctx); err != nil {
		return s, err
	}
	if s.cpu, err = r.env.cpu(); err != nil {
		return s, err
	}
	if r.env.mode == modeIpkeeper {
		if s.agents, err = r.env.agentMetrics(ctx); err != nil {
			return s, err
		}
	}
	return s, nil
}

// runPhase times one phase and measures what it cost, then checks the
// addresses (untimed).
func (r *runner) runPhase(ctx context.Context, ph phase) (phaseResult, error) {
	res := phaseResult{Name: ph.name, Milestones: map[string]float64{}}
	before, err := r.snapshot(ctx)
	if err != nil {
		return res, err
	}
	if ph.prepare != nil {
		ph.prepare()
	}
	pctx, cancel := context.WithTimeout(ctx, r.cfg.phaseTimeout)
	defer cancel()
	start := time.Now()
	acted := make(chan error, 1) // the action ends with pctx at the latest
	go func() { acted <- ph.act(pctx) }()
	profiled := func() {}
	if r.profile != "" {
		profiled = r.env.profile(pctx, filepath.Join(r.profile, ph.name))
	}
	if err := r.wait(pctx, ph, start, acted, res.Milestones); err != nil {
		return res, err
	}
	res.Seconds = round3(time.Since(start).Seconds())
	profiled() // after the phase's time: a phase shorter than the profile is not lengthened
	r.progress(ph.name, fmt.Sprintf("done in %.1fs", res.Seconds))
	after, err := r.snapshot(ctx)
	if err != nil {
		return res, err
	}
	r.measure(&res, before, after)
	if res.Checks, err = r.env.check(ctx, r.tracker); err != nil {
		return res, fmt.Errorf("%s: check: %w", ph.name, err)
	}
	return res, nil
}

// wait polls the phase's condition while its action runs and after,
// printing a progress line every progressEvery, until the action is done
// and the condition holds, or ctx (the phase's time limit) ends.
func (r *runner) wait(ctx context.Context, ph phase, start time.Time, acted <-chan error, milestones map[string]float64) error {
	tick := time.NewTicker(pollEvery)
	defer tick.Stop()
	lastPrint, actionDone := start, false
	for {
		elapsed := time.Since(start).Seconds()
		select {
		case err := <-acted:
			if err != nil {
				return fmt.Errorf("%s: %w", ph.name, err)
			}
			actionDone, milestones["calls_done"] = true, round3(elapsed)
		default:
		}
		ok, status, err := ph.done(ctx, milestones, round3(elapsed))
		if err != nil {
			status += " (" + err.Error() + ")"
		}
		if ok && err == nil && actionDone {
			return nil
		}
		if time.Since(lastPrint) >= r.cfg.progressEvery {
			r.progress(ph.name, fmt.Sprintf("%6.1fs  %s", elapsed, status))
			lastPrint = time.Now()
		}
		select {
		case <-ctx.Done():
			if !errors.Is(ctx.Err(), context.DeadlineExceeded) {
				return fmt.Errorf("%s: %w", ph.name, ctx.Err())
			}
			return fmt.Errorf("%s: not done after %s: %s", ph.name, r.cfg.phaseTimeout, status)
		case <-tick.C:
		}
	}
}

// pollEvery is how often a phase's condition is evaluated.
const pollEvery = 250 * time.Millisecond

// measure fills in what the phase cost from the counters around it.
func (r *runner) measure(res *phaseResult, before, after snapshot) {
	pods := float64(r.cfg.pods())
	api := after.api.minus(before.api)
	res.APIRequests = api.total()
	res.APIRequestsPerPod = round3(api.total() / pods)
	res.TopRequests = api.top(12)
	res.CPU = after.cpu.minus(before.cpu)
	if wall := after.at.Sub(before.at).Seconds(); wall > 0 {
		res.Utilization = round3(res.CPU[cpuMachine] / (wall * float64(runtime.NumCPU())))
	}
	if d, err := r.env.sandboxTimes(before.at, after.at); err == nil && len(d) > 0 {
		res.Sandbox = &latency{Count: len(d), P50Ms: percentile(d, 50), P99Ms: percentile(d, 99), MaxMs: percentile(d, 100)}
	}
	if r.env.mode != modeIpkeeper {
		return
	}
	all, conflicts := api.ipamWrites()
	w, c := round3(all/pods), round3(conflicts/pods)
	res.APIWritesPerPod, res.APIWrites409PerPod = &w, &c
	ag := after.agents.minus(before.agents)
	res.AgentAdd = &agentAdd{
		Count: ag.add.count(), Errors: ag.requests["add/error"], Conflicts: ag.conflicts,
		P50Ms: ms(ag.add.quantile(0.50)), P99Ms: ms(ag.add.quantile(0.99)),
	}
}

func ms(seconds float64) float64 {
	if math.IsNaN(seconds) {
		return 0
	}
	return round3(seconds * 1000)
}

func round3(v float64) float64 { return math.Round(v*1000) / 1000 }
