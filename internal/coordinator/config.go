package coordinator

import (
	"encoding/json"
	"fmt"
	"net/netip"
	"regexp"
	"slices"

	"github.com/containernetworking/cni/pkg/types"

	"github.com/ipkeeper/ipkeeper/internal/agentapi"
)

// The modes of the plugin.
const (
	ModeAuto     = "auto"
	ModeUnderlay = "underlay"
	ModeOverlay  = "overlay"
	ModeDisabled = "disabled"
)

// Defaults of the settings a SpiderCoordinator leaves unset.
const (
	DefaultHostRuleTable = 500
	DefaultPodRPFilter   = 0
	defaultRouteNIC      = "eth0"
)

// NetConf is the plugin's netconf: the SpiderMultusConfig's coordinator
// block, rendered by the controller. Every setting is optional; a set one
// wins over the SpiderCoordinator's.
type NetConf struct {
	types.NetConf
	Mode               string   `json:"mode,omitempty"`
	HijackCIDR         []string `json:"hijackCIDR,omitempty"`
	PodMACPrefix       string   `json:"podMACPrefix,omitempty"`
	TunePodRoutes      *bool    `json:"tunePodRoutes,omitempty"`
	PodDefaultRouteNIC string   `json:"podDefaultRouteNIC,omitempty"`
	HostRuleTable      *int64   `json:"hostRuleTable,omitempty"`
	PodRPFilter        *int32   `json:"podRPFilter,omitempty"`
	VethLinkAddress    string   `json:"vethLinkAddress,omitempty"`
	// ServiceCIDR adds Service CIDRs to those the SpiderCoordinator's status
	// holds (useful without a controller, and in tests).
	ServiceCIDR []string `json:"serviceCIDR,omitempty"`
	// SocketPath is the agent's socket; agentapi.DefaultSocketPath when empty.
	SocketPath string `json:"unixSocketPath,omitempty"`
}

// ParseNetConf decodes the netconf and its previous result.
func ParseNetConf(data []byte) (*NetConf, error) {
	conf := &NetConf{}
	if err := json.Unmarshal(data, conf); err != nil {
		return nil, fmt.Errorf("decode network configuration: %w", err)
	}
	if conf.SocketPath == "" {
		conf.SocketPath = agentapi.DefaultSocketPath
	}
	return conf, nil
}

// Config is what one ADD or DEL works with: the netconf over the cluster's
// SpiderCoordinator over the defaults, validated.
type Config struct {
	Mode            string
	ServiceCIDR     []netip.Prefix
	HijackCIDR      []netip.Prefix
	PodMACPrefix    string
	TunePodRoutes   bool
	DefaultRouteNIC string
	HostRuleTable   int
	// PodRPFilter is -1 to leave the pod's setting alone.
	PodRPFilter     int
	VethLinkAddress netip.Addr
}

var macPrefix = regexp.MustCompile(`^[0-9a-fA-F]{2}:[0-9a-fA-F]{2}$`)

// Merge builds the Config of a netconf and the agent's answer (nil when the
// agent predates the coordinator endpoint). Every refusal names the setting,
// the bad value and what is accepted.
func Merge(conf *NetConf, scc *agentapi.CoordinatorResponse) (*Config, error) {
	if scc == nil {
		scc = &agentapi.CoordinatorResponse{}
	}
	c := &Config{
		Mode:            first(conf.Mode, scc.Mode, ModeAuto),
		PodMACPrefix:    first(conf.PodMACPrefix, scc.PodMACPrefix),
		DefaultRouteNIC: first(scc.DefaultRouteNIC, conf.PodDefaultRouteNIC, scc.PodDefaultRouteNIC, defaultRouteNIC),
		TunePodRoutes:   true,
		HostRuleTable:   DefaultHostRuleTable,
		PodRPFilter:     DefaultPodRPFilter,
	}
	switch c.Mode {
	case ModeAuto, ModeUnderlay, ModeDisabled:
	case ModeOverlay:
		return nil, fmt.Errorf("mode %q: not supported yet; want auto, underlay or disabled", c.Mode)
	default:
		return nil, fmt.Errorf("mode %q: want auto, underlay or disabled", c.Mode)
	}
	if c.PodMACPrefix != "" && !macPrefix.MatchString(c.PodMACPrefix) {
		return nil, fmt.Errorf("podMACPrefix %q: want two hex bytes, e.g. 0a:1b", c.PodMACPrefix)
	}
	if c.PodMACPrefix != "" && !unicastMAC(c.PodMACPrefix) {
		return nil, fmt.Errorf("podMACPrefix %q: the first byte must be unicast (its lowest bit clear), e.g. 0a:1b", c.PodMACPrefix)
	}
	if !validIfName(c.DefaultRouteNIC) {
		return nil, fmt.Errorf("podDefaultRouteNIC %q: want an interface name of 1 to 15 characters, e.g. net1", c.DefaultRouteNIC)
	}
	if v := firstPtr(conf.TunePodRoutes, scc.TunePodRoutes); v != nil {
		c.TunePodRoutes = *v
	}
	if v := firstPtr(conf.HostRuleTable, scc.HostRuleTable); v != nil {
		// 253 to 255 are the kernel's default, main and local tables.
		if *v < 1 || *v > 1<<31 || *v >= 253 && *v <= 255 {
			return nil, fmt.Errorf("hostRuleTable %d: want 1 to 2147483648 except 253, 254 and 255 (the kernel's own tables)", *v)
		}
		c.HostRuleTable = int(*v)
	}
	if v := firstPtr(conf.PodRPFilter, scc.PodRPFilter); v != nil {
		if *v < -1 || *v > 2 {
			return nil, fmt.Errorf("podRPFilter %d: want -1 (leave), 0 (off), 1 (strict) or 2 (loose)", *v)
		}
		c.PodRPFilter = int(*v)
	}
	if s := first(conf.VethLinkAddress, scc.VethLinkAddress); s != "" {
		a, err := netip.ParseAddr(s)
		if err != nil || !a.Is4() || !a.IsLinkLocalUnicast() {
			return nil, fmt.Errorf("vethLinkAddress %q: want an IPv4 link-local address, e.g. 169.254.100.1", s)
		}
		c.VethLinkAddress = a
	}
	var err error
	if c.ServiceCIDR, err = prefixes("serviceCIDR", append(slices.Clone(scc.ServiceCIDR), conf.ServiceCIDR...)); err != nil {
		return nil, err
	}
	hijack := conf.HijackCIDR
	if hijack == nil {
		hijack = scc.HijackCIDR
	}
	if c.HijackCIDR, err = prefixes("hijackCIDR", hijack); err != nil {
		return nil, err
	}
	return c, nil
}

func prefixes(field string, in []string) ([]netip.Prefix, error) {
	var out []netip.Prefix
	for _, s := range in {
		p, err := netip.ParsePrefix(s)
		if err != nil {
			return nil, fmt.Errorf("%s %q: want a CIDR, e.g. 10.96.0.0/12 or fd00:96::/108", field, s)
		}
		if p = p.Masked(); !slices.Contains(out, p) {
			out = append(out, p)
		}
	}
	return out, nil
}

func first(values ...string) string {
	for _, v := range values {
		if v != "" {
			return v
		}
	}
	return ""
}

func firstPtr[T any](values ...*T) *T {
	for _, v := range values {
		if v != nil {
			return v
		}
	}
	return nil
}

func validIfName(name string) bool {
	return name != "" && len(name) <= 15 && !slices.ContainsFunc([]byte(name), func(b byte) bool { return b == '/' || b <= ' ' })
}

func unicastMAC(prefix string) bool {
	var b byte
	_, err := fmt.Sscanf(prefix[:2], "%02x", &b)
	return err == nil && b&1 == 0
}
