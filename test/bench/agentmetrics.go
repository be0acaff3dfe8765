package main

import (
	"context"
	"fmt"
	"io"
	"math"
	"net/http"
	"slices"
	"strconv"
	"time"
)

// The agents' series (internal/agent/metrics.go).
const (
	agentDuration  = "ipkeeper_agent_request_duration_seconds_bucket"
	agentRequests  = "ipkeeper_agent_requests_total"
	agentConflicts = "ipkeeper_agent_claim_conflicts_total"
)

// histogram is a cumulative Prometheus histogram: counts[i] requests took
// at most bounds[i] seconds; the last bound is +Inf.
type histogram struct {
	bounds []float64
	counts []float64
}

// agentSnapshot is the agents' metrics summed over the nodes.
type agentSnapshot struct {
	add       histogram
	requests  map[string]float64 // "op/result"
	conflicts float64            // claims lost to another agent (AlreadyExists)
}

// agentMetrics scrapes every agent and sums their ADD histograms and request
// counters.
func (e *env) agentMetrics(ctx context.Context) (agentSnapshot, error) {
	snap := agentSnapshot{requests: map[string]float64{}}
	buckets := map[float64]float64{}
	for _, n := range e.nodes {
		addr, err := e.cluster.AgentMetricsAddress(n.Name)
		if err != nil {
			return snap, err
		}
		text, err := httpText(ctx, "http://"+addr+"/metrics")
		if err != nil {
			return snap, fmt.Errorf("agent of %s: %w", n.Name, err)
		}
		samples, err := parseSamples(text, func(name string) bool {
			return name == agentDuration || name == agentRequests || name == agentConflicts
		})
		if err != nil {
			return snap, fmt.Errorf("agent of %s: %w", n.Name, err)
		}
		for _, s := range samples {
			switch {
			case s.name == agentConflicts:
				snap.conflicts += s.value
			case s.name == agentRequests:
				snap.requests[s.labels["op"]+"/"+s.labels["result"]] += s.value
			case s.labels["op"] == "add":
				le, err := strconv.ParseFloat(s.labels["le"], 64)
				if err != nil {
					return snap, fmt.Errorf("agent of %s: bucket %q: %w", n.Name, s.labels["le"], err)
				}
				buckets[le] += s.value
			}
		}
	}
	for le := range buckets {
		snap.add.bounds = append(snap.add.bounds, le)
	}
	slices.Sort(snap.add.bounds)
	for _, le := range snap.add.bounds {
		snap.add.counts = append(snap.add.counts, buckets[le])
	}
	return snap, nil
}

func (a agentSnapshot) minus(before agentSnapshot) agentSnapshot {
	out := agentSnapshot{add: a.add.minus(before.add), requests: map[string]float64{}, conflicts: a.conflicts - before.conflicts}
	for k, v := range a.requests {
		out.requests[k] = v - before.requests[k]
	}
	return out
}

// minus subtracts an earlier snapshot of the same histogram.
func (h histogram) minus(before histogram) histogram {
	out := histogram{bounds: h.bounds, counts: slices.Clone(h.counts)}
	if slices.Equal(h.bounds, before.bounds) {
		for i := range out.counts {
			out.counts[i] -= before.counts[i]
		}
	}
	return out
}

func (h histogram) count() float64 {
	if len(h.counts) == 0 {
		return 0
	}
	return h.counts[len(h.counts)-1]
}

// quantile estimates the q-quantile in seconds as Prometheus'
// histogram_quantile does: linear interpolation inside the bucket that holds
// it (the first bucket starts at 0; a quantile in the +Inf bucket is the
// largest finite bound). NaN when the histogram is empty.
func (h histogram) quantile(q float64) float64 {
	total := h.count()
	if total == 0 {
		return math.NaN()
	}
	rank := q * total
	for i, c := range h.counts {
		if c < rank {
			continue
		}
		if math.IsInf(h.bounds[i], 1) {
			if i == 0 {
				return math.NaN()
			}
			return h.bounds[i-1]
		}
		lower, below := 0.0, 0.0
		if i > 0 {
			lower, below = h.bounds[i-1], h.counts[i-1]
		}
		if c == below {
			return h.bounds[i]
		}
		return lower + (h.bounds[i]-lower)*(rank-below)/(c-below)
	}
	return math.NaN()
}

func httpText(ctx context.Context, url string) (string, error) {
	ctx, cancel := context.WithTimeout(ctx, 10*time.Second)
	defer cancel()
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, url, nil)
	if err != nil {
		return "", fmt.Errorf("request %s: %w", url, err)
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		return "", fmt.Errorf("get %s: %w", url, err)
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		return "", fmt.Errorf("get %s: %s", url, resp.Status)
	}
	body, err := io.ReadAll(resp.Body)
	if err != nil {
		return "", fmt.Errorf("read %s: %w", url, err)
	}
	return string(body), nil
}
