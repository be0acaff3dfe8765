package agent

import (
	"github.com/prometheus/client_golang/prometheus"
)

// Metrics are the agent's Prometheus series. Names match the dashboards in
// docs/; change both together.
type Metrics struct {
	Requests  *prometheus.CounterVec
	Duration  *prometheus.HistogramVec
	Conflicts prometheus.Counter
}

// NewMetrics registers the agent's series with reg.
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
		Conflicts: prometheus.NewCounter(prometheus.CounterOpts{
			Name: "ipkeeper_agent_claim_conflicts_total",
			Help: "Claims lost to another writer (AlreadyExists) and retried on the next address.",
		}),
	}
	reg.MustRegister(m.Requests, m.Duration, m.Conflicts)
	return m
}
