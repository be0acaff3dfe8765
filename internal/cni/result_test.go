package cni

import (
	"bytes"
	"encoding/json"
	"strings"
	"testing"

	current "github.com/containernetworking/cni/pkg/types/100"
	"github.com/containernetworking/cni/pkg/version"
	"github.com/google/go-cmp/cmp"

	"github.com/ipkeeper/ipkeeper/internal/agentapi"
)

// summary is a result reduced to strings that read well in a diff.
type summary struct {
	IPs    []string // "address via gateway" or "address"
	Routes []string // "dst via gw" or "dst"
}

func summarize(r *current.Result) summary {
	var s summary
	for _, ip := range r.IPs {
		line := ip.Address.String()
		if ip.Gateway != nil {
			line += " via " + ip.Gateway.String()
		}
		s.IPs = append(s.IPs, line)
	}
	for _, route := range r.Routes {
		line := route.Dst.String()
		if route.GW != nil {
			line += " via " + route.GW.String()
		}
		s.Routes = append(s.Routes, line)
	}
	return s
}

var (
	v4 = agentapi.IPConfig{Address: "10.6.168.101/16", Gateway: "10.6.0.1", Pool: "v4"}
	v6 = agentapi.IPConfig{Address: "fd00:10:6::101/64", Gateway: "fd00:10:6::1", Pool: "v6"}
)

func TestBuildResult(t *testing.T) {
	tests := []struct {
		name    string
		resp    *agentapi.AddResponse
		want    summary
		wantErr string // substring; empty: success
	}{
		{
			name: "IPv4 with gateway",
			resp: &agentapi.AddResponse{IPs: []agentapi.IPConfig{v4}},
			want: summary{IPs: []string{"10.6.168.101/16 via 10.6.0.1"}, Routes: []string{"0.0.0.0/0 via 10.6.0.1"}},
		},
		{
			name: "IPv6 with gateway",
			resp: &agentapi.AddResponse{IPs: []agentapi.IPConfig{v6}},
			want: summary{IPs: []string{"fd00:10:6::101/64 via fd00:10:6::1"}, Routes: []string{"::/0 via fd00:10:6::1"}},
		},
		{
			name: "dual stack",
			resp: &agentapi.AddResponse{IPs: []agentapi.IPConfig{v6, v4}},
			want: summary{
				IPs:    []string{"fd00:10:6::101/64 via fd00:10:6::1", "10.6.168.101/16 via 10.6.0.1"},
				Routes: []string{"0.0.0.0/0 via 10.6.0.1", "::/0 via fd00:10:6::1"},
			},
		},
		{
			name: "no gateway: no default route",
			resp: &agentapi.AddResponse{IPs: []agentapi.IPConfig{{Address: "10.6.168.101/16", Pool: "v4"}}},
			want: summary{IPs: []string{"10.6.168.101/16"}},
		},
		{
			name: "the agent's routes follow the default route; duplicates dropped; destinations masked",
			resp: &agentapi.AddResponse{
				IPs: []agentapi.IPConfig{v4},
				Routes: []agentapi.Route{
					{Dst: "10.7.0.0/16", GW: "10.6.0.254"},
					{Dst: "10.8.1.1/16"},
					{Dst: "10.7.0.0/16", GW: "10.6.0.254"},
				},
			},
			want: summary{
				IPs:    []string{"10.6.168.101/16 via 10.6.0.1"},
				Routes: []string{"0.0.0.0/0 via 10.6.0.1", "10.7.0.0/16 via 10.6.0.254", "10.8.0.0/16"},
			},
		},
		{
			name: "an explicit default route replaces the synthesized one",
			resp: &agentapi.AddResponse{
				IPs:    []agentapi.IPConfig{v4, v6},
				Routes: []agentapi.Route{{Dst: "0.0.0.0/0", GW: "10.6.0.254"}},
			},
			want: summary{
				IPs:    []string{"10.6.168.101/16 via 10.6.0.1", "fd00:10:6::101/64 via fd00:10:6::1"},
				Routes: []string{"::/0 via fd00:10:6::1", "0.0.0.0/0 via 10.6.0.254"},
			},
		},
		{
			name: "two addresses of one family: one default route, via the first gateway",
			resp: &agentapi.AddResponse{IPs: []agentapi.IPConfig{v4, {Address: "10.9.0.5/24", Gateway: "10.9.0.1"}}},
			want: summary{
				IPs:    []string{"10.6.168.101/16 via 10.6.0.1", "10.9.0.5/24 via 10.9.0.1"},
				Routes: []string{"0.0.0.0/0 via 10.6.0.1"},
			},
		},
		{name: "nil answer", resp: nil, wantErr: "no address"},
		{name: "no address", resp: &agentapi.AddResponse{}, wantErr: "no address"},
		{name: "address without prefix", resp: ips(agentapi.IPConfig{Address: "10.6.168.101"}), wantErr: `malformed address "10.6.168.101"`},
		{name: "garbage address", resp: ips(agentapi.IPConfig{Address: "ten/8"}), wantErr: "malformed address"},
		{name: "unspecified address", resp: ips(agentapi.IPConfig{Address: "0.0.0.0/0"}), wantErr: "unspecified"},
		{name: "IPv4-mapped address", resp: ips(agentapi.IPConfig{Address: "::ffff:10.6.0.1/120"}), wantErr: "IPv4-mapped"},
		{name: "garbage gateway", resp: ips(agentapi.IPConfig{Address: "10.6.168.101/16", Gateway: "10.6.0"}), wantErr: "malformed gateway"},
		{name: "gateway of the other family", resp: ips(agentapi.IPConfig{Address: "10.6.168.101/16", Gateway: "fd00::1"}), wantErr: "not of the family"},
		{name: "gateway with a zone", resp: ips(agentapi.IPConfig{Address: "fd00::5/64", Gateway: "fe80::1%eth0"}), wantErr: "zone"},
		{name: "same address twice", resp: ips(v4, v4), wantErr: "twice"},
		{
			name:    "garbage route",
			resp:    &agentapi.AddResponse{IPs: []agentapi.IPConfig{v4}, Routes: []agentapi.Route{{Dst: "default"}}},
			wantErr: "malformed route destination",
		},
		{
			name:    "route gateway of the other family",
			resp:    &agentapi.AddResponse{IPs: []agentapi.IPConfig{v4}, Routes: []agentapi.Route{{Dst: "10.7.0.0/16", GW: "fd00::1"}}},
			wantErr: "not of the family",
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := buildResult(tt.resp)
			if tt.wantErr != "" {
				if err == nil || !strings.Contains(err.Error(), tt.wantErr) {
					t.Fatalf("buildResult() error = %v, want %q", err, tt.wantErr)
				}
				return
			}
			if err != nil {
				t.Fatalf("buildResult() error = %v", err)
			}
			if diff := cmp.Diff(tt.want, summarize(got)); diff != "" {
				t.Errorf("buildResult() mismatch (-want +got):\n%s", diff)
			}
		})
	}
}

func ips(configs ...agentapi.IPConfig) *agentapi.AddResponse {
	return &agentapi.AddResponse{IPs: configs}
}

// TestPrintResult prints a dual-stack result in every supported version and
// parses it back as a runtime would.
func TestPrintResult(t *testing.T) {
	result, err := buildResult(&agentapi.AddResponse{
		IPs:    []agentapi.IPConfig{v4, v6},
		Routes: []agentapi.Route{{Dst: "10.7.0.0/16", GW: "10.6.0.254"}},
	})
	if err != nil {
		t.Fatal(err)
	}
	want := summarize(result)
	for _, cniVersion := range []string{"0.3.0", "0.3.1", "0.4.0", "1.0.0", "1.1.0"} {
		t.Run(cniVersion, func(t *testing.T) {
			var out bytes.Buffer
			if err := printResult(&out, result, cniVersion); err != nil {
				t.Fatalf("printResult() error = %v", err)
			}
			var raw struct {
				CNIVersion string           `json:"cniVersion"`
				IPs        []map[string]any `json:"ips"`
			}
			if err := json.Unmarshal(out.Bytes(), &raw); err != nil {
				t.Fatalf("output is not JSON: %v\n%s", err, out.String())
			}
			if raw.CNIVersion != cniVersion {
				t.Errorf("cniVersion = %q, want %q", raw.CNIVersion, cniVersion)
			}
			// Before 1.0.0 every address carries its family.
			_, hasFamily := raw.IPs[0]["version"]
			if wantFamily := strings.HasPrefix(cniVersion, "0."); hasFamily != wantFamily {
				t.Errorf("ips[0] has \"version\" = %v, want %v", hasFamily, wantFamily)
			}
			parsed, err := version.NewResult(cniVersion, out.Bytes())
			if err != nil {
				t.Fatalf("runtime cannot parse the result: %v\n%s", err, out.String())
			}
			back, err := current.NewResultFromResult(parsed)
			if err != nil {
				t.Fatal(err)
			}
			if diff := cmp.Diff(want, summarize(back)); diff != "" {
				t.Errorf("result after the round trip (-want +got):\n%s", diff)
			}
		})
	}
}
