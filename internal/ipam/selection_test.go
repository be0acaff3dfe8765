package ipam

import (
	"errors"
	"slices"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	"github.com/ipkeeper/ipkeeper/api/ipkeeper/v1alpha1"
	"github.com/ipkeeper/ipkeeper/api/v2beta1"
	"github.com/ipkeeper/ipkeeper/internal/spiderpool"
)

func pool(name, subnet string, mods ...func(*v2beta1.SpiderIPPool)) *v2beta1.SpiderIPPool {
	p := &v2beta1.SpiderIPPool{ObjectMeta: metav1.ObjectMeta{Name: name}, Spec: v2beta1.SpiderIPPoolSpec{Subnet: subnet}}
	for _, m := range mods {
		m(p)
	}
	return p
}

func isDefault(p *v2beta1.SpiderIPPool) { t := true; p.Spec.Default = &t }
func disabled(p *v2beta1.SpiderIPPool)  { t := true; p.Spec.Disable = &t }
func onNodes(n ...string) func(*v2beta1.SpiderIPPool) {
	return func(p *v2beta1.SpiderIPPool) { p.Spec.NodeName = n }
}
func forNamespaces(n ...string) func(*v2beta1.SpiderIPPool) {
	return func(p *v2beta1.SpiderIPPool) { p.Spec.NamespaceName = n }
}
func forPods(l map[string]string) func(*v2beta1.SpiderIPPool) {
	return func(p *v2beta1.SpiderIPPool) { p.Spec.PodAffinity = &metav1.LabelSelector{MatchLabels: l} }
}

// spiderpoolRecords gives the pool a Spiderpool allocation record,
// imported or not.
func spiderpoolRecords(imported bool) func(*v2beta1.SpiderIPPool) {
	return func(p *v2beta1.SpiderIPPool) {
		rec := `{"10.6.0.9":{"pod":"ns1/old","podUid":"u-old"}}`
		p.Status.AllocatedIPs = &rec
		if imported {
			p.Status.Conditions = []metav1.Condition{{Type: v1alpha1.ConditionSpiderpoolImported, Status: metav1.ConditionTrue}}
		}
	}
}

func podWith(ann map[string]string) *corev1.Pod {
	return &corev1.Pod{ObjectMeta: metav1.ObjectMeta{Namespace: "ns1", Name: "p", Annotations: ann, Labels: map[string]string{"app": "a"}}}
}

func names(ps []*v2beta1.SpiderIPPool) []string {
	out := []string{}
	for _, p := range ps {
		out = append(out, p.Name)
	}
	return out
}

func TestSelect(t *testing.T) {
	pools := []*v2beta1.SpiderIPPool{
		pool("a", "10.6.0.0/16"),
		pool("b", "10.6.0.0/16", isDefault),
		pool("c", "10.6.0.0/16", onNodes("node2")),
		pool("d", "10.6.0.0/16", forPods(map[string]string{"app": "a"})),
		pool("e", "10.6.0.0/16", forNamespaces("ns1")),
		pool("off", "10.6.0.0/16", disabled),
		pool("v6", "fd00::/64", isDefault),
		pool("backup-1", "10.6.0.0/16"),
		pool("backup-2", "10.6.0.0/16"),
		pool("from-spiderpool", "10.6.0.0/16", spiderpoolRecords(false)),
		pool("imported", "10.6.0.0/16", spiderpoolRecords(true)),
	}
	node := &corev1.Node{ObjectMeta: metav1.ObjectMeta{Name: "node1"}}
	nsWithDefault := &corev1.Namespace{ObjectMeta: metav1.ObjectMeta{Name: "ns1", Annotations: map[string]string{spiderpool.AnnoNSDefaultIPv4Pool: `["e"]`}}}
	tests := []struct {
		name     string
		in       SelectInput
		rule     string
		v4, v6   []string
		rejected []Rejection
	}{
		{
			name: "ippool annotation, user order kept among equals, specificity first",
			in:   SelectInput{Pod: podWith(map[string]string{spiderpool.AnnoPool: `{"ipv4":["a","e","d"]}`})},
			rule: "pod annotation " + spiderpool.AnnoPool, v4: []string{"d", "e", "a"}, v6: []string{},
		},
		{
			name: "filters keep the reason",
			in:   SelectInput{Pod: podWith(map[string]string{spiderpool.AnnoPool: `{"ipv4":["c","off","missing","v6","a"]}`})},
			rule: "pod annotation " + spiderpool.AnnoPool, v4: []string{"a"}, v6: []string{},
			rejected: []Rejection{
				{"c", "spec.nodeName does not include node node1"},
				{"off", "disabled"},
				{"missing", "no such SpiderIPPool"},
				{"v6", "is IPv6, named for IPv4"},
			},
		},
		{
			name: "a pool with Spiderpool's records waits for their import",
			in:   SelectInput{Pod: podWith(map[string]string{spiderpool.AnnoPool: `{"ipv4":["from-spiderpool","imported"]}`})},
			rule: "pod annotation " + spiderpool.AnnoPool, v4: []string{"imported"}, v6: []string{},
			rejected: []Rejection{{"from-spiderpool", "holds Spiderpool's allocations (status.allocatedIPs), not imported as IPClaims yet: the controller imports them when it starts (condition SpiderpoolImported)"}},
		},
		{
			name: "wildcards expand sorted",
			in:   SelectInput{Pod: podWith(map[string]string{spiderpool.AnnoPool: `{"ipv4":["backup-*"]}`})},
			rule: "pod annotation " + spiderpool.AnnoPool, v4: []string{"backup-1", "backup-2"}, v6: []string{},
		},
		{
			name: "ippools wins over ippool, matched by interface",
			in: SelectInput{IfName: "net1", Pod: podWith(map[string]string{
				spiderpool.AnnoPools: `[{"interface":"eth0","ipv4":["a"]},{"interface":"net1","ipv4":["backup-1"]}]`,
				spiderpool.AnnoPool:  `{"ipv4":["b"]}`,
			})},
			rule: "pod annotation " + spiderpool.AnnoPools, v4: []string{"backup-1"}, v6: []string{},
		},
		{
			name: "auto pools of the families the subnet annotation names",
			in: SelectInput{Pod: podWith(map[string]string{spiderpool.AnnoSubnet: `{"ipv4":["s4"]}`}),
				AutoPools: map[int][]string{4: {"a"}, 6: {"v6"}}},
			rule: "automatic pool of pod annotation " + spiderpool.AnnoSubnet, v4: []string{"a"}, v6: []string{},
		},
		{
			name: "the singular subnet annotation leaves another interface to the rules below",
			in: SelectInput{IfName: "net1", Pod: podWith(map[string]string{
				spiderpool.AnnoSubnet: `{"interface":"eth0","ipv4":["s4"]}`,
				spiderpool.AnnoPool:   `{"ipv4":["backup-1"]}`,
			})},
			rule: "pod annotation " + spiderpool.AnnoPool, v4: []string{"backup-1"}, v6: []string{},
		},
		{
			name: "namespace default before netconf",
			in:   SelectInput{Pod: podWith(nil), Namespace: nsWithDefault, NetconfIPv4: []string{"a"}},
			rule: "namespace ns1 default pools", v4: []string{"e"}, v6: []string{},
		},
		{
			name: "netconf default",
			in:   SelectInput{Pod: podWith(nil), NetconfIPv4: []string{"a"}},
			rule: "network configuration default pools", v4: []string{"a"}, v6: []string{},
		},
		{
			name: "default pools, dual-stack",
			in:   SelectInput{Pod: podWith(nil)},
			rule: "pools with spec.default=true", v4: []string{"b"}, v6: []string{"v6"},
		},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			tc.in.Pools, tc.in.Node = pools, node
			if tc.in.IfName == "" {
				tc.in.IfName = "eth0"
			}
			sel, err := Select(tc.in)
			if err != nil {
				t.Fatal(err)
			}
			if sel.Rule != tc.rule {
				t.Errorf("rule = %q, want %q", sel.Rule, tc.rule)
			}
			if diff := cmp.Diff(tc.v4, names(sel.Pools[4])); diff != "" {
				t.Errorf("IPv4 pools (-want +got):\n%s", diff)
			}
			if diff := cmp.Diff(tc.v6, names(sel.Pools[6])); diff != "" {
				t.Errorf("IPv6 pools (-want +got):\n%s", diff)
			}
			if diff := cmp.Diff(tc.rejected, sel.Rejected); diff != "" {
				t.Errorf("rejected (-want +got):\n%s", diff)
			}
		})
	}
}

func TestSelectRefusesMalformedAnnotations(t *testing.T) {
	tests := []struct {
		ann     map[string]string
		key     string
		mention string
	}{
		{map[string]string{spiderpool.AnnoPool: `{"ipv4":["a"]`}, spiderpool.AnnoPool, "not valid JSON"},
		{map[string]string{spiderpool.AnnoPool: `{}`}, spiderpool.AnnoPool, "names no pool"},
		{map[string]string{spiderpool.AnnoPools: `[{"interface":"eth0","ipv4":["a"]},{"ipv4":["b"]}]`}, spiderpool.AnnoPools, "set it on all entries or on none"},
		{map[string]string{spiderpool.AnnoPools: `[{"interface":"eth0","ipv4":["a"]},{"interface":"eth0","ipv4":["b"]}]`}, spiderpool.AnnoPools, `interface "eth0" appears twice`},
		{map[string]string{spiderpool.AnnoSubnets: `[{"interface":"net1","ipv4":["s"]}]`}, spiderpool.AnnoSubnets, `no entry for interface "eth0"`},
		{map[string]string{spiderpool.AnnoPools: `[{"interface":"net1","ipv4":["a"]}]`, spiderpool.AnnoPool: `{"ipv4":["b"]}`}, spiderpool.AnnoPools, `has no entry for interface "eth0" (it names net1)`},
	}
	for _, tc := range tests {
		t.Run(tc.mention, func(t *testing.T) {
			_, err := Select(SelectInput{Pod: podWith(tc.ann), IfName: "eth0"})
			var ae *spiderpool.AnnotationError
			if !errors.As(err, &ae) {
				t.Fatalf("err = %v, want an AnnotationError", err)
			}
			if ae.Key != tc.key || !strings.Contains(err.Error(), tc.key) || !strings.Contains(err.Error(), tc.mention) {
				t.Errorf("err = %q, want it to name %s and say %q", err, tc.key, tc.mention)
			}
		})
	}
}

func TestSelectWithoutAnyRule(t *testing.T) {
	_, err := Select(SelectInput{Pod: podWith(nil), IfName: "eth0", Pools: []*v2beta1.SpiderIPPool{pool("a", "10.6.0.0/16")}})
	if err == nil || !strings.Contains(err.Error(), "spec.default=true") {
		t.Fatalf("err = %v, want the no-rule explanation", err)
	}
}

func TestSelectNamesFamiliesEvenWhenEveryPoolIsFilteredOut(t *testing.T) {
	sel, err := Select(SelectInput{Pod: podWith(map[string]string{spiderpool.AnnoPool: `{"ipv4":["missing"]}`}), IfName: "eth0"})
	if err != nil {
		t.Fatal(err)
	}
	if diff := cmp.Diff([]int{4}, sel.Families()); diff != "" {
		t.Fatalf("families (-want +got):\n%s", diff)
	}
	if len(sel.Pools[4]) != 0 || !strings.Contains(sel.Describe(), "missing: no such SpiderIPPool") {
		t.Fatalf("pools %v, rejections %q", sel.Pools[4], sel.Describe())
	}
}

// Several default pools are tried in one order, by name, whatever order the
// agent's index lists them in (issue 13, defect 16).
func TestDefaultPoolsAreTriedByName(t *testing.T) {
	on := func(p *v2beta1.SpiderIPPool) { p.Spec.Default = new(true) }
	pools := []*v2beta1.SpiderIPPool{pool("c", "10.7.0.0/16", on), pool("a", "10.5.0.0/16", on), pool("b", "10.6.0.0/16", on)}
	for range 5 {
		slices.Reverse(pools)
		sel, err := Select(SelectInput{Pod: podWith(nil), IfName: "eth0", Pools: slices.Clone(pools)})
		if err != nil {
			t.Fatal(err)
		}
		if diff := cmp.Diff([]string{"a", "b", "c"}, names(sel.Pools[4])); diff != "" {
			t.Fatalf("default pools in the order (-want +got):\n%s", diff)
		}
	}
}

// A pool's multusName matches bare NAD names in Multus's namespace, and a
// pod without v1.multus-cni.io/default-network is on the cluster default
// network the configuration names (issue 13, defect 16).
func TestMultusNameBareAndClusterDefault(t *testing.T) {
	onNet := func(names ...string) func(*v2beta1.SpiderIPPool) {
		return func(p *v2beta1.SpiderIPPool) { p.Spec.MultusName = names }
	}
	pools := []*v2beta1.SpiderIPPool{
		pool("bare", "10.6.0.0/16", onNet("macvlan-ens192")),
		pool("qualified", "10.6.0.0/16", onNet("kube-system/macvlan-ens192")),
		pool("elsewhere", "10.6.0.0/16", onNet("ns1/macvlan-ens192")),
	}
	ann := map[string]string{spiderpool.AnnoPool: `{"ipv4":["bare","qualified","elsewhere"]}`}
	m := spiderpool.Multus{Namespace: "kube-system", ClusterNetwork: "macvlan-ens192"}
	pod := podWith(ann)
	sel, err := Select(SelectInput{Pod: pod, IfName: "eth0", Pools: pools, Multus: m, NAD: spiderpool.NetworkOf(pod, "eth0", m)})
	if err != nil {
		t.Fatal(err)
	}
	if got := names(sel.Pools[4]); !slices.Equal(got, []string{"bare", "qualified"}) {
		t.Errorf("pools %v (rejected %v), want bare and qualified", got, sel.Rejected)
	}
	// Without a configured cluster network, the reason says so.
	m.ClusterNetwork = ""
	sel, err = Select(SelectInput{Pod: pod, IfName: "eth0", Pools: pools, Multus: m, NAD: spiderpool.NetworkOf(pod, "eth0", m)})
	if err != nil {
		t.Fatal(err)
	}
	if len(sel.Pools[4]) != 0 || !strings.Contains(sel.Describe(), "which the configuration does not name (clusterNetwork)") {
		t.Errorf("pools %v, reasons %q; want none, saying the cluster network is not configured", names(sel.Pools[4]), sel.Describe())
	}
}
