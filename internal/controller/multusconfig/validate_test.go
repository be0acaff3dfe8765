package multusconfig

import (
	"strings"
	"testing"

	"k8s.io/utils/ptr"

	"github.com/ipkeeper/ipkeeper/api/v2beta1"
)

func macvlan(edit func(c *v2beta1.MasterNICConfig)) v2beta1.SpiderMultusConfigSpec {
	c := &v2beta1.MasterNICConfig{Master: []string{"ens192"}}
	edit(c)
	return v2beta1.SpiderMultusConfigSpec{CNIType: v2beta1.CNITypeMacvlan, Macvlan: c}
}

func withCoordinator(c v2beta1.CoordinatorConfig) v2beta1.SpiderMultusConfigSpec {
	s := seedSpec()
	s.Coordinator = &c
	return s
}

func custom(text string) v2beta1.SpiderMultusConfigSpec {
	return v2beta1.SpiderMultusConfigSpec{CNIType: v2beta1.CNITypeCustom, CustomCNI: &text}
}

func withChain(entries ...string) v2beta1.SpiderMultusConfigSpec {
	s := seedSpec()
	s.ChainCNIJSONData = entries
	return s
}

// TestValidate checks each rule: an allowed spec has no errors; a refused one
// has exactly one, on the named field, whose message contains every string
// of contains (the bad value, quoted as the API server would, and a hint of
// what is accepted). Render must refuse exactly what Validate refuses.
func TestValidate(t *testing.T) {
	tests := []struct {
		name     string
		spec     v2beta1.SpiderMultusConfigSpec
		field    string // empty: allowed
		contains []string
	}{
		{name: "seed", spec: seedSpec()},
		{name: "coordinator podMACPrefix", spec: withCoordinator(v2beta1.CoordinatorConfig{PodMACPrefix: ptr.To("0a1b")}),
			field: "spec.coordinator.podMACPrefix", contains: []string{`"0a1b"`, "0a:1b"}},
		{name: "coordinator hijack CIDR", spec: withCoordinator(v2beta1.CoordinatorConfig{HijackCustomSubnet: []string{"10.0.0.0/33"}}),
			field: "spec.coordinator.hijackCustomSubnet[0]", contains: []string{`"10.0.0.0/33"`, "CIDR"}},
		{name: "coordinator overlay", spec: withCoordinator(v2beta1.CoordinatorConfig{Mode: ptr.To("overlay")}),
			field: "spec.coordinator.mode", contains: []string{`"overlay"`, "underlay"}},
		{name: "macvlan without block", spec: v2beta1.SpiderMultusConfigSpec{CNIType: v2beta1.CNITypeMacvlan},
			field: "spec.macvlan.master", contains: []string{"Required value", "master: [ens192]"}},
		{name: "macvlan with empty master", spec: macvlan(func(c *v2beta1.MasterNICConfig) { c.Master = nil }),
			field: "spec.macvlan.master", contains: []string{"Required value"}},
		{name: "ipvlan without master", spec: v2beta1.SpiderMultusConfigSpec{CNIType: v2beta1.CNITypeIPvlan, IPvlan: &v2beta1.MasterNICConfig{}},
			field: "spec.ipvlan.master", contains: []string{"Required value"}},
		{name: "master with slash", spec: macvlan(func(c *v2beta1.MasterNICConfig) { c.Master = []string{"eth0/1"} }),
			field: "spec.macvlan.master[0]", contains: []string{`"eth0/1"`, "e.g. ens192"}},
		{name: "master too long", spec: macvlan(func(c *v2beta1.MasterNICConfig) { c.Master = []string{"averyveryverylong0"} }),
			field: "spec.macvlan.master[0]", contains: []string{`"averyveryverylong0"`, "at most 15 bytes"}},
		{name: "two masters without bond", spec: macvlan(func(c *v2beta1.MasterNICConfig) { c.Master = []string{"ens192", "ens224"} }),
			field: "spec.macvlan.master", contains: []string{`["ens192","ens224"]`, "spec.macvlan.bond"}},
		{name: "two masters with bond", spec: macvlan(func(c *v2beta1.MasterNICConfig) {
			c.Master, c.Bond = []string{"ens192", "ens224"}, &v2beta1.BondConfig{Name: "bond0", Mode: 1}
		})},
		{name: "bond without name", spec: macvlan(func(c *v2beta1.MasterNICConfig) { c.Bond = &v2beta1.BondConfig{} }),
			field: "spec.macvlan.bond.name", contains: []string{`""`, "must not be empty"}},
		{name: "bond mode 7", spec: macvlan(func(c *v2beta1.MasterNICConfig) { c.Bond = &v2beta1.BondConfig{Name: "bond0", Mode: 7} }),
			field: "spec.macvlan.bond.mode", contains: []string{"Invalid value: 7", "0 to 6"}},
		{name: "vlanID 0", spec: macvlan(func(c *v2beta1.MasterNICConfig) { c.VlanID = ptr.To[int32](0) })},
		{name: "vlanID 4094", spec: macvlan(func(c *v2beta1.MasterNICConfig) { c.VlanID = ptr.To[int32](4094) })},
		{name: "vlanID 4095", spec: macvlan(func(c *v2beta1.MasterNICConfig) { c.VlanID = ptr.To[int32](4095) }),
			field: "spec.macvlan.vlanID", contains: []string{"Invalid value: 4095", "from 0 (no VLAN) to 4094"}},
		{name: "vlanID -1", spec: macvlan(func(c *v2beta1.MasterNICConfig) { c.VlanID = ptr.To[int32](-1) }),
			field: "spec.macvlan.vlanID", contains: []string{"Invalid value: -1"}},
		{name: "VLAN interface name too long", spec: macvlan(func(c *v2beta1.MasterNICConfig) {
			c.Master, c.VlanID = []string{"enp175s0f0np01"}, ptr.To[int32](100)
		}), field: "spec.macvlan.vlanID", contains: []string{"Invalid value: 100", `"enp175s0f0np01.100"`, "15 bytes"}},
		{name: "mtu -1", spec: v2beta1.SpiderMultusConfigSpec{CNIType: v2beta1.CNITypeIPvlan,
			IPvlan: &v2beta1.MasterNICConfig{Master: []string{"ens192"}, MTU: ptr.To[int32](-1)}},
			field: "spec.ipvlan.mtu", contains: []string{"Invalid value: -1", "e.g. 1500"}},
		{name: "empty ipv4 pool name", spec: macvlan(func(c *v2beta1.MasterNICConfig) { c.IPPools = &v2beta1.PoolNames{IPv4: []string{"p1", ""}} }),
			field: "spec.macvlan.ippools.ipv4[1]", contains: []string{`Invalid value: ""`, "SpiderIPPool"}},
		{name: "blank ipv6 pool name", spec: macvlan(func(c *v2beta1.MasterNICConfig) { c.IPPools = &v2beta1.PoolNames{IPv6: []string{" "}} }),
			field: "spec.macvlan.ippools.ipv6[0]", contains: []string{`Invalid value: " "`}},
		{name: "sriov without resourceName", spec: v2beta1.SpiderMultusConfigSpec{CNIType: v2beta1.CNITypeSRIOV},
			field: "spec.sriov.resourceName", contains: []string{"Required value", "e.g. resourceName:"}},
		{name: "sriov vlanID 5000", spec: v2beta1.SpiderMultusConfigSpec{CNIType: v2beta1.CNITypeSRIOV,
			SRIOV: &v2beta1.SRIOVConfig{ResourceName: "r", VlanID: ptr.To[int32](5000)}},
			field: "spec.sriov.vlanID", contains: []string{"Invalid value: 5000"}},
		{name: "ovs without bridge", spec: v2beta1.SpiderMultusConfigSpec{CNIType: v2beta1.CNITypeOVS, OVS: &v2beta1.OVSConfig{}},
			field: "spec.ovs.bridge", contains: []string{"Required value", "bridge: br1"}},
		{name: "ovs vlan 4095", spec: v2beta1.SpiderMultusConfigSpec{CNIType: v2beta1.CNITypeOVS,
			OVS: &v2beta1.OVSConfig{Bridge: "br1", VLAN: ptr.To[int32](4095)}},
			field: "spec.ovs.vlan", contains: []string{"Invalid value: 4095"}},
		{name: "ib-sriov", spec: v2beta1.SpiderMultusConfigSpec{CNIType: v2beta1.CNITypeIBSRIOV}},
		{name: "ipoib", spec: v2beta1.SpiderMultusConfigSpec{CNIType: v2beta1.CNITypeIPoIB}},
		{name: "custom plugin", spec: custom(`{"type":"bridge"}`)},
		{name: "custom list", spec: custom(`{"name":"x","plugins":[{"type":"bridge"}]}`)},
		{name: "custom without customCNI", spec: v2beta1.SpiderMultusConfigSpec{CNIType: v2beta1.CNITypeCustom},
			field: "spec.customCNI", contains: []string{"Required value", "required when cniType is custom"}},
		{name: "cniType defaults to custom", spec: v2beta1.SpiderMultusConfigSpec{},
			field: "spec.customCNI", contains: []string{"Required value"}},
		{name: "custom invalid JSON", spec: custom(`{"type":`),
			field: "spec.customCNI", contains: []string{`Invalid value: "{\"type\":"`, "not valid JSON: unexpected end of JSON input", `(an object with "plugins")`}},
		{name: "custom array", spec: custom(`[1]`),
			field: "spec.customCNI", contains: []string{`"[1]"`, "is a JSON array, not an object"}},
		{name: "custom null", spec: custom(`null`),
			field: "spec.customCNI", contains: []string{`"null"`, "is null"}},
		{name: "custom object without type", spec: custom(`{"name":"x"}`),
			field: "spec.customCNI", contains: []string{`has no "type"`}},
		{name: "custom list with empty plugins", spec: custom(`{"plugins":[]}`),
			field: "spec.customCNI", contains: []string{`"plugins" is not a non-empty array`}},
		{name: "custom list with a plugin without type", spec: custom(`{"plugins":[{"type":"bridge"},{}]}`),
			field: "spec.customCNI", contains: []string{`plugins[1] has no "type"`}},
		{name: "unknown cniType", spec: v2beta1.SpiderMultusConfigSpec{CNIType: "bridge"},
			field: "spec.cniType", contains: []string{`Unsupported value: "bridge"`, `"macvlan"`, `"custom"`}},
		{name: "chain entries", spec: withChain(`{"type":"tuning"}`, `{"type":"bandwidth"}`)},
		{name: "chain invalid JSON", spec: withChain(`{"type":"tuning"`),
			field: "spec.chainCNIJsonData[0]", contains: []string{`"{\"type\":\"tuning\""`, "not valid JSON", `a JSON object with "type"`}},
		{name: "chain string", spec: withChain(`{"type":"tuning"}`, `"tuning"`),
			field: "spec.chainCNIJsonData[1]", contains: []string{`"\"tuning\""`, "is a JSON string, not an object"}},
		{name: "chain object without type", spec: withChain(`{"type":""}`),
			field: "spec.chainCNIJsonData[0]", contains: []string{`has no "type"`}},
		{name: "ipvlan block while macvlan", spec: func() v2beta1.SpiderMultusConfigSpec {
			s := seedSpec()
			s.IPvlan = &v2beta1.MasterNICConfig{Master: []string{"ens192"}}
			return s
		}(), field: "spec.ipvlan", contains: []string{"Forbidden", `cniType is "ipvlan"`, `cniType is "macvlan"`}},
		{name: "customCNI while macvlan", spec: func() v2beta1.SpiderMultusConfigSpec {
			s := seedSpec()
			s.CustomCNI = ptr.To(`{"type":"bridge"}`)
			return s
		}(), field: "spec.customCNI", contains: []string{"Forbidden", `cniType is "macvlan"`}},
		{name: "sriov block while custom", spec: func() v2beta1.SpiderMultusConfigSpec {
			s := custom(`{"type":"bridge"}`)
			s.SRIOV = &v2beta1.SRIOVConfig{ResourceName: "r"}
			return s
		}(), field: "spec.sriov", contains: []string{"Forbidden", `cniType is "custom"`}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			smc := newSMC("net", tc.spec)
			errs := Validate(smc)
			_, renderErr := Render(smc)
			if tc.field == "" {
				if len(errs) != 0 || renderErr != nil {
					t.Fatalf("Validate: %v; Render: %v; want both to accept", errs, renderErr)
				}
				return
			}
			if len(errs) != 1 {
				t.Fatalf("Validate: %v; want one error on %s", errs, tc.field)
			}
			if errs[0].Field != tc.field {
				t.Errorf("error on %q, want %q", errs[0].Field, tc.field)
			}
			msg := errs[0].Error()
			for _, c := range tc.contains {
				if !strings.Contains(msg, c) {
					t.Errorf("message %q does not contain %q", msg, c)
				}
			}
			if renderErr == nil || !strings.Contains(renderErr.Error(), msg) {
				t.Errorf("Render: %v; want it to refuse with %q", renderErr, msg)
			}
		})
	}
}

func TestValidateReportsEveryProblem(t *testing.T) {
	s := macvlan(func(c *v2beta1.MasterNICConfig) {
		c.Master, c.VlanID, c.MTU = []string{"a", "b"}, ptr.To[int32](9999), ptr.To[int32](-5)
	})
	s.ChainCNIJSONData = []string{"x"}
	var got []string
	for _, e := range Validate(newSMC("net", s)) {
		got = append(got, e.Field)
	}
	want := []string{"spec.macvlan.master", "spec.macvlan.vlanID", "spec.macvlan.mtu", "spec.chainCNIJsonData[0]"}
	if strings.Join(got, " ") != strings.Join(want, " ") {
		t.Fatalf("fields %v, want %v", got, want)
	}
}
