package multusconfig

import (
	"encoding/json"
	"fmt"
	"strconv"

	"k8s.io/utils/ptr"

	"github.com/ipkeeper/ipkeeper/api/v2beta1"
)

const (
	// CNIVersion is the cniVersion of every rendered configuration list
	// (a wrapped custom plugin keeps its own when it names one).
	CNIVersion = "0.3.1"

	// ResourceNameAnnotation asks the device plugin machinery (Multus and the
	// SR-IOV device plugin) for a device of the named resource.
	ResourceNameAnnotation = "k8s.v1.cni.cncf.io/resourceName"

	// ipamType is the IPAM plugin every rendered main plugin uses.
	ipamType = "spiderpool"
)

// managedAnnotations are the NAD annotations Render may set; the reconciler
// removes those the current spec no longer asks for and leaves all others.
var managedAnnotations = []string{ResourceNameAnnotation}

// Network is what a SpiderMultusConfig renders to.
type Network struct {
	// Config is the NAD's spec.config: a CNI configuration list, JSON text.
	Config string
	// Annotations are the annotations the NAD needs; nil when none.
	Annotations map[string]string
}

// confList is a CNI configuration list. Plugins are kept as raw JSON so that
// user-supplied ones pass through without losing fields.
type confList struct {
	CNIVersion string            `json:"cniVersion"`
	Name       string            `json:"name"`
	Plugins    []json.RawMessage `json:"plugins"`
}

// plugin is the main plugin of every built-in cniType. The field order is the
// key order of the output, which keeps rendering byte-for-byte stable.
type plugin struct {
	Type     string `json:"type"`
	Master   string `json:"master,omitempty"`
	Mode     string `json:"mode,omitempty"`
	Bridge   string `json:"bridge,omitempty"`
	VLAN     int32  `json:"vlan,omitempty"`
	DeviceID string `json:"deviceID,omitempty"`
	MTU      int32  `json:"mtu,omitempty"`
	IPAM     *ipam  `json:"ipam,omitempty"`
}

type ipam struct {
	Type string   `json:"type"`
	IPv4 []string `json:"default_ipv4_ippool,omitempty"`
	IPv6 []string `json:"default_ipv6_ippool,omitempty"`
}

// Render returns the NetworkAttachmentDefinition content for smc. It refuses
// every spec Validate refuses. An unchanged spec always renders the same bytes.
func Render(smc *v2beta1.SpiderMultusConfig) (Network, error) {
	if errs := Validate(smc); len(errs) > 0 {
		return Network{}, fmt.Errorf("invalid spec: %w", errs.ToAggregate())
	}
	chain := make([]json.RawMessage, 0, len(smc.Spec.ChainCNIJSONData))
	for _, c := range smc.Spec.ChainCNIJSONData {
		chain = append(chain, json.RawMessage(c))
	}
	if cniType(&smc.Spec) == v2beta1.CNITypeCustom {
		config, err := renderCustom(smc.Name, *smc.Spec.CustomCNI, chain)
		return Network{Config: config}, err
	}
	first, err := json.Marshal(mainPlugin(&smc.Spec))
	if err != nil {
		return Network{}, fmt.Errorf("encode main plugin: %w", err)
	}
	plugins := []json.RawMessage{first}
	if coordinatorEnabled(&smc.Spec) {
		coord, err := renderCoordinator(&smc.Spec)
		if err != nil {
			return Network{}, err
		}
		plugins = append(plugins, coord)
	}
	list := confList{CNIVersion: CNIVersion, Name: smc.Name, Plugins: append(plugins, chain...)}
	config, err := json.Marshal(list)
	if err != nil {
		return Network{}, fmt.Errorf("encode configuration list: %w", err)
	}
	return Network{Config: string(config), Annotations: annotations(&smc.Spec)}, nil
}

// cniType is spec.cniType with the API default (custom) applied.
func cniType(spec *v2beta1.SpiderMultusConfigSpec) v2beta1.CNIType {
	if spec.CNIType == "" {
		return v2beta1.CNITypeCustom
	}
	return spec.CNIType
}

// mainPlugin renders a built-in cniType; spec must have passed Validate.
func mainPlugin(spec *v2beta1.SpiderMultusConfigSpec) plugin {
	var p plugin
	var pools *v2beta1.PoolNames
	switch t := cniType(spec); t {
	case v2beta1.CNITypeMacvlan:
		p, pools = nicPlugin(t, spec.Macvlan), spec.Macvlan.IPPools
		p.Mode = "bridge"
	case v2beta1.CNITypeIPvlan:
		// No mode: l2 is the ipvlan plugin's default.
		p, pools = nicPlugin(t, spec.IPvlan), spec.IPvlan.IPPools
	case v2beta1.CNITypeSRIOV:
		s := spec.SRIOV
		p, pools = plugin{Type: string(t), VLAN: ptr.Deref(s.VlanID, 0), MTU: ptr.Deref(s.MTU, 0)}, s.IPPools
	case v2beta1.CNITypeOVS:
		o := spec.OVS
		p = plugin{Type: string(t), Bridge: o.Bridge, VLAN: ptr.Deref(o.VLAN, 0), DeviceID: o.DeviceID}
		pools = o.IPPools
	default: // ib-sriov, ipoib: the API has no settings for them
		p = plugin{Type: string(t)}
	}
	if !ptr.Deref(spec.DisableIPAM, false) {
		p.IPAM = &ipam{Type: ipamType}
		if pools != nil {
			p.IPAM.IPv4, p.IPAM.IPv6 = pools.IPv4, pools.IPv6
		}
	}
	return p
}

// nicPlugin renders macvlan or ipvlan on the master interface.
func nicPlugin(t v2beta1.CNIType, c *v2beta1.MasterNICConfig) plugin {
	return plugin{Type: string(t), Master: masterName(c), MTU: ptr.Deref(c.MTU, 0)}
}

// masterName is the interface a macvlan or ipvlan network sits on: the bond
// if there is one, else the single master, as its VLAN interface when vlanID
// is set. Neither the bond nor the VLAN interface is created by us.
func masterName(c *v2beta1.MasterNICConfig) string {
	var name string
	switch {
	case c.Bond != nil:
		name = c.Bond.Name
	case len(c.Master) > 0:
		name = c.Master[0]
	}
	if v := ptr.Deref(c.VlanID, 0); v > 0 {
		name += "." + strconv.Itoa(int(v))
	}
	return name
}

// annotations are the NAD annotations the spec asks for.
func annotations(spec *v2beta1.SpiderMultusConfigSpec) map[string]string {
	if cniType(spec) == v2beta1.CNITypeSRIOV && spec.SRIOV.ResourceName != "" {
		return map[string]string{ResourceNameAnnotation: spec.SRIOV.ResourceName}
	}
	return nil
}
