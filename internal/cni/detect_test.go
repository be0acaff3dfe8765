package cni

import (
	"bytes"
	"context"
	"errors"
	"net"
	"net/netip"
	"strings"
	"testing"

	"github.com/containernetworking/cni/pkg/types"
	"github.com/google/go-cmp/cmp"

	"github.com/ipkeeper/ipkeeper/internal/agentapi"
	"github.com/ipkeeper/ipkeeper/internal/probe"
)

// scriptedProbe answers each check with the next outcome and records the
// plans it was given.
type scriptedProbe struct {
	outcomes []probe.Outcome
	plans    []probe.Plan
}

func (s *scriptedProbe) check(_ context.Context, _, _ string, plan probe.Plan) (probe.Outcome, error) {
	s.plans = append(s.plans, plan)
	if len(s.outcomes) == 0 {
		return probe.Outcome{}, nil
	}
	out := s.outcomes[0]
	s.outcomes = s.outcomes[1:]
	return out, nil
}

var (
	bothChecks = &agentapi.Detection{IPConflict: true, IPConflictTimeoutMs: 300, Gateway: true, GatewayTimeoutMs: 1000}
	foreignMAC = net.HardwareAddr{0x02, 0, 0, 0, 0, 0x99}
)

func answer(addr string, d *agentapi.Detection) *agentapi.AddResponse {
	return &agentapi.AddResponse{IPs: []agentapi.IPConfig{{Address: addr, Gateway: "10.6.0.1", Pool: "p1"}}, Detection: d}
}

func TestAddQuarantinesAnAddressAnotherHostAnswersForAndTakesAnother(t *testing.T) {
	agent := &recordingAgent{addSeq: []*agentapi.AddResponse{answer("10.6.168.101/16", bothChecks), answer("10.6.168.102/16", bothChecks)}}
	pr := &scriptedProbe{outcomes: []probe.Outcome{
		{Conflicts: []probe.Conflict{{Address: netip.MustParseAddr("10.6.168.101"), HardwareAddr: foreignMAC}}},
	}}
	var out bytes.Buffer
	if err := New(agent.connect, pr.check, &out).Add(cmdArgs(netconf("1.0.0", ""), podArgsString)); err != nil {
		t.Fatalf("ADD: %v", err)
	}
	if diff := cmp.Diff([]string{"add", "quarantine", "add"}, agent.calls); diff != "" {
		t.Fatalf("calls (-want +got):\n%s", diff)
	}
	q := agent.reqs[1].(*agentapi.QuarantineRequest)
	if q.Address != "10.6.168.101" || q.HardwareAddr != foreignMAC.String() || q.Pod != wantPod {
		t.Fatalf("quarantine request %+v, want 10.6.168.101 answered by %s for %v", q, foreignMAC, wantPod)
	}
	if !agent.reqs[0].(*agentapi.AddRequest).CanProbe {
		t.Fatal("ADD did not say the plugin checks addresses (canProbe)")
	}
	if !strings.Contains(out.String(), "10.6.168.102/16") || strings.Contains(out.String(), "10.6.168.101") {
		t.Fatalf("result %s: want 10.6.168.102 only", out.String())
	}
	if len(pr.plans) != 2 || pr.plans[1].Targets[0].Address != netip.MustParseAddr("10.6.168.102") {
		t.Fatalf("plans %+v: want the second address checked too", pr.plans)
	}
}

func TestAddFailsAndGivesTheAddressBackWhenTheGatewayDoesNotAnswer(t *testing.T) {
	agent := &recordingAgent{addResp: answer("10.6.168.101/16", bothChecks)}
	pr := &scriptedProbe{outcomes: []probe.Outcome{
		{Unreachable: []probe.Target{{Address: netip.MustParseAddr("10.6.168.101"), Gateway: netip.MustParseAddr("10.6.0.1")}}},
	}}
	var out bytes.Buffer
	err := New(agent.connect, pr.check, &out).Add(cmdArgs(netconf("1.0.0", ""), podArgsString))
	var cniErr *types.Error
	if !errors.As(err, &cniErr) || cniErr.Code != types.ErrTryAgainLater {
		t.Fatalf("ADD: %v, want CNI error %d", err, types.ErrTryAgainLater)
	}
	for _, want := range []string{"gateway 10.6.0.1", "pool p1", "1s"} {
		if !strings.Contains(cniErr.Msg, want) {
			t.Errorf("message %q does not say %q", cniErr.Msg, want)
		}
	}
	if diff := cmp.Diff([]string{"add", "abandon"}, agent.calls); diff != "" {
		t.Fatalf("calls (-want +got):\n%s", diff)
	}
	ab := agent.reqs[1].(*agentapi.AbandonRequest)
	if ab.Pool != "p1" || ab.Gateway != "10.6.0.1" || ab.WaitedMs != 1000 || ab.ContainerID != "c1" || ab.IfName != "eth0" {
		t.Fatalf("abandon request %+v", ab)
	}
	if out.Len() != 0 {
		t.Fatalf("a failed ADD printed %q", out.String())
	}
}

func TestAddGivesUpAfterManyAddressesInARowAnswer(t *testing.T) {
	agent := &recordingAgent{addResp: answer("10.6.168.101/16", bothChecks)}
	conflict := probe.Outcome{Conflicts: []probe.Conflict{{Address: netip.MustParseAddr("10.6.168.101"), HardwareAddr: foreignMAC}}}
	pr := &scriptedProbe{}
	for range maxQuarantines + 5 {
		pr.outcomes = append(pr.outcomes, conflict)
	}
	err := New(agent.connect, pr.check, &bytes.Buffer{}).Add(cmdArgs(netconf("1.0.0", ""), podArgsString))
	if err == nil || !strings.Contains(err.Error(), "in use by other hosts") {
		t.Fatalf("ADD: %v, want a failure naming the conflicts", err)
	}
	if len(pr.plans) != maxQuarantines || agent.calls[len(agent.calls)-1] != "abandon" {
		t.Fatalf("%d checks, calls %v: want %d checks, then the addresses given back", len(pr.plans), agent.calls, maxQuarantines)
	}
}

// Version skew: an older agent sends no Detection, and the plugin checks
// nothing and calls none of the new endpoints; a plugin built without a
// prober says so in canProbe.
func TestAddWithoutDetectionChecksNothing(t *testing.T) {
	agent := &recordingAgent{addResp: answer("10.6.168.101/16", nil)}
	pr := &scriptedProbe{}
	if err := New(agent.connect, pr.check, &bytes.Buffer{}).Add(cmdArgs(netconf("1.0.0", ""), podArgsString)); err != nil {
		t.Fatalf("ADD: %v", err)
	}
	if len(pr.plans) != 0 || len(agent.calls) != 1 {
		t.Fatalf("checks %v, calls %v: want none and one ADD", pr.plans, agent.calls)
	}
	agent = &recordingAgent{addResp: answer("10.6.168.101/16", bothChecks)}
	if err := New(agent.connect, nil, &bytes.Buffer{}).Add(cmdArgs(netconf("1.0.0", ""), podArgsString)); err != nil {
		t.Fatalf("ADD without a prober: %v", err)
	}
	if agent.reqs[0].(*agentapi.AddRequest).CanProbe {
		t.Fatal("a plugin without a prober said canProbe")
	}
}
