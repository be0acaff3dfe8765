package spiderpool

import (
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/netip"
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
	// AnnoDefaultRouteNIC names the pod interface that keeps the default
	// route (the coordinator plugin reads it).
	AnnoDefaultRouteNIC = "ipam.spidernet.io/default-route-nic"

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
	// Value is the annotation's value as written, when the reason does not
	// quote the part at fault.
	Value string
}

// maxQuoted bounds how much of a value an error repeats.
const maxQuoted = 256

func (e *AnnotationError) Error() string {
	if e.Value == "" {
		return fmt.Sprintf("annotation %s: %s", e.Key, e.Reason)
	}
	v := e.Value
	if len(v) > maxQuoted {
		v = v[:maxQuoted] + "…"
	}
	return fmt.Sprintf("annotation %s='%s': %s", e.Key, v, e.Reason)
}

// withValue records value on an AnnotationError, so that the pod's event
// shows what was written next to why it is refused.
func withValue(err error, value string) error {
	var ae *AnnotationError
	if errors.As(err, &ae) && ae.Value == "" {
		ae.Value = value
	}
	return err
}

// ParsePoolAnnotation parses ipam.spidernet.io/ippool.
func ParsePoolAnnotation(key, value string) (PoolChoice, error) {
	c, err := parsePoolAnnotation(key, value)
	return c, withValue(err, value)
}

func parsePoolAnnotation(key, value string) (PoolChoice, error) {
	var c PoolChoice
	if err := decodeJSON(value, &c); err != nil {
		return c, &AnnotationError{Key: key, Reason: fmt.Sprintf("not valid JSON (%v); want {\"ipv4\":[\"pool\"],\"ipv6\":[\"pool\"]}", err)}
	}
	if c.empty() {
		return c, &AnnotationError{Key: key, Reason: "names no pool; want at least one of \"ipv4\" or \"ipv6\""}
	}
	return c, nil
}

// ParsePoolsAnnotation parses ipam.spidernet.io/ippools:
// interface set on every entry or on none (then entries follow eth0, net1, …).
func ParsePoolsAnnotation(key, value string) ([]PoolChoice, error) {
	cs, err := parsePoolsAnnotation(key, value)
	return cs, withValue(err, value)
}

func parsePoolsAnnotation(key, value string) ([]PoolChoice, error) {
	var cs []PoolChoice
	if err := decodeJSON(value, &cs); err != nil {
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
			cs[i].Interface = PositionalInterface(i)
		}
	}
	return cs, nil
}

// PositionalInterface is the Multus name of the i-th network of a pod: eth0
// for the first (the cluster default network), then net1, net2, ….
func PositionalInterface(i int) string {
	if i == 0 {
		return "eth0"
	}
	return "net" + strconv.Itoa(i)
}

// Route is one route given to a pod's interface, from its pool or the
// ipam.spidernet.io/routes annotation: a destination and a next hop.
type Route struct {
	Dst netip.Prefix
	GW  netip.Addr
}

// ParseRoutes parses ipam.spidernet.io/routes, a JSON list of
// {"dst":"10.0.0.0/16","gw":"10.6.0.1"}: every dst a CIDR other than a
// default route (the default route follows the pool's gateway), every gw an
// address. Which subnet a gw must be in is the allocation's to check.
func ParseRoutes(value string) ([]Route, error) {
	rs, err := parseRoutes(value)
	return rs, withValue(err, value)
}

func parseRoutes(value string) ([]Route, error) {
	var rs []struct {
		Dst string `json:"dst"`
		GW  string `json:"gw"`
	}
	if err := decodeJSON(value, &rs); err != nil {
		return nil, &AnnotationError{Key: AnnoRoutes, Reason: fmt.Sprintf("not valid JSON (%v); want [{\"dst\":\"10.0.0.0/16\",\"gw\":\"10.6.0.1\"}]", err)}
	}
	out := make([]Route, 0, len(rs))
	for i, r := range rs {
		dst, err := netip.ParsePrefix(r.Dst)
		if err != nil {
			return nil, &AnnotationError{Key: AnnoRoutes, Reason: fmt.Sprintf("entry %d: dst %q is not a CIDR; want one such as 10.0.0.0/16", i, r.Dst)}
		}
		if dst.Bits() == 0 {
			return nil, &AnnotationError{Key: AnnoRoutes, Reason: fmt.Sprintf("entry %d: dst %q is a default route; the default route follows the pool's gateway", i, r.Dst)}
		}
		gw, err := netip.ParseAddr(r.GW)
		if err != nil {
			return nil, &AnnotationError{Key: AnnoRoutes, Reason: fmt.Sprintf("entry %d: gw %q is not an IP address", i, r.GW)}
		}
		out = append(out, Route{Dst: dst.Masked(), GW: gw})
	}
	return out, nil
}

// ParseOrdinalIPs parses ipkeeper.io/ordinal-ips, a comma-separated list of
// addresses: ordinal i of the StatefulSet gets the i-th address of each
// family.
func ParseOrdinalIPs(value string) ([]netip.Addr, error) {
	var addrs []netip.Addr
	for _, s := range strings.Split(value, ",") {
		addr, err := netip.ParseAddr(strings.TrimSpace(s))
		if err != nil {
			return nil, &AnnotationError{Key: AnnoOrdinalIPs, Reason: fmt.Sprintf("%q is not an IP address; want a comma-separated list such as 10.6.168.101,10.6.168.102", s)}
		}
		addrs = append(addrs, addr)
	}
	return addrs, nil
}

// ParseNamespaceDefault parses a namespace's default-ipvX-ippool: a JSON list
// of pool names (a bare name is accepted too).
func ParseNamespaceDefault(key, value string) ([]string, error) {
	names, err := parseNamespaceDefault(key, value)
	return names, withValue(err, value)
}

func parseNamespaceDefault(key, value string) ([]string, error) {
	value = strings.TrimSpace(value)
	if value == "" {
		return nil, nil
	}
	if !strings.HasPrefix(value, "[") {
		return []string{value}, nil
	}
	var names []string
	if err := decodeJSON(value, &names); err != nil {
		return nil, &AnnotationError{Key: key, Reason: fmt.Sprintf("not valid JSON (%v); want [\"pool1\",\"pool2\"]", err)}
	}
	return names, nil
}

// decodeJSON parses one JSON value and refuses anything after it. Unknown
// keys are allowed: upstream manifests may carry keys ipkeeper does not use.
func decodeJSON(value string, out any) error {
	dec := json.NewDecoder(strings.NewReader(value))
	if err := dec.Decode(out); err != nil {
		return err
	}
	// More would miss a stray closing bracket: only the end may follow.
	if _, err := dec.Token(); !errors.Is(err, io.EOF) {
		return fmt.Errorf("trailing data after JSON value")
	}
	return nil
}
