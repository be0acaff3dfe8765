package cni

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/containernetworking/cni/pkg/skel"
	"github.com/containernetworking/cni/pkg/types"
	current "github.com/containernetworking/cni/pkg/types/100"
	"github.com/containernetworking/cni/pkg/version"
	"github.com/google/go-cmp/cmp"

	"github.com/ipkeeper/ipkeeper/internal/agentapi"
)

const testSocket = "/run/test/agent.sock"

// recordingAgent records what the plugin asks and answers with what the
// test set, so each test can inject the agent's failures.
type recordingAgent struct {
	addResp *agentapi.AddResponse
	// addSeq, when set, answers the ADDs in turn (then addResp).
	addSeq []*agentapi.AddResponse
	err    error // returned by every call
	delErr error // returned by Del, when set

	socket  string
	timeout time.Duration
	calls   []string
	reqs    []any
}

func (a *recordingAgent) connect(socket string, timeout time.Duration) Agent {
	a.socket, a.timeout = socket, timeout
	return a
}

func (a *recordingAgent) record(call string, req any) {
	a.calls = append(a.calls, call)
	a.reqs = append(a.reqs, req)
}

func (a *recordingAgent) Add(_ context.Context, req *agentapi.AddRequest) (*agentapi.AddResponse, error) {
	a.record("add", req)
	if a.err != nil {
		return nil, a.err
	}
	if len(a.addSeq) > 0 {
		r := a.addSeq[0]
		a.addSeq = a.addSeq[1:]
		return r, nil
	}
	return a.addResp, nil
}

func (a *recordingAgent) Quarantine(_ context.Context, req *agentapi.QuarantineRequest) error {
	a.record("quarantine", req)
	return a.err
}

func (a *recordingAgent) Abandon(_ context.Context, req *agentapi.AbandonRequest) error {
	a.record("abandon", req)
	return a.err
}

func (a *recordingAgent) Del(_ context.Context, req *agentapi.DelRequest) error {
	a.record("del", req)
	if a.delErr != nil {
		return a.delErr
	}
	return a.err
}

func (a *recordingAgent) Check(_ context.Context, req *agentapi.CheckRequest) error {
	a.record("check", req)
	return a.err
}

func (a *recordingAgent) GC(_ context.Context, req *agentapi.GCRequest) (*agentapi.GCResponse, error) {
	a.record("gc", req)
	return &agentapi.GCResponse{}, a.err
}

func (a *recordingAgent) Ready(context.Context) error {
	a.record("ready", nil)
	return a.err
}

var errRefused = fmt.Errorf("%w at %s: %w", agentapi.ErrUnreachable, testSocket, syscall.ECONNREFUSED)

const podArgsString = "K8S_POD_NAMESPACE=ns1;K8S_POD_NAME=web-0;K8S_POD_UID=u1;K8S_POD_INFRA_CONTAINER_ID=c1"

var wantPod = agentapi.PodRef{Namespace: "ns1", Name: "web-0", UID: "u1"}

func netconf(cniVersion, extra string) []byte {
	return []byte(`{"cniVersion":"` + cniVersion + `","name":"macvlan-ens192","type":"macvlan",` +
		`"ipam":{"type":"spiderpool","ipam_unix_socket_path":"` + testSocket + `",` +
		`"default_ipv4_ippool":["p1"],"default_ipv6_ippool":["p6"],"clean_gateway":true}` + extra + `}`)
}

func cmdArgs(stdin []byte, cniArgs string) *skel.CmdArgs {
	return &skel.CmdArgs{ContainerID: "c1", Netns: "/var/run/netns/pod", IfName: "eth0", Args: cniArgs, StdinData: stdin}
}

func TestAdd(t *testing.T) {
	dualStack := &agentapi.AddResponse{IPs: []agentapi.IPConfig{v4, v6}}
	tests := []struct {
		name       string
		cniVersion string
		cniArgs    string
		agent      *recordingAgent
		wantCalls  []string
		wantCode   uint // 0: success
		wantMsg    string
	}{
		{name: "0.3.1", cniVersion: "0.3.1", cniArgs: podArgsString, agent: &recordingAgent{addResp: dualStack}, wantCalls: []string{"add"}},
		{name: "1.0.0", cniVersion: "1.0.0", cniArgs: podArgsString, agent: &recordingAgent{addResp: dualStack}, wantCalls: []string{"add"}},
		{name: "1.1.0", cniVersion: "1.1.0", cniArgs: podArgsString, agent: &recordingAgent{addResp: dualStack}, wantCalls: []string{"add"}},
		{
			name: "agent unreachable", cniVersion: "1.0.0", cniArgs: podArgsString,
			agent:     &recordingAgent{err: errRefused},
			wantCalls: []string{"add"}, wantCode: types.ErrTryAgainLater, wantMsg: "ipkeeper agent unreachable at " + testSocket,
		},
		{
			name: "pool exhausted", cniVersion: "1.0.0", cniArgs: podArgsString,
			agent:     &recordingAgent{err: &agentapi.Error{Code: agentapi.CodeAllocationFailed, Msg: "no free address in pool p1"}},
			wantCalls: []string{"add"}, wantCode: agentapi.CodeAllocationFailed, wantMsg: "no free address in pool p1",
		},
		{
			name: "garbage answer is released, not printed", cniVersion: "1.0.0", cniArgs: podArgsString,
			agent:     &recordingAgent{addResp: ips(agentapi.IPConfig{Address: "10.6.168.300/16"})},
			wantCalls: []string{"add", "del"}, wantCode: types.ErrInternal, wantMsg: "invalid answer from ipkeeper agent at " + testSocket,
		},
		{
			name: "missing pod name: the agent is not asked", cniVersion: "1.0.0", cniArgs: "K8S_POD_NAMESPACE=ns1",
			agent:    &recordingAgent{addResp: dualStack},
			wantCode: types.ErrInvalidEnvironmentVariables, wantMsg: "missing K8S_POD_NAME in CNI_ARGS",
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var out bytes.Buffer
			err := New(tt.agent.connect, nil, &out).Add(cmdArgs(netconf(tt.cniVersion, ""), tt.cniArgs))
			if diff := cmp.Diff(tt.wantCalls, tt.agent.calls); diff != "" {
				t.Errorf("agent calls (-want +got):\n%s", diff)
			}
			if tt.wantCode != 0 {
				got := asCNIError(t, err)
				if got.Code != tt.wantCode || got.Msg != tt.wantMsg {
					t.Errorf("Add() error = %#v, want code %d and message %q", got, tt.wantCode, tt.wantMsg)
				}
				if out.Len() != 0 {
					t.Errorf("Add() failed but printed %q", out.String())
				}
				return
			}
			if err != nil {
				t.Fatalf("Add() error = %v", err)
			}
			wantReq := &agentapi.AddRequest{
				Attachment:       agentapi.Attachment{ContainerID: "c1", IfName: "eth0"},
				Pod:              wantPod,
				NetNS:            "/var/run/netns/pod",
				Network:          "macvlan-ens192",
				DefaultIPv4Pools: []string{"p1"},
				DefaultIPv6Pools: []string{"p6"},
				CleanGateway:     true,
			}
			if diff := cmp.Diff(wantReq, tt.agent.reqs[0]); diff != "" {
				t.Errorf("AddRequest (-want +got):\n%s", diff)
			}
			if tt.agent.socket != testSocket || tt.agent.timeout != addTimeout {
				t.Errorf("connected to %q with timeout %v, want %q and %v", tt.agent.socket, tt.agent.timeout, testSocket, addTimeout)
			}
			checkPrinted(t, out.Bytes(), tt.cniVersion, dualStack)
		})
	}
}

// checkPrinted parses out as a runtime of cniVersion would and compares it
// with the result built from resp.
func checkPrinted(t *testing.T, out []byte, cniVersion string, resp *agentapi.AddResponse) {
	t.Helper()
	parsed, err := version.NewResult(cniVersion, out)
	if err != nil {
		t.Fatalf("printed result does not parse as %s: %v\n%s", cniVersion, err, out)
	}
	got, err := current.NewResultFromResult(parsed)
	if err != nil {
		t.Fatal(err)
	}
	want, err := buildResult(resp)
	if err != nil {
		t.Fatal(err)
	}
	if diff := cmp.Diff(summarize(want), summarize(got)); diff != "" {
		t.Errorf("printed result (-want +got):\n%s", diff)
	}
}

func TestAddRollbackFailureIsReported(t *testing.T) {
	agent := &recordingAgent{addResp: &agentapi.AddResponse{}, delErr: errRefused}
	err := New(agent.connect, nil, &bytes.Buffer{}).Add(cmdArgs(netconf("1.0.0", ""), podArgsString))
	got := asCNIError(t, err)
	if !strings.Contains(got.Details, "no address") || !strings.Contains(got.Details, "releasing it failed too") {
		t.Errorf("details = %q, want the answer's fault and the failed release", got.Details)
	}
}

// TestCommands covers DEL, CHECK, GC and STATUS: what each sends and how it
// fails.
func TestCommands(t *testing.T) {
	prevResult := `,"prevResult":{"cniVersion":"1.0.0","ips":[{"address":"10.6.168.101/16","gateway":"10.6.0.1"},{"address":"fd00:10:6::101/64"}]}`
	attachments := `,"cni.dev/valid-attachments":[{"containerID":"c1","ifname":"eth0"},{"containerID":"c2","ifname":"net1"}]`
	tests := []struct {
		name        string
		run         func(*Plugin, *skel.CmdArgs) error
		stdin       []byte
		cniArgs     string
		agentErr    error
		wantReq     any // checked when set
		wantNoCall  bool
		wantTimeout time.Duration
		wantCode    uint
		wantMsg     string
	}{
		{
			name: "DEL", run: (*Plugin).Del, stdin: netconf("1.0.0", ""), cniArgs: podArgsString,
			wantReq:     &agentapi.DelRequest{Attachment: agentapi.Attachment{ContainerID: "c1", IfName: "eth0"}, Pod: wantPod, Network: "macvlan-ens192"},
			wantTimeout: delTimeout,
		},
		{
			name: "DEL without pod args still releases", run: (*Plugin).Del, stdin: netconf("1.0.0", ""),
			wantReq:     &agentapi.DelRequest{Attachment: agentapi.Attachment{ContainerID: "c1", IfName: "eth0"}, Network: "macvlan-ens192"},
			wantTimeout: delTimeout,
		},
		{
			name: "DEL ignores a previous result it cannot parse", run: (*Plugin).Del, stdin: netconf("1.0.0", `,"prevResult":{"ips":"garbage"}`), cniArgs: podArgsString,
			wantReq:     &agentapi.DelRequest{Attachment: agentapi.Attachment{ContainerID: "c1", IfName: "eth0"}, Pod: wantPod, Network: "macvlan-ens192"},
			wantTimeout: delTimeout,
		},
		{
			name: "DEL skips a malformed CNI_ARGS pair", run: (*Plugin).Del, stdin: netconf("1.0.0", ""), cniArgs: "garbage;" + podArgsString,
			wantReq:     &agentapi.DelRequest{Attachment: agentapi.Attachment{ContainerID: "c1", IfName: "eth0"}, Pod: wantPod, Network: "macvlan-ens192"},
			wantTimeout: delTimeout,
		},
		{
			name: "DEL fails when the agent is unreachable", run: (*Plugin).Del, stdin: netconf("1.0.0", ""), cniArgs: podArgsString,
			agentErr:    errRefused,
			wantReq:     &agentapi.DelRequest{Attachment: agentapi.Attachment{ContainerID: "c1", IfName: "eth0"}, Pod: wantPod, Network: "macvlan-ens192"},
			wantTimeout: delTimeout,
			wantCode:    types.ErrTryAgainLater, wantMsg: "ipkeeper agent unreachable at " + testSocket,
		},
		{
			name: "CHECK sends the previous result's addresses", run: (*Plugin).Check, stdin: netconf("1.0.0", prevResult), cniArgs: podArgsString,
			wantReq: &agentapi.CheckRequest{
				Attachment: agentapi.Attachment{ContainerID: "c1", IfName: "eth0"}, Pod: wantPod, Network: "macvlan-ens192",
				IPs: []string{"10.6.168.101/16", "fd00:10:6::101/64"},
			},
			wantTimeout: checkTimeout,
		},
		{
			name: "CHECK passes the agent's verdict", run: (*Plugin).Check, stdin: netconf("1.0.0", prevResult), cniArgs: podArgsString,
			agentErr: &agentapi.Error{Code: agentapi.CodeNotFound, Msg: "no allocation for c1/eth0"},
			wantReq: &agentapi.CheckRequest{
				Attachment: agentapi.Attachment{ContainerID: "c1", IfName: "eth0"}, Pod: wantPod, Network: "macvlan-ens192",
				IPs: []string{"10.6.168.101/16", "fd00:10:6::101/64"},
			},
			wantTimeout: checkTimeout,
			wantCode:    agentapi.CodeNotFound, wantMsg: "no allocation for c1/eth0",
		},
		{
			name: "GC sends the valid attachments", run: (*Plugin).GC, stdin: netconf("1.1.0", attachments),
			wantReq: &agentapi.GCRequest{Network: "macvlan-ens192", ValidAttachments: []agentapi.Attachment{
				{ContainerID: "c1", IfName: "eth0"}, {ContainerID: "c2", IfName: "net1"},
			}},
			wantTimeout: gcTimeout,
		},
		{
			name: "GC with an empty list", run: (*Plugin).GC, stdin: netconf("1.1.0", `,"cni.dev/valid-attachments":[]`),
			wantReq:     &agentapi.GCRequest{Network: "macvlan-ens192", ValidAttachments: []agentapi.Attachment{}},
			wantTimeout: gcTimeout,
		},
		{
			name: "GC without a list is refused", run: (*Plugin).GC, stdin: netconf("1.1.0", ""),
			wantNoCall: true,
			wantCode:   types.ErrInvalidNetworkConfig, wantMsg: "GC without cni.dev/valid-attachments",
		},
		{name: "STATUS", run: (*Plugin).Status, stdin: netconf("1.1.0", ""), wantTimeout: statusTimeout},
		{
			name: "STATUS when the agent is unreachable", run: (*Plugin).Status, stdin: netconf("1.1.0", ""),
			agentErr: errRefused, wantTimeout: statusTimeout,
			wantCode: types.ErrPluginNotAvailable, wantMsg: "ipkeeper agent unreachable at " + testSocket,
		},
		{
			name: "STATUS when the agent is not ready", run: (*Plugin).Status, stdin: netconf("1.1.0", ""),
			agentErr: errors.New("agent at " + testSocket + " is not ready: caches not synced"), wantTimeout: statusTimeout,
			wantCode: types.ErrPluginNotAvailable, wantMsg: "ipkeeper agent at " + testSocket + " is not ready",
		},
		{
			name: "bad netconf", run: (*Plugin).Del, stdin: []byte(`{"cniVersion":"1.0.0",`),
			wantNoCall: true,
			wantCode:   types.ErrDecodingFailure, wantMsg: "decode network configuration",
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			agent := &recordingAgent{err: tt.agentErr}
			var out bytes.Buffer
			err := tt.run(New(agent.connect, nil, &out), cmdArgs(tt.stdin, tt.cniArgs))
			if tt.wantCode != 0 {
				if got := asCNIError(t, err); got.Code != tt.wantCode || got.Msg != tt.wantMsg {
					t.Errorf("error = %#v, want code %d and message %q", got, tt.wantCode, tt.wantMsg)
				}
			} else if err != nil {
				t.Fatalf("error = %v", err)
			}
			if tt.wantReq != nil {
				if len(agent.reqs) != 1 {
					t.Fatalf("agent calls = %v, want one", agent.calls)
				}
				if diff := cmp.Diff(tt.wantReq, agent.reqs[0]); diff != "" {
					t.Errorf("request (-want +got):\n%s", diff)
				}
			}
			if tt.wantNoCall && len(agent.calls) != 0 {
				t.Errorf("agent calls = %v, want none", agent.calls)
			}
			if tt.wantTimeout != 0 && agent.timeout != tt.wantTimeout {
				t.Errorf("timeout = %v, want %v", agent.timeout, tt.wantTimeout)
			}
			if out.Len() != 0 {
				t.Errorf("printed %q, want nothing", out.String())
			}
		})
	}
}
