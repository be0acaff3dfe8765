package cni

import (
	"bytes"
	"encoding/json"
	"errors"
	"strings"
	"testing"

	"github.com/containernetworking/cni/pkg/skel"
	"github.com/containernetworking/cni/pkg/types"
)

// What the runtime sees when it passes a garbage netconf or CNI_ARGS: ADD
// and CHECK refuse with the spec's code and a message naming the key, before
// calling the agent; DEL tears the sandbox down whatever CNI_ARGS or a
// previous result holds.
func TestGarbageNetconfAndArgsAreRefusedNamingTheKey(t *testing.T) {
	good := netconf("1.0.0", "")
	tests := []struct {
		name  string
		stdin []byte
		args  string
		code  uint
		want  []string
	}{
		{"netconf not JSON", []byte(`{"cniVersion":"1.0.0","name":`), podArgsString, types.ErrDecodingFailure,
			[]string{"decode network configuration", "unexpected end of JSON input"}},
		{"netconf trailing garbage", append(append([]byte{}, good...), '}'), podArgsString, types.ErrDecodingFailure,
			[]string{"decode network configuration", "after top-level value"}},
		{"pool list not a list", []byte(`{"cniVersion":"1.0.0","name":"n","ipam":{"type":"spiderpool","default_ipv4_ippool":"p1"}}`), podArgsString,
			types.ErrDecodingFailure, []string{"ipam.default_ipv4_ippool", "[]string"}},
		{"empty pool name", []byte(`{"cniVersion":"1.0.0","name":"n","ipam":{"type":"spiderpool","default_ipv6_ippool":["p6",""]}}`), podArgsString,
			types.ErrInvalidNetworkConfig, []string{"invalid ipam configuration", "default_ipv6_ippool holds an empty pool name"}},
		{"garbage prevResult", netconf("1.0.0", `,"prevResult":{"cniVersion":"1.0.0","ips":[{"address":"nope"}]}`), podArgsString,
			types.ErrDecodingFailure, []string{"decode prevResult", "nope"}},
		{"CNI_ARGS pair without =", good, "K8S_POD_NAMESPACE=ns1;K8S_POD_NAME", types.ErrInvalidEnvironmentVariables,
			[]string{"parse CNI_ARGS", `invalid pair "K8S_POD_NAME", want KEY=VALUE`}},
		{"CNI_ARGS without the pod", good, "IgnoreUnknown=1", types.ErrInvalidEnvironmentVariables,
			[]string{"missing K8S_POD_NAMESPACE in CNI_ARGS", "the runtime must pass the pod's namespace and name"}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			agent := &recordingAgent{}
			p := New(agent.connect, nil, &bytes.Buffer{})
			for op, run := range map[string]func(*skel.CmdArgs) error{"ADD": p.Add, "CHECK": p.Check} {
				err := run(cmdArgs(tc.stdin, tc.args))
				var e *types.Error
				if !errors.As(err, &e) || e.Code != tc.code {
					t.Fatalf("%s: %v; want CNI error %d", op, err, tc.code)
				}
				printed, _ := json.Marshal(e)
				for _, w := range tc.want {
					if !strings.Contains(e.Msg+": "+e.Details, w) {
						t.Errorf("%s: error %s does not say %q", op, printed, w)
					}
				}
				t.Logf("%s: %s", op, printed)
			}
			if len(agent.calls) != 0 {
				t.Fatalf("the agent was called (%v) for a request the plugin refuses", agent.calls)
			}
		})
	}
	// DEL needs only the sandbox: garbage besides it does not keep it alive.
	agent := &recordingAgent{}
	p := New(agent.connect, nil, &bytes.Buffer{})
	if err := p.Del(cmdArgs(netconf("1.0.0", `,"prevResult":{"ips":[{"address":"nope"}]}`), "=x;garbage")); err != nil {
		t.Fatalf("DEL with a garbage prevResult and CNI_ARGS: %v", err)
	}
	if len(agent.calls) != 1 || agent.calls[0] != "del" {
		t.Fatalf("agent calls %v, want one del", agent.calls)
	}
}
