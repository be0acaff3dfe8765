package agent

import (
	"context"
	"errors"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/ipkeeper/ipkeeper/internal/agentapi"
	"github.com/ipkeeper/ipkeeper/internal/buildinfo"
	"github.com/ipkeeper/ipkeeper/internal/ipam"
	"github.com/ipkeeper/ipkeeper/internal/spiderpool"
)

// Metrics are the agent's Prometheus series. Names match the chart's
// dashboard and alert rules (charts/ipkeeper/files); change them together:
// test/e2e checks that every name those read is exported.
type Metrics struct {
	Requests  *prometheus.CounterVec
	Duration  *prometheus.HistogramVec
	Failures  *prometheus.CounterVec
	Conflicts prometheus.Counter
}

// ops are the plugin's operations, the op label's values.
var ops = []string{"add", "del", "check", "gc"}

// The reason label's values of ipkeeper_agent_request_failures_total: the
// allocation reasons of ipam and the agent's own. Fixed and documented in
// docs/operations.md.
const (
	reasonInvalidRequest = "invalid_request"
	reasonNotReady       = "not_ready"
	reasonNotFound       = "not_found"
	reasonConflictRetry  = "conflict_retry"
	reasonTimeout        = "timeout"
	reasonAPIError       = "api_error"
)

var failureReasons = []string{ipam.ReasonExhausted, ipam.ReasonNoCandidatePool, ipam.ReasonAddressHeld,
	reasonConflictRetry, reasonInvalidRequest, reasonNotReady, reasonNotFound, reasonTimeout, reasonAPIError}

// NewMetrics registers the agent's series with reg. Every op and reason
// starts at zero, so that rates and alerts see the series before the first
// failure.
func NewMetrics(reg prometheus.Registerer) *Metrics {
	m := &Metrics{
		Requests: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "ipkeeper_agent_requests_total",
			Help: "Plugin requests by operation (add, del, check, gc) and result (ok, error).",
		}, []string{"op", "result"}),
		Duration: prometheus.NewHistogramVec(prometheus.HistogramOpts{
			Name:    "ipkeeper_agent_request_duration_seconds",
			Help:    "Time to answer a plugin request, by operation.",
			Buckets: []float64{.001, .002, .005, .01, .02, .05, .1, .2, .5, 1, 2, 5, 10},
		}, []string{"op"}),
		Failures: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "ipkeeper_agent_request_failures_total",
			Help: "Failed plugin requests by operation and reason (exhausted, no_candidate_pool, address_held, conflict_retry, invalid_request, not_ready, not_found, timeout, api_error).",
		}, []string{"op", "reason"}),
		Conflicts: prometheus.NewCounter(prometheus.CounterOpts{
			Name: "ipkeeper_agent_claim_conflicts_total",
			Help: "Claims lost to another writer (AlreadyExists) and retried on the next address.",
		}),
	}
	for _, op := range ops {
		m.Requests.WithLabelValues(op, "ok")
		m.Requests.WithLabelValues(op, "error")
		m.Duration.WithLabelValues(op)
		for _, r := range failureReasons {
			m.Failures.WithLabelValues(op, r)
		}
	}
	reg.MustRegister(m.Requests, m.Duration, m.Failures, m.Conflicts, buildinfo.Collector())
	return m
}

// failureReason classifies a failed request for the reason label.
func failureReason(err error) string {
	var apiErr *agentapi.Error
	var allocErr *ipam.AllocationError
	var annoErr *spiderpool.AnnotationError
	switch {
	case errors.As(err, &allocErr):
		if allocErr.Reason == "" {
			return ipam.ReasonNoCandidatePool
		}
		return allocErr.Reason
	case errors.Is(err, ipam.ErrNoRule):
		return ipam.ReasonNoCandidatePool
	case errors.As(err, &annoErr):
		return reasonInvalidRequest
	case errors.As(err, &apiErr) && apiErr.Code == agentapi.CodeInvalidConfig:
		return reasonInvalidRequest
	case errors.As(err, &apiErr) && apiErr.Code == agentapi.CodeTryAgainLater:
		return reasonNotReady
	case errors.Is(err, ipam.ErrNotFound):
		return reasonNotFound
	case errors.Is(err, ipam.ErrConflict):
		return reasonConflictRetry
	case errors.Is(err, context.DeadlineExceeded), errors.Is(err, context.Canceled):
		return reasonTimeout
	}
	return reasonAPIError
}
