package autopool

import (
	"encoding/json"
	"fmt"
	"math"
	"strconv"
	"strings"

	"github.com/ipkeeper/ipkeeper/internal/ipam"
)

// Interface is what one pod interface asks for: the SpiderSubnet to carve
// each family's pool from, "" for a family it does not want.
type Interface struct {
	Name string // eth0, net1, …
	IPv4 string
	IPv6 string
}

// Subnet returns the SpiderSubnet named for family 4 or 6.
func (i Interface) Subnet(family int) string {
	if family == 6 {
		return i.IPv6
	}
	return i.IPv4
}

// Size is ipam.spidernet.io/ippool-ip-number: a fixed number of addresses,
// or the workload's replicas plus N.
type Size struct {
	N        uint64
	Relative bool
}

// DefaultSize is the size of a pool whose workload names none: replicas + 1.
var DefaultSize = Size{N: 1, Relative: true}

// String returns the annotation form, "5" or "+3".
func (s Size) String() string {
	if s.Relative {
		return "+" + strconv.FormatUint(s.N, 10)
	}
	return strconv.FormatUint(s.N, 10)
}

// For returns the number of addresses a pool needs for a workload with the
// given replicas; a negative replica count counts as none.
func (s Size) For(replicas int64) uint64 {
	if !s.Relative {
		return s.N
	}
	r := uint64(max(replicas, 0))
	if r > math.MaxUint64-s.N {
		return math.MaxUint64
	}
	return r + s.N
}

// Request is what a pod template's annotations ask of the controller.
type Request struct {
	Interfaces []Interface
	Size       Size
	// Reclaim deletes the pools with the workload; false keeps them for a
	// workload re-created with the same kind, namespace and name.
	Reclaim bool
}

// AnnotationError says which annotation is malformed and how.
type AnnotationError struct {
	Key    string
	Reason string
}

func (e *AnnotationError) Error() string {
	return fmt.Sprintf("annotation %s: %s", e.Key, e.Reason)
}

// ParseRequest reads the auto-pool annotations of a pod template. It reports
// false when neither ipam.spidernet.io/subnets nor ipam.spidernet.io/subnet is
// set; the plural wins when both are, as on the agent's side.
func ParseRequest(ann map[string]string) (Request, bool, error) {
	multi, hasMulti := ann[ipam.AnnoSubnets]
	single, hasSingle := ann[ipam.AnnoSubnet]
	if !hasMulti && !hasSingle {
		return Request{}, false, nil
	}
	var (
		ifs []Interface
		err error
	)
	if hasMulti {
		ifs, err = parseSubnets(multi)
	} else {
		ifs, err = parseSubnet(single)
	}
	if err != nil {
		return Request{}, true, err
	}
	size, err := ParseSize(ann[ipam.AnnoPoolIPNumber])
	if err != nil {
		return Request{}, true, err
	}
	reclaim, err := parseReclaim(ann[ipam.AnnoPoolReclaim])
	if err != nil {
		return Request{}, true, err
	}
	return Request{Interfaces: ifs, Size: size, Reclaim: reclaim}, true, nil
}

// subnetEntry is one element of the subnet(s) annotations. Unknown keys are
// ignored, as upstream manifests may carry keys ipkeeper does not use.
type subnetEntry struct {
	Interface string   `json:"interface"`
	IPv4      []string `json:"ipv4"`
	IPv6      []string `json:"ipv6"`
}

func parseSubnet(value string) ([]Interface, error) {
	var e subnetEntry
	if err := decode(value, &e); err != nil {
		return nil, &AnnotationError{Key: ipam.AnnoSubnet,
			Reason: fmt.Sprintf(`not valid JSON (%v); want {"interface":"eth0","ipv4":["subnet-v4"],"ipv6":["subnet-v6"]}`, err)}
	}
	if e.Interface == "" {
		e.Interface = "eth0"
	}
	i, reason := e.toInterface()
	if reason != "" {
		return nil, &AnnotationError{Key: ipam.AnnoSubnet, Reason: reason}
	}
	return []Interface{i}, nil
}

func parseSubnets(value string) ([]Interface, error) {
	var es []subnetEntry
	if err := decode(value, &es); err != nil {
		return nil, &AnnotationError{Key: ipam.AnnoSubnets,
			Reason: fmt.Sprintf(`not valid JSON (%v); want [{"interface":"eth0","ipv4":["subnet-v4"]},{"interface":"net1","ipv4":["subnet-b"]}]`, err)}
	}
	if len(es) == 0 {
		return nil, &AnnotationError{Key: ipam.AnnoSubnets, Reason: "is an empty list"}
	}
	named := 0
	for _, e := range es {
		if e.Interface != "" {
			named++
		}
	}
	if named != 0 && named != len(es) {
		return nil, &AnnotationError{Key: ipam.AnnoSubnets,
			Reason: fmt.Sprintf("interface is set on %d of %d entries; set it on all entries or on none", named, len(es))}
	}
	out := make([]Interface, 0, len(es))
	seen := map[string]bool{}
	for n, e := range es {
		if named == 0 {
			e.Interface = positionalInterface(n)
		}
		if seen[e.Interface] {
			return nil, &AnnotationError{Key: ipam.AnnoSubnets, Reason: fmt.Sprintf("interface %q appears twice", e.Interface)}
		}
		seen[e.Interface] = true
		i, reason := e.toInterface()
		if reason != "" {
			return nil, &AnnotationError{Key: ipam.AnnoSubnets, Reason: fmt.Sprintf("entry %d: %s", n, reason)}
		}
		out = append(out, i)
	}
	return out, nil
}

// toInterface checks one entry; it returns why it is unusable, or "".
func (e subnetEntry) toInterface() (Interface, string) {
	i := Interface{Name: e.Interface}
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

// positionalInterface is the Multus interface name of the n-th network.
func positionalInterface(n int) string {
	if n == 0 {
		return "eth0"
	}
	return "net" + strconv.Itoa(n)
}

// ParseSize parses ipam.spidernet.io/ippool-ip-number: "5" or "+3"; empty
// means DefaultSize. A fixed size must be at least 1.
func ParseSize(value string) (Size, error) {
	v := strings.TrimSpace(value)
	if v == "" {
		return DefaultSize, nil
	}
	digits, relative := strings.CutPrefix(v, "+")
	n, err := strconv.ParseUint(digits, 10, 32)
	if err != nil {
		return Size{}, &AnnotationError{Key: ipam.AnnoPoolIPNumber,
			Reason: fmt.Sprintf(`%q is not a size; want a number of addresses such as "5", or "+3" for replicas + 3`, value)}
	}
	if !relative && n == 0 {
		return Size{}, &AnnotationError{Key: ipam.AnnoPoolIPNumber,
			Reason: `"0" leaves the pool empty; want at least "1", or "+0" for exactly the replicas`}
	}
	return Size{N: n, Relative: relative}, nil
}

// parseReclaim parses ipam.spidernet.io/ippool-reclaim; empty means true.
func parseReclaim(value string) (bool, error) {
	v := strings.TrimSpace(value)
	if v == "" {
		return true, nil
	}
	b, err := strconv.ParseBool(v)
	if err != nil {
		return false, &AnnotationError{Key: ipam.AnnoPoolReclaim, Reason: fmt.Sprintf(`%q is not a boolean; want "true" or "false"`, value)}
	}
	return b, nil
}

// decode parses one JSON value and refuses anything after it.
func decode(value string, out any) error {
	dec := json.NewDecoder(strings.NewReader(value))
	if err := dec.Decode(out); err != nil {
		return err
	}
	if dec.More() {
		return fmt.Errorf("trailing data after the JSON value")
	}
	return nil
}
