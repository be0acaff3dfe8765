package coordinator

import (
	"net/netip"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"

	"github.com/ipkeeper/ipkeeper/internal/agentapi"
)

func ptr[T any](v T) *T { return &v }

func TestMergePrecedence(t *testing.T) {
	scc := &agentapi.CoordinatorResponse{
		Found: true, Mode: "underlay", ServiceCIDR: []string{"10.96.0.0/16"}, HijackCIDR: []string{"169.254.25.10/32"},
		PodMACPrefix: "0a:1b", TunePodRoutes: ptr(false), PodDefaultRouteNIC: "net1", HostRuleTable: ptr[int64](600),
		PodRPFilter: ptr[int32](2), VethLinkAddress: "169.254.100.1",
	}
	tests := []struct {
		name string
		conf NetConf
		scc  *agentapi.CoordinatorResponse
		want Config
	}{{
		name: "defaults without agent answer",
		want: Config{Mode: ModeAuto, TunePodRoutes: true, DefaultRouteNIC: "eth0", HostRuleTable: 500},
	}, {
		name: "the SpiderCoordinator",
		scc:  scc,
		want: Config{Mode: "underlay", ServiceCIDR: pfx("10.96.0.0/16"), HijackCIDR: pfx("169.254.25.10/32"), PodMACPrefix: "0a:1b",
			DefaultRouteNIC: "net1", HostRuleTable: 600, PodRPFilter: 2, VethLinkAddress: netip.MustParseAddr("169.254.100.1")},
	}, {
		name: "the netconf wins, the pod's annotation wins over both",
		conf: NetConf{Mode: "disabled", HijackCIDR: []string{}, PodMACPrefix: "0c:0d", TunePodRoutes: ptr(true), PodDefaultRouteNIC: "net2",
			PodRPFilter: ptr[int32](-1), ServiceCIDR: []string{"10.97.0.0/16", "10.96.0.5/16"}},
		scc: func() *agentapi.CoordinatorResponse { c := *scc; c.DefaultRouteNIC = "net3"; return &c }(),
		want: Config{Mode: "disabled", ServiceCIDR: pfx("10.96.0.0/16", "10.97.0.0/16"), PodMACPrefix: "0c:0d", TunePodRoutes: true,
			DefaultRouteNIC: "net3", HostRuleTable: 600, PodRPFilter: -1, VethLinkAddress: netip.MustParseAddr("169.254.100.1")},
	}}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := Merge(&tt.conf, tt.scc)
			if err != nil {
				t.Fatalf("Merge: %v", err)
			}
			if diff := cmp.Diff(tt.want, *got, cmp.Comparer(func(a, b netip.Addr) bool { return a == b }),
				cmp.Comparer(func(a, b netip.Prefix) bool { return a == b })); diff != "" {
				t.Errorf("Merge (-want +got):\n%s", diff)
			}
		})
	}
}

// TestMergeRefuses: each refusal names the setting, the bad value and what
// is accepted.
func TestMergeRefuses(t *testing.T) {
	tests := []struct {
		name string
		conf NetConf
		want []string
	}{
		{"mode", NetConf{Mode: "l3"}, []string{"mode", `"l3"`, "underlay"}},
		{"overlay", NetConf{Mode: "overlay"}, []string{"mode", `"overlay"`, "not supported"}},
		{"mac prefix shape", NetConf{PodMACPrefix: "0a1b"}, []string{"podMACPrefix", `"0a1b"`, "0a:1b"}},
		{"mac prefix multicast", NetConf{PodMACPrefix: "01:00"}, []string{"podMACPrefix", `"01:00"`, "unicast"}},
		{"default route nic", NetConf{PodDefaultRouteNIC: "a-very-long-interface"}, []string{"podDefaultRouteNIC", `"a-very-long-interface"`, "15"}},
		{"host rule table main", NetConf{HostRuleTable: ptr[int64](254)}, []string{"hostRuleTable", "254", "except"}},
		{"rp filter", NetConf{PodRPFilter: ptr[int32](3)}, []string{"podRPFilter", "3", "loose"}},
		{"veth link address", NetConf{VethLinkAddress: "10.0.0.1"}, []string{"vethLinkAddress", `"10.0.0.1"`, "link-local"}},
		{"hijack", NetConf{HijackCIDR: []string{"10.0.0.0/33"}}, []string{"hijackCIDR", `"10.0.0.0/33"`, "CIDR"}},
		{"service", NetConf{ServiceCIDR: []string{"nope"}}, []string{"serviceCIDR", `"nope"`, "CIDR"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, err := Merge(&tt.conf, nil)
			if err == nil {
				t.Fatal("Merge accepted it")
			}
			for _, w := range tt.want {
				if !strings.Contains(err.Error(), w) {
					t.Errorf("error %q lacks %q", err, w)
				}
			}
		})
	}
}

func TestParseNetConf(t *testing.T) {
	conf, err := ParseNetConf([]byte(`{"cniVersion":"0.3.1","name":"n","type":"coordinator","hijackCIDR":["169.254.25.10/32"],"tunePodRoutes":false}`))
	if err != nil {
		t.Fatal(err)
	}
	if conf.SocketPath != agentapi.DefaultSocketPath || conf.TunePodRoutes == nil || *conf.TunePodRoutes || len(conf.HijackCIDR) != 1 {
		t.Errorf("ParseNetConf = %+v", conf)
	}
	if _, err := ParseNetConf([]byte(`{`)); err == nil {
		t.Error("ParseNetConf accepted broken JSON")
	}
}

func pfx(s ...string) []netip.Prefix {
	var out []netip.Prefix
	for _, v := range s {
		out = append(out, netip.MustParsePrefix(v))
	}
	return out
}
