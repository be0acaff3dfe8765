package multusconfig

import (
	"encoding/json"
	"fmt"
	"net/netip"
	"regexp"

	"k8s.io/apimachinery/pkg/util/validation/field"
	"k8s.io/utils/ptr"

	"github.com/ipkeeper/ipkeeper/api/v2beta1"
)

// coordinatorType is the plugin chained after the main one when
// enableCoordinator is true (the API's default).
const coordinatorType = "coordinator"

// coordinatorPlugin is the coordinator's netconf: the spec's coordinator
// block, each setting only when set, so that the cluster's SpiderCoordinator
// (which the plugin reads through its node's agent) decides the rest.
type coordinatorPlugin struct {
	Type               string   `json:"type"`
	Mode               string   `json:"mode,omitempty"`
	TunePodRoutes      *bool    `json:"tunePodRoutes,omitempty"`
	PodDefaultRouteNIC string   `json:"podDefaultRouteNIC,omitempty"`
	PodMACPrefix       string   `json:"podMACPrefix,omitempty"`
	HijackCIDR         []string `json:"hijackCIDR,omitempty"`
}

// coordinatorEnabled: custom networks are the user's whole chain, so they get
// no coordinator; every built-in type does unless enableCoordinator is false.
func coordinatorEnabled(spec *v2beta1.SpiderMultusConfigSpec) bool {
	return cniType(spec) != v2beta1.CNITypeCustom && ptr.Deref(spec.EnableCoordinator, true)
}

func renderCoordinator(spec *v2beta1.SpiderMultusConfigSpec) (json.RawMessage, error) {
	p := coordinatorPlugin{Type: coordinatorType}
	if c := spec.Coordinator; c != nil {
		p.Mode, p.TunePodRoutes = ptr.Deref(c.Mode, ""), c.TunePodRoutes
		p.PodDefaultRouteNIC, p.PodMACPrefix = ptr.Deref(c.PodDefaultRouteNIC, ""), ptr.Deref(c.PodMACPrefix, "")
		p.HijackCIDR = c.HijackCustomSubnet
	}
	data, err := json.Marshal(p)
	if err != nil {
		return nil, fmt.Errorf("encode coordinator plugin: %w", err)
	}
	return data, nil
}

var macPrefix = regexp.MustCompile(`^[0-9a-fA-F]{2}:[0-9a-fA-F]{2}$`)

// validateCoordinator checks the coordinator block the plugin would refuse.
func validateCoordinator(c *v2beta1.CoordinatorConfig, p *field.Path) field.ErrorList {
	if c == nil {
		return nil
	}
	var errs field.ErrorList
	if v := ptr.Deref(c.PodMACPrefix, ""); v != "" && !macPrefix.MatchString(v) {
		errs = append(errs, field.Invalid(p.Child("podMACPrefix"), v, "want two hex bytes, e.g. 0a:1b"))
	}
	if v := ptr.Deref(c.PodDefaultRouteNIC, ""); len(v) > maxIfName {
		errs = append(errs, field.Invalid(p.Child("podDefaultRouteNIC"), v, fmt.Sprintf("want an interface name of at most %d characters, e.g. net1", maxIfName)))
	}
	if ptr.Deref(c.Mode, "") == "overlay" {
		errs = append(errs, field.NotSupported(p.Child("mode"), "overlay", []string{"auto", "underlay", "disabled"}))
	}
	for i, s := range c.HijackCustomSubnet {
		if _, err := netip.ParsePrefix(s); err != nil {
			errs = append(errs, field.Invalid(p.Child("hijackCustomSubnet").Index(i), s, "want a CIDR, e.g. 169.254.25.10/32"))
		}
	}
	return errs
}
