package spiderpool

import (
	"fmt"
	"math"
	"strconv"
	"strings"
)

// AutoPoolInterface is what one pod interface asks for: the SpiderSubnet to carve
// each family's pool from, "" for a family it does not want.
type AutoPoolInterface struct {
	Name string // eth0, net1, …
	IPv4 string
	IPv6 string
}

// Subnet returns the SpiderSubnet named for family 4 or 6.
func (i AutoPoolInterface) Subnet(family int) string {
	if family == 6 {
		return i.IPv6
	}
	return i.IPv4
}

// PoolSize is spidernet.io/ippool-ip-number: a fixed number of addresses,
// or the workload's replicas plus N.
type PoolSize struct {
	N        uint64
	Relative bool
}

// DefaultPoolSize is the size of a pool whose workload names none: replicas + 1.
var DefaultPoolSize = PoolSize{N: 1, Relative: true}

// String returns the annotation form, "5" or "+3".
func (s PoolSize) String() string {
	if s.Relative {
		return "+" + strconv.FormatUint(s.N, 10)
	}
	return strconv.FormatUint(s.N, 10)
}

// For returns the number of addresses a pool needs for a workload with the
// given replicas; a negative replica count counts as none.
func (s PoolSize) For(replicas int64) uint64 {
	if !s.Relative {
		return s.N
	}
	r := uint64(max(replicas, 0))
	if r > math.MaxUint64-s.N {
		return math.MaxUint64
	}
	return r + s.N
}

// AutoPoolRequest is what a pod template's annotations ask of the controller.
type AutoPoolRequest struct {
	Interfaces []AutoPoolInterface
	Size       PoolSize
	// Reclaim deletes the pools with the workload; false keeps them for a
	// workload re-created with the same kind, namespace and name.
	Reclaim bool
}

// ParseAutoPoolRequest reads the auto-pool annotations of a pod template. It reports
// false when neither spidernet.io/subnets nor spidernet.io/subnet is
// set; the plural wins when both are, as on the agent's side.
func ParseAutoPoolRequest(ann map[string]string) (AutoPoolRequest, bool, error) {
	multi, hasMulti := ann[AnnoSubnets]
	single, hasSingle := ann[AnnoSubnet]
	if !hasMulti && !hasSingle {
		return AutoPoolRequest{}, false, nil
	}
	var (
		ifs []AutoPoolInterface
		err error
	)
	if hasMulti {
		ifs, err = parseSubnets(multi)
		err = withValue(err, multi)
	} else {
		ifs, err = parseSubnet(single)
		err = withValue(err, single)
	}
	if err != nil {
		return AutoPoolRequest{}, true, err
	}
	size, err := ParsePoolSize(ann[AnnoPoolIPNumber])
	if err != nil {
		return AutoPoolRequest{}, true, err
	}
	reclaim, err := parseReclaim(ann[AnnoPoolReclaim])
	if err != nil {
		return AutoPoolRequest{}, true, err
	}
	return AutoPoolRequest{Interfaces: ifs, Size: size, Reclaim: reclaim}, true, nil
}

// subnetEntry is one element of the subnet(s) annotations. Unknown keys are
// ignored, as upstream manifests may carry keys ipkeeper does not use.
type subnetEntry struct {
	Interface string   `json:"interface"`
	IPv4      []string `json:"ipv4"`
	IPv6      []string `json:"ipv6"`
}

func parseSubnet(value string) ([]AutoPoolInterface, error) {
	var e subnetEntry
	if err := decodeJSON(value, &e); err != nil {
		return nil, &AnnotationError{Key: AnnoSubnet,
			Reason: fmt.Sprintf(`not valid JSON (%v); want {"interface":"eth0","ipv4":["subnet-v4"],"ipv6":["subnet-v6"]}`, err)}
	}
	if e.Interface == "" {
		e.Interface = "eth0"
	}
	i, reason := e.toInterface()
	if reason != "" {
		return nil, &AnnotationError{Key: AnnoSubnet, Reason: reason}
	}
	return []AutoPoolInterface{i}, nil
}

func parseSubnets(value string) ([]AutoPoolInterface, error) {
	var es []subnetEntry
	if err := decodeJSON(value, &es); err != nil {
		return nil, &AnnotationError{Key: AnnoSubnets,
			Reason: fmt.Sprintf(`not valid JSON (%v); want [{"interface":"eth0","ipv4":["subnet-v4"]},{"interface":"net1","ipv4":["subnet-b"]}]`, err)}
	}
	if len(es) == 0 {
		return nil, &AnnotationError{Key: AnnoSubnets, Reason: "is an empty list"}
	}
	named := 0
	for _, e := range es {
		if e.Interface != "" {
			named++
		}
	}
	if named != 0 && named != len(es) {
		return nil, &AnnotationError{Key: AnnoSubnets,
			Reason: fmt.Sprintf("interface is set on %d of %d entries; set it on all entries or on none", named, len(es))}
	}
	out := make([]AutoPoolInterface, 0, len(es))
	seen := map[string]bool{}
	for n, e := range es {
		if named == 0 {
			e.Interface = PositionalInterface(n)
		}
		if seen[e.Interface] {
			return nil, &AnnotationError{Key: AnnoSubnets, Reason: fmt.Sprintf("interface %q appears twice", e.Interface)}
		}
		seen[e.Interface] = true
		i, reason := e.toInterface()
		if reason != "" {
			return nil, &AnnotationError{Key: AnnoSubnets, Reason: fmt.Sprintf("entry %d: %s", n, reason)}
		}
		out = append(out, i)
	}
	return out, nil
}

// toInterface checks one entry; it returns why it is unusable, or "".
func (e subnetEntry) toInterface() (AutoPoolInterface, string) {
	i := AutoPoolInterface{Name: e.Interface}
	for _, f := range []struct {
		key   string
		names []string
		dst   *string
	}{{"ipv4", e.IPv4, &i.IPv4}, {"ipv6", e.IPv6, &i.IPv6}} {
		switch {
		case len(f.names) > 1:
			return i, fmt.Sprintf("%q names %d SpiderSubnets; an automatic pool is carved from exactly one", f.key, len(f.names))
		case len(f.names) == 1 && strings.TrimSpace(f.names[0]) == "":
			return i, fmt.Sprintf("%q names an empty SpiderSubnet", f.key)
		case len(f.names) == 1:
			*f.dst = strings.TrimSpace(f.names[0])
		}
	}
	if i.IPv4 == "" && i.IPv6 == "" {
		return i, `names no SpiderSubnet; want at least one of "ipv4" or "ipv6"`
	}
	return i, ""
}

// ParsePoolSize parses spidernet.io/ippool-ip-number: "5" or "+3"; empty
// means DefaultPoolSize. A fixed size must be at least 1.
func ParsePoolSize(value string) (PoolSize, error) {
	v := strings.TrimSpace(value)
	if v == "" {
		return DefaultPoolSize, nil
	}
	digits, relative := strings.CutPrefix(v, "+")
	n, err := strconv.ParseUint(digits, 10, 32)
	if err != nil {
		return PoolSize{}, &AnnotationError{Key: AnnoPoolIPNumber,
			Reason: fmt.Sprintf(`%q is not a size; want a number of addresses such as "5", or "+3" for replicas + 3`, value)}
	}
	if !relative && n == 0 {
		return PoolSize{}, &AnnotationError{Key: AnnoPoolIPNumber,
			Reason: `"0" leaves the pool empty; want at least "1", or "+0" for exactly the replicas`}
	}
	return PoolSize{N: n, Relative: relative}, nil
}

// parseReclaim parses spidernet.io/ippool-reclaim; empty means true.
func parseReclaim(value string) (bool, error) {
	v := strings.TrimSpace(value)
	if v == "" {
		return true, nil
	}
	b, err := strconv.ParseBool(v)
	if err != nil {
		return false, &AnnotationError{Key: AnnoPoolReclaim, Reason: fmt.Sprintf(`%q is not a boolean; want "true" or "false"`, value)}
	}
	return b, nil
}

// Interface returns the request's entry for the pod interface ifName.
func (r AutoPoolRequest) Interface(ifName string) (AutoPoolInterface, bool) {
	for _, i := range r.Interfaces {
		if i.Name == ifName {
			return i, true
		}
	}
	return AutoPoolInterface{}, false
}

// AutoPoolAnnotationKey is the subnet annotation a pod template uses: the
// plural wins when both are set.
func AutoPoolAnnotationKey(ann map[string]string) string {
	if _, ok := ann[AnnoSubnets]; ok {
		return AnnoSubnets
	}
	return AnnoSubnet
}
