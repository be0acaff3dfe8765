package multusconfig

import (
	"encoding/json"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/utils/ptr"

	"github.com/ipkeeper/ipkeeper/api/v2beta1"
)

func newSMC(name string, spec v2beta1.SpiderMultusConfigSpec) *v2beta1.SpiderMultusConfig {
	return &v2beta1.SpiderMultusConfig{ObjectMeta: metav1.ObjectMeta{Namespace: "kube-system", Name: name}, Spec: spec}
}

// seedSpec is the SpiderMultusConfig of the StatefulSet seed.
func seedSpec() v2beta1.SpiderMultusConfigSpec {
	return v2beta1.SpiderMultusConfigSpec{
		CNIType:           v2beta1.CNITypeMacvlan,
		EnableCoordinator: ptr.To(true),
		Macvlan:           &v2beta1.MasterNICConfig{Master: []string{"ens192"}},
	}
}

func TestRender(t *testing.T) {
	const spiderIPAM = `"ipam":{"type":"spiderpool"}`
	const coord = `{"type":"coordinator"}`
	tests := []struct {
		name        string
		spec        func() v2beta1.SpiderMultusConfigSpec
		want        string
		annotations map[string]string
	}{{
		name: "seed macvlan",
		spec: seedSpec,
		want: `{"cniVersion":"0.3.1","name":"net","plugins":[{"type":"macvlan","master":"ens192","mode":"bridge",` + spiderIPAM + `},` + coord + `]}`,
	}, {
		name: "macvlan vlan mtu and pools",
		spec: func() v2beta1.SpiderMultusConfigSpec {
			s := seedSpec()
			s.Macvlan.VlanID, s.Macvlan.MTU = ptr.To[int32](100), ptr.To[int32](9000)
			s.Macvlan.IPPools = &v2beta1.PoolNames{IPv4: []string{"v4-a", "v4-b"}, IPv6: []string{"v6"}}
			return s
		},
		want: `{"cniVersion":"0.3.1","name":"net","plugins":[{"type":"macvlan","master":"ens192.100","mode":"bridge","mtu":9000,` +
			`"ipam":{"type":"spiderpool","default_ipv4_ippool":["v4-a","v4-b"],"default_ipv6_ippool":["v6"]}},` + coord + `]}`,
	}, {
		name: "vlanID 0 and mtu 0 are left out",
		spec: func() v2beta1.SpiderMultusConfigSpec {
			s := seedSpec()
			s.Macvlan.VlanID, s.Macvlan.MTU = ptr.To[int32](0), ptr.To[int32](0)
			return s
		},
		want: `{"cniVersion":"0.3.1","name":"net","plugins":[{"type":"macvlan","master":"ens192","mode":"bridge",` + spiderIPAM + `},` + coord + `]}`,
	}, {
		name: "bond replaces the masters",
		spec: func() v2beta1.SpiderMultusConfigSpec {
			s := seedSpec()
			s.Macvlan.Master = []string{"ens192", "ens224"}
			s.Macvlan.Bond = &v2beta1.BondConfig{Name: "bond0", Mode: 1}
			s.Macvlan.VlanID = ptr.To[int32](7)
			return s
		},
		want: `{"cniVersion":"0.3.1","name":"net","plugins":[{"type":"macvlan","master":"bond0.7","mode":"bridge",` + spiderIPAM + `},` + coord + `]}`,
	}, {
		name: "ipvlan",
		spec: func() v2beta1.SpiderMultusConfigSpec {
			return v2beta1.SpiderMultusConfigSpec{CNIType: v2beta1.CNITypeIPvlan,
				IPvlan: &v2beta1.MasterNICConfig{Master: []string{"ens192"}, MTU: ptr.To[int32](1400),
					IPPools: &v2beta1.PoolNames{IPv4: []string{"p4"}}}}
		},
		want: `{"cniVersion":"0.3.1","name":"net","plugins":[{"type":"ipvlan","master":"ens192","mtu":1400,` +
			`"ipam":{"type":"spiderpool","default_ipv4_ippool":["p4"]}},` + coord + `]}`,
	}, {
		name: "sriov",
		spec: func() v2beta1.SpiderMultusConfigSpec {
			return v2beta1.SpiderMultusConfigSpec{CNIType: v2beta1.CNITypeSRIOV,
				SRIOV: &v2beta1.SRIOVConfig{ResourceName: "intel.com/sriov_netdevice", VlanID: ptr.To[int32](5)}}
		},
		want:        `{"cniVersion":"0.3.1","name":"net","plugins":[{"type":"sriov","vlan":5,` + spiderIPAM + `},` + coord + `]}`,
		annotations: map[string]string{ResourceNameAnnotation: "intel.com/sriov_netdevice"},
	}, {
		name: "ovs",
		spec: func() v2beta1.SpiderMultusConfigSpec {
			return v2beta1.SpiderMultusConfigSpec{CNIType: v2beta1.CNITypeOVS,
				OVS: &v2beta1.OVSConfig{Bridge: "br1", VLAN: ptr.To[int32](10), DeviceID: "0000:81:00.1",
					IPPools: &v2beta1.PoolNames{IPv6: []string{"p6"}}}}
		},
		want: `{"cniVersion":"0.3.1","name":"net","plugins":[{"type":"ovs","bridge":"br1","vlan":10,"deviceID":"0000:81:00.1",` +
			`"ipam":{"type":"spiderpool","default_ipv6_ippool":["p6"]}},` + coord + `]}`,
	}, {
		name: "ib-sriov",
		spec: func() v2beta1.SpiderMultusConfigSpec {
			return v2beta1.SpiderMultusConfigSpec{CNIType: v2beta1.CNITypeIBSRIOV}
		},
		want: `{"cniVersion":"0.3.1","name":"net","plugins":[{"type":"ib-sriov",` + spiderIPAM + `},` + coord + `]}`,
	}, {
		name: "ipoib without ipam",
		spec: func() v2beta1.SpiderMultusConfigSpec {
			return v2beta1.SpiderMultusConfigSpec{CNIType: v2beta1.CNITypeIPoIB, DisableIPAM: ptr.To(true)}
		},
		want: `{"cniVersion":"0.3.1","name":"net","plugins":[{"type":"ipoib"},` + coord + `]}`,
	}, {
		name: "disableIPAM drops the pools too",
		spec: func() v2beta1.SpiderMultusConfigSpec {
			s := seedSpec()
			s.Macvlan.IPPools = &v2beta1.PoolNames{IPv4: []string{"p4"}}
			s.DisableIPAM = ptr.To(true)
			return s
		},
		want: `{"cniVersion":"0.3.1","name":"net","plugins":[{"type":"macvlan","master":"ens192","mode":"bridge"},` + coord + `]}`,
	}, {
		name: "chain plugins appended in order, compacted",
		spec: func() v2beta1.SpiderMultusConfigSpec {
			s := seedSpec()
			s.ChainCNIJSONData = []string{`{ "type": "tuning", "sysctl": {"net.core.somaxconn": "500"} }`, `{"type":"bandwidth","ingressRate":1000}`}
			return s
		},
		want: `{"cniVersion":"0.3.1","name":"net","plugins":[{"type":"macvlan","master":"ens192","mode":"bridge",` + spiderIPAM + `},` + coord + `,` +
			`{"type":"tuning","sysctl":{"net.core.somaxconn":"500"}},{"type":"bandwidth","ingressRate":1000}]}`,
	}, {
		name: "coordinator block rendered into the coordinator plugin",
		spec: func() v2beta1.SpiderMultusConfigSpec {
			s := seedSpec()
			s.Coordinator = &v2beta1.CoordinatorConfig{Mode: ptr.To("underlay"), DetectGateway: ptr.To(true),
				TunePodRoutes: ptr.To(false), PodDefaultRouteNIC: ptr.To("net1"), PodMACPrefix: ptr.To("0a:1b"),
				HijackCustomSubnet: []string{"169.254.25.10/32"}}
			return s
		},
		want: `{"cniVersion":"0.3.1","name":"net","plugins":[{"type":"macvlan","master":"ens192","mode":"bridge",` + spiderIPAM + `},` +
			`{"type":"coordinator","mode":"underlay","tunePodRoutes":false,"podDefaultRouteNIC":"net1","podMACPrefix":"0a:1b","hijackCIDR":["169.254.25.10/32"]}]}`,
	}, {
		name: "enableCoordinator false chains none",
		spec: func() v2beta1.SpiderMultusConfigSpec {
			s := seedSpec()
			s.EnableCoordinator = ptr.To(false)
			return s
		},
		want: `{"cniVersion":"0.3.1","name":"net","plugins":[{"type":"macvlan","master":"ens192","mode":"bridge",` + spiderIPAM + `}]}`,
	}, {
		name: "custom single plugin is wrapped",
		spec: func() v2beta1.SpiderMultusConfigSpec {
			return v2beta1.SpiderMultusConfigSpec{CNIType: v2beta1.CNITypeCustom,
				CustomCNI: ptr.To(`{"type": "bridge", "bridge": "cni0"}`)}
		},
		want: `{"cniVersion":"0.3.1","name":"net","plugins":[{"type":"bridge","bridge":"cni0"}]}`,
	}, {
		name: "custom single plugin keeps its cniVersion and gets the chain",
		spec: func() v2beta1.SpiderMultusConfigSpec {
			return v2beta1.SpiderMultusConfigSpec{CNIType: v2beta1.CNITypeCustom,
				CustomCNI:        ptr.To(`{"cniVersion":"1.0.0","type":"bridge"}`),
				ChainCNIJSONData: []string{`{"type":"tuning"}`}}
		},
		want: `{"cniVersion":"1.0.0","name":"net","plugins":[{"cniVersion":"1.0.0","type":"bridge"},{"type":"tuning"}]}`,
	}, {
		name: "custom list is used as-is",
		spec: func() v2beta1.SpiderMultusConfigSpec {
			return v2beta1.SpiderMultusConfigSpec{
				CustomCNI: ptr.To(`{"cniVersion": "0.4.0", "name": "mine", "plugins": [{"type": "bridge"}]}`)}
		},
		want: `{"cniVersion": "0.4.0", "name": "mine", "plugins": [{"type": "bridge"}]}`,
	}, {
		name: "custom list gets the chain appended",
		spec: func() v2beta1.SpiderMultusConfigSpec {
			return v2beta1.SpiderMultusConfigSpec{CNIType: v2beta1.CNITypeCustom,
				CustomCNI:        ptr.To(`{"plugins": [{"type": "bridge"}], "name": "mine", "cniVersion": "0.4.0"}`),
				ChainCNIJSONData: []string{`{"type":"tuning"}`}}
		},
		want: `{"cniVersion":"0.4.0","name":"mine","plugins":[{"type":"bridge"},{"type":"tuning"}]}`,
	}}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			got, err := Render(newSMC("net", tc.spec()))
			if err != nil {
				t.Fatalf("Render: %v", err)
			}
			if diff := cmp.Diff(tc.want, got.Config); diff != "" {
				t.Errorf("config (-want +got):\n%s", diff)
			}
			if diff := cmp.Diff(tc.annotations, got.Annotations); diff != "" {
				t.Errorf("annotations (-want +got):\n%s", diff)
			}
			if !json.Valid([]byte(got.Config)) {
				t.Errorf("config is not valid JSON: %s", got.Config)
			}
		})
	}
}

func TestRenderIsDeterministic(t *testing.T) {
	s := seedSpec()
	s.Macvlan.IPPools = &v2beta1.PoolNames{IPv4: []string{"a", "b"}, IPv6: []string{"c"}}
	s.ChainCNIJSONData = []string{`{"type":"tuning","z":1,"a":{"y":2,"b":3}}`}
	smc := newSMC("net", s)
	first, err := Render(smc)
	if err != nil {
		t.Fatalf("Render: %v", err)
	}
	for range 50 {
		// A round trip through JSON is what the cache hands the reconciler.
		raw, err := json.Marshal(smc)
		if err != nil {
			t.Fatal(err)
		}
		var again v2beta1.SpiderMultusConfig
		if err := json.Unmarshal(raw, &again); err != nil {
			t.Fatal(err)
		}
		got, err := Render(&again)
		if err != nil {
			t.Fatalf("Render: %v", err)
		}
		if diff := cmp.Diff(first, got); diff != "" {
			t.Fatalf("second rendering differs (-first +again):\n%s", diff)
		}
	}
}

func TestRenderRefusesInvalidSpec(t *testing.T) {
	s := seedSpec()
	s.Macvlan.VlanID = ptr.To[int32](4095)
	_, err := Render(newSMC("net", s))
	if err == nil || !strings.Contains(err.Error(), "spec.macvlan.vlanID: Invalid value: 4095") {
		t.Fatalf("Render: %v; want the vlanID refusal", err)
	}
}
