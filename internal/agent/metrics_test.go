package agent

import (
	"context"
	"errors"
	"fmt"
	"testing"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/ipkeeper/ipkeeper/internal/agentapi"
	"github.com/ipkeeper/ipkeeper/internal/ipam"
	"github.com/ipkeeper/ipkeeper/internal/spiderpool"
)

func TestFailureReason(t *testing.T) {
	tests := []struct {
		err  error
		want string
	}{
		{&ipam.AllocationError{Msg: "full", Reason: ipam.ReasonExhausted}, "exhausted"},
		{fmt.Errorf("add: %w", &ipam.AllocationError{Msg: "none", Reason: ipam.ReasonNoCandidatePool}), "no_candidate_pool"},
		{&ipam.AllocationError{Msg: "held", Reason: ipam.ReasonAddressHeld}, "address_held"},
		{&ipam.AllocationError{Msg: "unclassified"}, "no_candidate_pool"},
		{ipam.ErrNoRule, "no_candidate_pool"},
		{&spiderpool.AnnotationError{Key: spiderpool.AnnoPool, Reason: "bad"}, "invalid_request"},
		{&agentapi.Error{Code: agentapi.CodeInvalidConfig, Msg: "malformed request"}, "invalid_request"},
		{&agentapi.Error{Code: agentapi.CodeTryAgainLater, Msg: "agent caches are not synced yet"}, "not_ready"},
		{fmt.Errorf("get pod: %w", ipam.ErrNotFound), "not_found"},
		{fmt.Errorf("pool p: gave up after 64 conflicting claims: %w", ipam.ErrConflict), "conflict_retry"},
		{fmt.Errorf("claim: %w", context.DeadlineExceeded), "timeout"},
		{errors.New("connection refused"), "api_error"},
	}
	for _, tt := range tests {
		t.Run(tt.want+"/"+tt.err.Error(), func(t *testing.T) {
			got := failureReason(tt.err)
			if got != tt.want {
				t.Errorf("failureReason(%v) = %q, want %q", tt.err, got, tt.want)
			}
			known := false
			for _, r := range failureReasons {
				known = known || r == got
			}
			if !known {
				t.Errorf("reason %q is not in failureReasons, whose series start at zero", got)
			}
		})
	}
}

// Every op's series exist from the start, so that rates and the alert rules
// see them before the first request.
func TestMetricsStartAtZero(t *testing.T) {
	reg := prometheus.NewPedanticRegistry()
	NewMetrics(reg)
	mfs, err := reg.Gather()
	if err != nil {
		t.Fatal(err)
	}
	got := map[string]int{}
	for _, mf := range mfs {
		got[mf.GetName()] = len(mf.GetMetric())
	}
	want := map[string]int{
		"ipkeeper_agent_requests_total":           len(ops) * 2,
		"ipkeeper_agent_request_duration_seconds": len(ops),
		"ipkeeper_agent_request_failures_total":   len(ops) * len(failureReasons),
		"ipkeeper_agent_claim_conflicts_total":    1,
		"ipkeeper_build_info":                     1,
	}
	for name, n := range want {
		if got[name] != n {
			t.Errorf("%s: %d series, want %d", name, got[name], n)
		}
	}
}
