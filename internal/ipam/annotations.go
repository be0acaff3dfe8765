package ipam

import (
	"encoding/json"
	"fmt"
	"strconv"
	"strings"
)

// Pod annotations of the Spiderpool API (API.md §2).
const (
	AnnoPool              = "ipam.spidernet.io/ippool"
	AnnoPools             = "ipam.spidernet.io/ippools"
	AnnoSubnet            = "ipam.spidernet.io/subnet"
	AnnoSubnets           = "ipam.spidernet.io/subnets"
	AnnoPoolIPNumber      = "ipam.spidernet.io/ippool-ip-number"
	AnnoPoolReclaim       = "ipam.spidernet.io/ippool-reclaim"
	AnnoRoutes            = "ipam.spidernet.io/routes"
	AnnoNSDefaultIPv4Pool = "ipam.spidernet.io/default-ipv4-ippool"
	AnnoNSDefaultIPv6Pool = "ipam.spidernet.io/default-ipv6-ippool"

	// AnnoOrdinalIPs and AnnoRetainOnScaleDown are ipkeeper extensions (API.md §6).
	AnnoOrdinalIPs        = "ipkeeper.io/ordinal-ips"
	AnnoRetainOnScaleDown = "ipkeeper.io/retain-on-scale-down"
)

// PoolChoice is one interface's pools by family, from an annotation.
type PoolChoice struct {
	Interface    string   `json:"interface,omitempty"`
	IPv4         []string `json:"ipv4,omitempty"`
	IPv6         []string `json:"ipv6,omitempty"`
	CleanGateway bool     `json:"cleangateway,omitempty"`
}

func (c PoolChoice) empty() bool { return len(c.IPv4) == 0 && len(c.IPv6) == 0 }

// AnnotationError says which annotation is malformed and how.
type AnnotationError struct {
	Key    string
	Reason string
}

func (e *AnnotationError) Error() string {
	return fmt.Sprintf("annotation %s: %s", e.Key, e.Reason)
}

// parseSingle parses ipam.spidernet.io/ippool or ipam.spidernet.io/subnet.
func parseSingle(key, value string) (PoolChoice, error) {
	var c PoolChoice
	if err := strictUnmarshal(value, &c); err != nil {
		return c, &AnnotationError{Key: key, Reason: fmt.Sprintf("not valid JSON (%v); want {\"ipv4\":[\"pool\"],\"ipv6\":[\"pool\"]}", err)}
	}
	if c.empty() {
		return c, &AnnotationError{Key: key, Reason: "names no pool; want at least one of \"ipv4\" or \"ipv6\""}
	}
	return c, nil
}

// parseMulti parses ipam.spidernet.io/ippools or ipam.spidernet.io/subnets:
// interface set on every entry or on none (then entries follow eth0, net1, …).
func parseMulti(key, value string) ([]PoolChoice, error) {
	var cs []PoolChoice
	if err := strictUnmarshal(value, &cs); err != nil {
		return nil, &AnnotationError{Key: key, Reason: fmt.Sprintf("not valid JSON (%v); want [{\"interface\":\"eth0\",\"ipv4\":[\"pool\"]}, …]", err)}
	}
	if len(cs) == 0 {
		return nil, &AnnotationError{Key: key, Reason: "is an empty list"}
	}
	named := 0
	seen := map[string]bool{}
	for i, c := range cs {
		if c.Interface != "" {
			named++
			if seen[c.Interface] {
				return nil, &AnnotationError{Key: key, Reason: fmt.Sprintf("interface %q appears twice", c.Interface)}
			}
			seen[c.Interface] = true
		}
		if c.empty() {
			return nil, &AnnotationError{Key: key, Reason: fmt.Sprintf("entry %d names no pool", i)}
		}
	}
	if named != 0 && named != len(cs) {
		return nil, &AnnotationError{Key: key, Reason: fmt.Sprintf("interface is set on %d of %d entries; set it on all entries or on none", named, len(cs))}
	}
	if named == 0 {
		for i := range cs {
			cs[i].Interface = positionalInterface(i)
		}
	}
	return cs, nil
}

// positionalInterface is the Multus interface name of the i-th network.
func positionalInterface(i int) string {
	if i == 0 {
		return "eth0"
	}
	return "net" + strconv.Itoa(i)
}

// RouteSpec is one route of the ipam.spidernet.io/routes annotation.
type RouteSpec struct {
	Dst string `json:"dst"`
	GW  string `json:"gw"`
}

func parseRoutes(value string) ([]RouteSpec, error) {
	var rs []RouteSpec
	if err := strictUnmarshal(value, &rs); err != nil {
		return nil, &AnnotationError{Key: AnnoRoutes, Reason: fmt.Sprintf("not valid JSON (%v); want [{\"dst\":\"10.0.0.0/16\",\"gw\":\"10.6.0.1\"}]", err)}
	}
	return rs, nil
}

// parseNamespaceDefault parses a namespace's default-ipvX-ippool: a JSON list
// of pool names (a bare name is accepted too).
func parseNamespaceDefault(key, value string) ([]string, error) {
	value = strings.TrimSpace(value)
	if value == "" {
		return nil, nil
	}
	if !strings.HasPrefix(value, "[") {
		return []string{value}, nil
	}
	var names []string
	if err := strictUnmarshal(value, &names); err != nil {
		return nil, &AnnotationError{Key: key, Reason: fmt.Sprintf("not valid JSON (%v); want [\"pool1\",\"pool2\"]", err)}
	}
	return names, nil
}

func strictUnmarshal(value string, out any) error {
	// Unknown keys are allowed: upstream manifests may carry keys we do not use.
	dec := json.NewDecoder(strings.NewReader(value))
	if err := dec.Decode(out); err != nil {
		return err
	}
	if dec.More() {
		return fmt.Errorf("trailing data after JSON value")
	}
	return nil
}
