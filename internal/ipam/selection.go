package ipam

import (
	"cmp"
	"fmt"
	"path"
	"slices"
	"strings"

	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/labels"

	"github.com/ipkeeper/ipkeeper/api/ipkeeper/v1alpha1"
	"github.com/ipkeeper/ipkeeper/api/v2beta1"
	"github.com/ipkeeper/ipkeeper/internal/spiderpool"
)

// SelectInput is everything pool choice looks at for one interface.
type SelectInput struct {
	Pod       *corev1.Pod
	Namespace *corev1.Namespace
	Node      *corev1.Node
	IfName    string
	// NAD is the "namespace/name" of the NetworkAttachmentDefinition this
	// interface comes from, empty when unknown.
	NAD string
	// Multus says where bare names in pools' spec.multusName are.
	Multus spiderpool.Multus
	// NetconfIPv4 and NetconfIPv6 are the netconf's default pools (rule 5).
	NetconfIPv4, NetconfIPv6 []string
	// AutoPools are the workload's automatic pools for this interface, by
	// family (rule 1); filled by the caller from the pools it knows.
	AutoPools map[int][]string
	// AutoPoolsOff refuses rule 1: automatic pools are off in this cluster.
	AutoPoolsOff bool
	// Pools is every pool in the cluster.
	Pools []*v2beta1.SpiderIPPool
}

// Rejection is a named pool that cannot serve the interface, and why.
type Rejection struct {
	Pool   string
	Reason string
}

// Selection is the outcome of pool choice for one interface.
type Selection struct {
	// Rule names the rule that decided, e.g. "pod annotation ipam.spidernet.io/ippool".
	Rule string
	// Pools are the candidate pools per family (4, 6), most specific first.
	Pools map[int][]*v2beta1.SpiderIPPool
	// Rejected lists the named pools that were filtered out.
	Rejected     []Rejection
	CleanGateway bool
	// named lists the families the deciding rule names pools for.
	named []int
}

// ErrNoRule means no rule named any pool for the interface.
var ErrNoRule = fmt.Errorf("no pool is named for the interface: no pod or namespace annotation, no default pool in the network configuration, and no SpiderIPPool with spec.default=true")

// Select chooses the candidate pools of one interface (API.md §3): the first
// rule that names pools decides; those pools are filtered and ordered by
// specificity.
func Select(in SelectInput) (*Selection, error) {
	names, rule, clean, err := namedPools(in)
	if err != nil {
		return nil, err
	}
	if rule == "" {
		return nil, ErrNoRule
	}
	sel := &Selection{Rule: rule, Pools: map[int][]*v2beta1.SpiderIPPool{}, CleanGateway: clean}
	byName := make(map[string]*v2beta1.SpiderIPPool, len(in.Pools))
	for _, p := range in.Pools {
		byName[p.Name] = p
	}
	for _, family := range []int{4, 6} {
		if len(names[family]) > 0 {
			sel.named = append(sel.named, family)
		}
		for _, name := range expand(names[family], in.Pools) {
			p, ok := byName[name]
			if !ok {
				sel.Rejected = append(sel.Rejected, Rejection{Pool: name, Reason: "no such SpiderIPPool"})
				continue
			}
			if reason := filter(p, family, in); reason != "" {
				sel.Rejected = append(sel.Rejected, Rejection{Pool: name, Reason: reason})
				continue
			}
			sel.Pools[family] = append(sel.Pools[family], p)
		}
		slices.SortStableFunc(sel.Pools[family], func(a, b *v2beta1.SpiderIPPool) int {
			return cmp.Compare(specificity(b), specificity(a))
		})
	}
	return sel, nil
}

// Families lists the families the deciding rule names pools for, in order
// 4, 6: the pod gets one address of each, or an error naming why not.
func (s *Selection) Families() []int { return s.named }

// Describe names every pool considered and why it cannot serve, for errors.
func (s *Selection) Describe() string {
	parts := make([]string, 0, len(s.Rejected))
	for _, r := range s.Rejected {
		parts = append(parts, fmt.Sprintf("%s: %s", r.Pool, r.Reason))
	}
	return strings.Join(parts, "; ")
}

// namedPools applies the rules in order and returns the first that names
// pools for this interface.
func namedPools(in SelectInput) (map[int][]string, string, bool, error) {
	ann := in.Pod.Annotations
	if req, asked, err := spiderpool.ParseAutoPoolRequest(ann); asked {
		// Rule 1: the workload's automatic pools.
		if err != nil {
			return nil, "", false, err
		}
		if in.AutoPoolsOff {
			return nil, "", false, &spiderpool.AnnotationError{Key: spiderpool.AutoPoolAnnotationKey(ann),
				Reason: "asks for an automatic pool, but SpiderSubnets or automatic pools are off in this cluster (Helm values ipam.spiderSubnet.enable and ipam.spiderSubnet.autoPool.enable); name a pool with " + spiderpool.AnnoPool + " instead"}
		}
		entry, covered := req.Interface(in.IfName)
		_, plural := ann[spiderpool.AnnoSubnets]
		switch {
		case covered:
			names, err := autoPoolNames(entry, in.AutoPools)
			return names, "automatic pool of pod annotation " + spiderpool.AutoPoolAnnotationKey(ann), false, err
		case plural:
			return nil, "", false, &spiderpool.AnnotationError{Key: spiderpool.AnnoSubnets, Reason: fmt.Sprintf("has no entry for interface %q", in.IfName)}
		}
		// The singular annotation is for one interface (eth0 unless it
		// says): another interface is chosen for by the rules below, as
		// with ipam.spidernet.io/ippool.
	}
	if v, ok := ann[spiderpool.AnnoPools]; ok {
		cs, err := spiderpool.ParsePoolsAnnotation(spiderpool.AnnoPools, v)
		if err != nil {
			return nil, "", false, err
		}
		names := make([]string, 0, len(cs))
		for _, c := range cs {
			if c.Interface == in.IfName {
				return byFamily(c.IPv4, c.IPv6), "pod annotation " + spiderpool.AnnoPools, c.CleanGateway, nil
			}
			names = append(names, c.Interface)
		}
		// The pod names its pools per interface: one it leaves out gets no
		// pool from lower rules either (as in Spiderpool), or it would draw
		// from a default pool nobody chose for it.
		return nil, "", false, &spiderpool.AnnotationError{Key: spiderpool.AnnoPools, Reason: fmt.Sprintf(
			"has no entry for interface %q (it names %s); add one, or drop the annotation to use the lower rules", in.IfName, strings.Join(names, ", "))}
	}
	if v, ok := ann[spiderpool.AnnoPool]; ok {
		c, err := spiderpool.ParsePoolAnnotation(spiderpool.AnnoPool, v)
		if err != nil {
			return nil, "", false, err
		}
		if c.Interface == "" || c.Interface == in.IfName {
			return byFamily(c.IPv4, c.IPv6), "pod annotation " + spiderpool.AnnoPool, c.CleanGateway, nil
		}
	}
	if in.Namespace != nil {
		v4, err := spiderpool.ParseNamespaceDefault(spiderpool.AnnoNSDefaultIPv4Pool, in.Namespace.Annotations[spiderpool.AnnoNSDefaultIPv4Pool])
		if err != nil {
			return nil, "", false, err
		}
		v6, err := spiderpool.ParseNamespaceDefault(spiderpool.AnnoNSDefaultIPv6Pool, in.Namespace.Annotations[spiderpool.AnnoNSDefaultIPv6Pool])
		if err != nil {
			return nil, "", false, err
		}
		if len(v4)+len(v6) > 0 {
			return byFamily(v4, v6), "namespace " + in.Namespace.Name + " default pools", false, nil
		}
	}
	if len(in.NetconfIPv4)+len(in.NetconfIPv6) > 0 {
		return byFamily(in.NetconfIPv4, in.NetconfIPv6), "network configuration default pools", false, nil
	}
	var v4, v6 []string
	for _, p := range in.Pools {
		if p.Spec.Default != nil && *p.Spec.Default {
			if spiderpool.PoolFamily(p) == 6 {
				v6 = append(v6, p.Name)
			} else {
				v4 = append(v4, p.Name)
			}
		}
	}
	if len(v4)+len(v6) > 0 {
		// By name, so that every request tries equally specific default
		// pools in one order, whatever order the pools are known in.
		slices.Sort(v4)
		slices.Sort(v6)
		return byFamily(v4, v6), "pools with spec.default=true", false, nil
	}
	return nil, "", false, nil
}

// autoPoolNames are the automatic pools of the families the interface's
// entry names; a family it names without a pool fails the interface, so that
// a pod never gets some of the addresses it asked for.
func autoPoolNames(entry spiderpool.AutoPoolInterface, pools map[int][]string) (map[int][]string, error) {
	out := map[int][]string{}
	for _, fam := range []int{4, 6} {
		subnet := entry.Subnet(fam)
		if subnet == "" {
			continue
		}
		if len(pools[fam]) == 0 {
			return nil, &AllocationError{Msg: fmt.Sprintf("interface %s asks for an IPv%d address from SpiderSubnet %s, but the workload has no automatic IPv%d pool for it yet",
				entry.Name, fam, subnet, fam)}
		}
		out[fam] = pools[fam]
	}
	return out, nil
}

func byFamily(v4, v6 []string) map[int][]string {
	return map[int][]string{4: v4, 6: v6}
}

// expand replaces wildcard names (* ? [) by the matching pools, sorted by
// name, keeping the user's order otherwise and dropping repeats.
func expand(names []string, pools []*v2beta1.SpiderIPPool) []string {
	var out []string
	seen := map[string]bool{}
	add := func(n string) {
		if !seen[n] {
			seen[n] = true
			out = append(out, n)
		}
	}
	for _, n := range names {
		if !strings.ContainsAny(n, "*?[") {
			add(n)
			continue
		}
		var matched []string
		for _, p := range pools {
			if ok, _ := path.Match(n, p.Name); ok {
				matched = append(matched, p.Name)
			}
		}
		slices.Sort(matched)
		for _, m := range matched {
			add(m)
		}
	}
	return out
}

// filter returns why pool p cannot serve the interface, or "".
func filter(p *v2beta1.SpiderIPPool, family int, in SelectInput) string {
	switch {
	case p.DeletionTimestamp != nil:
		return "terminating"
	case p.Spec.Disable != nil && *p.Spec.Disable:
		return "disabled"
	case spiderpool.AwaitsImport(p):
		// Any address of the pool may be one a running pod got from Spiderpool.
		return "holds Spiderpool's allocations (status.allocatedIPs), not imported as IPClaims yet: the controller imports them when it starts (condition " + v1alpha1.ConditionSpiderpoolImported + ")"
	case spiderpool.PoolFamily(p) != family:
		return fmt.Sprintf("is IPv%d, named for IPv%d", spiderpool.PoolFamily(p), family)
	}
	if len(p.Spec.NodeName) > 0 {
		if in.Node == nil || !slices.Contains(p.Spec.NodeName, in.Node.Name) {
			return fmt.Sprintf("spec.nodeName does not include node %s", nodeName(in.Node))
		}
	} else if p.Spec.NodeAffinity != nil && !selects(p.Spec.NodeAffinity, nodeLabels(in.Node)) {
		return fmt.Sprintf("spec.nodeAffinity does not match node %s", nodeName(in.Node))
	}
	ns := in.Pod.Namespace
	if len(p.Spec.NamespaceName) > 0 {
		if !slices.Contains(p.Spec.NamespaceName, ns) {
			return fmt.Sprintf("spec.namespaceName does not include namespace %s", ns)
		}
	} else if p.Spec.NamespaceAffinity != nil && !selects(p.Spec.NamespaceAffinity, namespaceLabels(in.Namespace)) {
		return fmt.Sprintf("spec.namespaceAffinity does not match namespace %s", ns)
	}
	if p.Spec.PodAffinity != nil && !selects(p.Spec.PodAffinity, in.Pod.Labels) {
		return "spec.podAffinity does not match the pod's labels"
	}
	if len(p.Spec.MultusName) > 0 && !spiderpool.MultusNameMatches(p.Spec.MultusName, in.NAD, in.Multus) {
		if in.NAD == "" {
			return fmt.Sprintf("spec.multusName %v: interface %s is on the cluster default network, which the configuration does not name (clusterNetwork)", p.Spec.MultusName, in.IfName)
		}
		return fmt.Sprintf("spec.multusName %v does not include network %q", p.Spec.MultusName, in.NAD)
	}
	return ""
}

// specificity ranks pools: podAffinity > nodeName > nodeAffinity >
// namespaceName > namespaceAffinity > multusName.
func specificity(p *v2beta1.SpiderIPPool) int {
	score := 0
	for _, has := range []bool{
		p.Spec.PodAffinity != nil,
		len(p.Spec.NodeName) > 0,
		p.Spec.NodeAffinity != nil,
		len(p.Spec.NamespaceName) > 0,
		p.Spec.NamespaceAffinity != nil,
		len(p.Spec.MultusName) > 0,
	} {
		score <<= 1
		if has {
			score |= 1
		}
	}
	return score
}

func selects(sel *metav1.LabelSelector, l map[string]string) bool {
	s, err := metav1.LabelSelectorAsSelector(sel)
	if err != nil {
		return false
	}
	return s.Matches(labels.Set(l))
}

func nodeName(n *corev1.Node) string {
	if n == nil {
		return "(unknown)"
	}
	return n.Name
}

func nodeLabels(n *corev1.Node) map[string]string {
	if n == nil {
		return nil
	}
	return n.Labels
}

func namespaceLabels(n *corev1.Namespace) map[string]string {
	if n == nil {
		return nil
	}
	return n.Labels
}
