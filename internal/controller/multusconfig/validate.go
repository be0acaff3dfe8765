package multusconfig

import (
	"fmt"
	"strconv"
	"strings"

	"k8s.io/apimachinery/pkg/util/validation/field"
	"k8s.io/utils/ptr"

	"github.com/ipkeeper/ipkeeper/api/v2beta1"
)

const (
	maxVLAN   = 4094
	maxBond   = 6
	maxIfName = 15 // IFNAMSIZ less the terminating NUL
)

// knownTypes are the cniType values Render supports.
var knownTypes = []v2beta1.CNIType{
	v2beta1.CNITypeMacvlan, v2beta1.CNITypeIPvlan, v2beta1.CNITypeSRIOV, v2beta1.CNITypeOVS,
	v2beta1.CNITypeIBSRIOV, v2beta1.CNITypeIPoIB, v2beta1.CNITypeCustom,
}

// Validate returns every problem of smc's spec; Render refuses the same
// specs. Each error names the field, the value refused and what is accepted.
// It repeats what the CRD schema enforces so that a spec stored without it
// (an older CRD, a disabled webhook) still gets a readable refusal.
func Validate(smc *v2beta1.SpiderMultusConfig) field.ErrorList {
	spec, p := &smc.Spec, field.NewPath("spec")
	errs := validateBlocks(spec, p)
	switch t := cniType(spec); t {
	case v2beta1.CNITypeMacvlan:
		errs = append(errs, validateNIC(spec.Macvlan, p.Child("macvlan"))...)
	case v2beta1.CNITypeIPvlan:
		errs = append(errs, validateNIC(spec.IPvlan, p.Child("ipvlan"))...)
	case v2beta1.CNITypeSRIOV:
		errs = append(errs, validateSRIOV(spec.SRIOV, p.Child("sriov"))...)
	case v2beta1.CNITypeOVS:
		errs = append(errs, validateOVS(spec.OVS, p.Child("ovs"))...)
	case v2beta1.CNITypeCustom:
		errs = append(errs, validateCustom(spec.CustomCNI, p.Child("customCNI"))...)
	case v2beta1.CNITypeIBSRIOV, v2beta1.CNITypeIPoIB:
	default:
		errs = append(errs, field.NotSupported(p.Child("cniType"), t, knownTypes))
	}
	errs = append(errs, validateCoordinator(spec.Coordinator, p.Child("coordinator"))...)
	return append(errs, validateChain(spec.ChainCNIJSONData, p.Child("chainCNIJsonData"))...)
}

// validateBlocks refuses a per-type block that does not belong to cniType:
// it would be silently ignored, and the user most likely meant the other type.
func validateBlocks(spec *v2beta1.SpiderMultusConfigSpec, p *field.Path) field.ErrorList {
	blocks := []struct {
		name string
		set  bool
		want v2beta1.CNIType
	}{
		{"macvlan", spec.Macvlan != nil, v2beta1.CNITypeMacvlan},
		{"ipvlan", spec.IPvlan != nil, v2beta1.CNITypeIPvlan},
		{"sriov", spec.SRIOV != nil, v2beta1.CNITypeSRIOV},
		{"ovs", spec.OVS != nil, v2beta1.CNITypeOVS},
		{"customCNI", spec.CustomCNI != nil, v2beta1.CNITypeCustom},
	}
	var errs field.ErrorList
	t := cniType(spec)
	for _, b := range blocks {
		if b.set && b.want != t {
			path := p.Child(b.name)
			errs = append(errs, field.Forbidden(path, fmt.Sprintf(
				"only allowed when cniType is %q, and cniType is %q: remove %s or set cniType: %s",
				b.want, t, path, b.want)))
		}
	}
	return errs
}

// validateNIC checks a macvlan or ipvlan block.
func validateNIC(c *v2beta1.MasterNICConfig, p *field.Path) field.ErrorList {
	if c == nil || len(c.Master) == 0 {
		return field.ErrorList{field.Required(p.Child("master"),
			"the node interface the network sits on, e.g. master: [ens192]")}
	}
	var errs field.ErrorList
	for i, m := range c.Master {
		errs = append(errs, validateIfName(m, p.Child("master").Index(i))...)
	}
	if len(c.Master) > 1 && c.Bond == nil {
		errs = append(errs, field.Invalid(p.Child("master"), c.Master,
			"more than one master needs "+p.Child("bond").String()+" (the bond over them); or list a single master"))
	}
	if c.Bond != nil {
		errs = append(errs, validateBond(c.Bond, p.Child("bond"))...)
	}
	errs = append(errs, validateVLAN(c.VlanID, p.Child("vlanID"))...)
	if len(errs) == 0 {
		errs = append(errs, validateVLANIfName(c, p.Child("vlanID"))...)
	}
	errs = append(errs, validateMTU(c.MTU, p.Child("mtu"))...)
	return append(errs, validatePools(c.IPPools, p.Child("ippools"))...)
}

func validateBond(b *v2beta1.BondConfig, p *field.Path) field.ErrorList {
	errs := validateIfName(b.Name, p.Child("name"))
	if b.Mode < 0 || b.Mode > maxBond {
		errs = append(errs, field.Invalid(p.Child("mode"), b.Mode,
			fmt.Sprintf("must be a bonding mode from 0 to %d", maxBond)))
	}
	return errs
}

// validateVLANIfName refuses a master whose VLAN interface name would be too
// long for the kernel; the master itself is already known to be valid.
func validateVLANIfName(c *v2beta1.MasterNICConfig, p *field.Path) field.ErrorList {
	v := ptr.Deref(c.VlanID, 0)
	if name := masterName(c); v > 0 && len(name) > maxIfName {
		return field.ErrorList{field.Invalid(p, v, fmt.Sprintf(
			"the VLAN interface %q would be longer than %d bytes, the kernel's limit for interface names; use a shorter master or bond name",
			name, maxIfName))}
	}
	return nil
}

func validateSRIOV(s *v2beta1.SRIOVConfig, p *field.Path) field.ErrorList {
	if s == nil || s.ResourceName == "" {
		return field.ErrorList{field.Required(p.Child("resourceName"),
			"the device plugin resource of the virtual functions, e.g. resourceName: intel.com/sriov_netdevice")}
	}
	errs := validateVLAN(s.VlanID, p.Child("vlanID"))
	errs = append(errs, validateMTU(s.MTU, p.Child("mtu"))...)
	return append(errs, validatePools(s.IPPools, p.Child("ippools"))...)
}

func validateOVS(o *v2beta1.OVSConfig, p *field.Path) field.ErrorList {
	if o == nil || o.Bridge == "" {
		return field.ErrorList{field.Required(p.Child("bridge"), "the Open vSwitch bridge, e.g. bridge: br1")}
	}
	errs := validateVLAN(o.VLAN, p.Child("vlan"))
	return append(errs, validatePools(o.IPPools, p.Child("ippools"))...)
}

func validateCustom(text *string, p *field.Path) field.ErrorList {
	const want = `want a CNI plugin configuration (an object with "type") or configuration list (an object with "plugins")`
	if text == nil {
		return field.ErrorList{field.Required(p, "required when cniType is custom: "+want)}
	}
	if _, err := parseCustom(*text); err != nil {
		return field.ErrorList{field.Invalid(p, *text, err.Error()+"; "+want)}
	}
	return nil
}

func validateChain(entries []string, p *field.Path) field.ErrorList {
	var errs field.ErrorList
	for i, e := range entries {
		if _, err := parsePlugin(e); err != nil {
			errs = append(errs, field.Invalid(p.Index(i), e,
				err.Error()+`; want one plugin configuration, a JSON object with "type"`))
		}
	}
	return errs
}

func validateVLAN(v *int32, p *field.Path) field.ErrorList {
	if v != nil && (*v < 0 || *v > maxVLAN) {
		return field.ErrorList{field.Invalid(p, *v, fmt.Sprintf("must be from 0 (no VLAN) to %d", maxVLAN))}
	}
	return nil
}

func validateMTU(v *int32, p *field.Path) field.ErrorList {
	if v != nil && *v < 0 {
		return field.ErrorList{field.Invalid(p, *v, "must be 0 (keep the master's) or a positive MTU, e.g. 1500")}
	}
	return nil
}

func validatePools(pools *v2beta1.PoolNames, p *field.Path) field.ErrorList {
	if pools == nil {
		return nil
	}
	var errs field.ErrorList
	for i, n := range pools.IPv4 {
		errs = append(errs, validatePoolName(n, p.Child("ipv4").Index(i))...)
	}
	for i, n := range pools.IPv6 {
		errs = append(errs, validatePoolName(n, p.Child("ipv6").Index(i))...)
	}
	return errs
}

func validatePoolName(name string, p *field.Path) field.ErrorList {
	if strings.TrimSpace(name) == "" {
		return field.ErrorList{field.Invalid(p, name, "must name a SpiderIPPool, e.g. default-v4-ippool")}
	}
	return nil
}

// validateIfName applies the kernel's rules for interface names.
func validateIfName(name string, p *field.Path) field.ErrorList {
	var problem string
	switch {
	case name == "":
		problem = "must not be empty"
	case len(name) > maxIfName:
		problem = "must be at most " + strconv.Itoa(maxIfName) + " bytes"
	case name == "." || name == "..":
		problem = `must not be "." or ".."`
	case strings.ContainsAny(name, "/: \t\n\r"):
		problem = "must not contain '/', ':' or whitespace"
	default:
		return nil
	}
	return field.ErrorList{field.Invalid(p, name, "an interface name "+problem+", e.g. ens192")}
}
