package importer

import (
	"encoding/json"
	"fmt"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"
	appsv1 "k8s.io/api/apps/v1"
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/types"
	"k8s.io/utils/ptr"

	"github.com/ipkeeper/ipkeeper/api/ipkeeper/v1alpha1"
	"github.com/ipkeeper/ipkeeper/api/v2beta1"
)

// held is one entry of a pool's status.allocatedIPs: address, "ns/name", uid.
type held struct{ addr, pod, uid string }

// spiderPool is a pool as Spiderpool left it: records, not imported.
func spiderPool(name, subnet string, ips []string, records ...held) v2beta1.SpiderIPPool {
	p := v2beta1.SpiderIPPool{ObjectMeta: metav1.ObjectMeta{Name: name}, Spec: v2beta1.SpiderIPPoolSpec{Subnet: subnet, IPs: ips}}
	if len(records) > 0 {
		m := map[string]map[string]string{}
		for _, r := range records {
			m[r.addr] = map[string]string{"pod": r.pod, "podUid": r.uid}
		}
		b, _ := json.Marshal(m)
		p.Status.AllocatedIPs = ptr.To(string(b))
	}
	return p
}

func imported(p v2beta1.SpiderIPPool) v2beta1.SpiderIPPool {
	p.Status.Conditions = []metav1.Condition{{Type: v1alpha1.ConditionSpiderpoolImported, Status: metav1.ConditionTrue}}
	return p
}

func withExclude(p v2beta1.SpiderIPPool, exclude ...string) v2beta1.SpiderIPPool {
	p.Spec.ExcludeIPs = exclude
	return p
}

// spiderEndpoint is a SpiderEndpoint in Spiderpool's format.
func spiderEndpoint(ns, name, uid, node, ownerKind, ownerName string, ips ...v2beta1.IPAllocationDetail) v2beta1.SpiderEndpoint {
	return v2beta1.SpiderEndpoint{
		ObjectMeta: metav1.ObjectMeta{Namespace: ns, Name: name},
		Status: v2beta1.SpiderEndpointStatus{
			Current:             v2beta1.PodIPAllocation{UID: types.UID(uid), Node: node, IPs: ips},
			OwnerControllerType: ownerKind, OwnerControllerName: ownerName,
		},
	}
}

func v4(iface, addr, pool string) v2beta1.IPAllocationDetail {
	return v2beta1.IPAllocationDetail{Interface: iface, IPv4: ptr.To(addr), IPv4Pool: ptr.To(pool)}
}

func dual(iface, a4, p4, a6, p6 string) v2beta1.IPAllocationDetail {
	d := v4(iface, a4, p4)
	d.IPv6, d.IPv6Pool = ptr.To(a6), ptr.To(p6)
	return d
}

func pod(ns, name, uid, node string, controller *metav1.OwnerReference) corev1.Pod {
	p := corev1.Pod{ObjectMeta: metav1.ObjectMeta{Namespace: ns, Name: name, UID: types.UID(uid)}, Spec: corev1.PodSpec{NodeName: node}}
	if controller != nil {
		controller.Controller = ptr.To(true)
		p.OwnerReferences = []metav1.OwnerReference{*controller}
	}
	return p
}

func completed(p corev1.Pod) corev1.Pod {
	p.Status.Phase = corev1.PodSucceeded
	return p
}

func statefulSet(ns, name, uid string, replicas int32) appsv1.StatefulSet {
	return appsv1.StatefulSet{ObjectMeta: metav1.ObjectMeta{Namespace: ns, Name: name, UID: types.UID(uid)},
		Spec: appsv1.StatefulSetSpec{Replicas: ptr.To(replicas)}}
}

func stsRef(name, uid string) *metav1.OwnerReference {
	return &metav1.OwnerReference{APIVersion: "apps/v1", Kind: "StatefulSet", Name: name, UID: types.UID(uid)}
}

func existing(addr, pool, ns, name, uid string, owner v1alpha1.ClaimOwner) v1alpha1.IPClaim {
	return v1alpha1.IPClaim{ObjectMeta: metav1.ObjectMeta{Name: addr},
		Spec: v1alpha1.IPClaimSpec{Address: addr, Pool: pool, Node: "node1", Owner: owner,
			Holder: v1alpha1.ClaimHolder{Namespace: ns, Name: name, UID: types.UID(uid), Interface: "eth0"}}}
}

// brief is a claim in one line: the fields the import decides.
func brief(c *v1alpha1.IPClaim) string {
	s := c.Spec
	ord := "-"
	if s.Ordinal != nil {
		ord = fmt.Sprint(*s.Ordinal)
	}
	return fmt.Sprintf("%s pool=%s node=%s holder=%s/%s/%s/%s owner=%s/%s/%s/%s ordinal=%s labels=%s/%s",
		c.Name, s.Pool, s.Node, s.Holder.Namespace, s.Holder.Name, s.Holder.UID, s.Holder.Interface,
		s.Owner.APIVersion, s.Owner.Kind, s.Owner.Name, s.Owner.UID, ord, c.Labels[v1alpha1.LabelPool], c.Labels[v1alpha1.LabelNode])
}

func TestPlan(t *testing.T) {
	p4 := func(records ...held) v2beta1.SpiderIPPool {
		return spiderPool("p4", "10.6.0.0/16", []string{"10.6.168.101-10.6.168.110"}, records...)
	}
	p6 := func(records ...held) v2beta1.SpiderIPPool {
		return spiderPool("p6", "fd00:10:6::/64", []string{"fd00:10:6::101-fd00:10:6::110"}, records...)
	}
	web := statefulSet("db", "web", "sts-web", 3)
	tests := []struct {
		name      string
		in        Input
		claims    []string
		conflicts []Conflict
		pools     []PoolSummary
	}{
		{
			name: "bare pod",
			in: Input{
				Pools:     []v2beta1.SpiderIPPool{p4(held{"10.6.168.101", "default/a", "u-a"})},
				Endpoints: []v2beta1.SpiderEndpoint{spiderEndpoint("default", "a", "u-a", "node1", "Pod", "a", v4("eth0", "10.6.168.101/16", "p4"))},
				Pods:      []corev1.Pod{pod("default", "a", "u-a", "node1", nil)},
			},
			claims: []string{"10.6.168.101 pool=p4 node=node1 holder=default/a/u-a/eth0 owner=v1/Pod/a/u-a ordinal=- labels=p4/node1"},
			pools:  []PoolSummary{{Name: "p4", New: 1}},
		},
		{
			name: "Deployment pod: the top controller from the endpoint",
			in: Input{
				Pools: []v2beta1.SpiderIPPool{p4(held{"10.6.168.101", "default/app-5d8-x", "u-x"})},
				Endpoints: []v2beta1.SpiderEndpoint{spiderEndpoint("default", "app-5d8-x", "u-x", "node2", "Deployment", "app",
					v4("eth0", "10.6.168.101/16", "p4"))},
				Pods: []corev1.Pod{pod("default", "app-5d8-x", "u-x", "node2", &metav1.OwnerReference{APIVersion: "apps/v1", Kind: "ReplicaSet", Name: "app-5d8", UID: "rs"})},
			},
			claims: []string{"10.6.168.101 pool=p4 node=node2 holder=default/app-5d8-x/u-x/eth0 owner=apps/v1/Deployment/app/ ordinal=- labels=p4/node2"},
			pools:  []PoolSummary{{Name: "p4", New: 1}},
		},
		{
			name: "StatefulSet pods keep their addresses: running, or away while the ordinal exists",
			in: Input{
				Pools: []v2beta1.SpiderIPPool{p4(
					held{"10.6.168.101", "db/web-0", "u-web0"},
					held{"10.6.168.102", "db/web-1", "u-web1-old"},
					held{"10.6.168.103", "db/web-3", "u-web3"},
				)},
				Endpoints: []v2beta1.SpiderEndpoint{
					spiderEndpoint("db", "web-0", "u-web0", "node1", "StatefulSet", "web", v4("eth0", "10.6.168.101/16", "p4")),
					spiderEndpoint("db", "web-1", "u-web1-old", "node2", "StatefulSet", "web", v4("eth0", "10.6.168.102/16", "p4")),
					// Ordinal 3 of 3 replicas: scaled down while the pod was away.
					spiderEndpoint("db", "web-3", "u-web3", "node2", "StatefulSet", "web", v4("eth0", "10.6.168.103/16", "p4")),
				},
				// web-1 is being re-created: no pod right now.
				Pods:              []corev1.Pod{pod("db", "web-0", "u-web0", "node1", stsRef("web", "sts-web"))},
				StatefulSets:      []appsv1.StatefulSet{web},
				EnableStatefulSet: true,
			},
			claims: []string{
				"10.6.168.101 pool=p4 node=node1 holder=db/web-0/u-web0/eth0 owner=apps/v1/StatefulSet/web/sts-web ordinal=0 labels=p4/node1",
				"10.6.168.102 pool=p4 node=node2 holder=db/web-1/u-web1-old/eth0 owner=apps/v1/StatefulSet/web/sts-web ordinal=1 labels=p4/node2",
			},
			pools: []PoolSummary{{Name: "p4", New: 2, Gone: 1}},
		},
		{
			name: "a restarted StatefulSet pod (another UID) keeps the ordinal's address",
			in: Input{
				Pools:             []v2beta1.SpiderIPPool{p4(held{"10.6.168.101", "db/web-0", "u-old"})},
				Endpoints:         []v2beta1.SpiderEndpoint{spiderEndpoint("db", "web-0", "u-old", "node1", "StatefulSet", "web", v4("eth0", "10.6.168.101/16", "p4"))},
				Pods:              []corev1.Pod{pod("db", "web-0", "u-new", "node1", stsRef("web", "sts-web"))},
				StatefulSets:      []appsv1.StatefulSet{web},
				EnableStatefulSet: true,
			},
			claims: []string{"10.6.168.101 pool=p4 node=node1 holder=db/web-0/u-old/eth0 owner=apps/v1/StatefulSet/web/sts-web ordinal=0 labels=p4/node1"},
			pools:  []PoolSummary{{Name: "p4", New: 1}},
		},
		{
			name: "StatefulSet gone, or the feature off: an absent pod's address is free",
			in: Input{
				Pools: []v2beta1.SpiderIPPool{p4(held{"10.6.168.101", "db/web-0", "u-web0"}, held{"10.6.168.102", "db/gone-0", "u-gone0"})},
				Endpoints: []v2beta1.SpiderEndpoint{
					spiderEndpoint("db", "web-0", "u-web0", "node1", "StatefulSet", "web", v4("eth0", "10.6.168.101/16", "p4")),
					spiderEndpoint("db", "gone-0", "u-gone0", "node1", "StatefulSet", "gone", v4("eth0", "10.6.168.102/16", "p4")),
				},
				StatefulSets: []appsv1.StatefulSet{web},
			},
			pools: []PoolSummary{{Name: "p4", Gone: 2}},
		},
		{
			name: "records of pods gone are skipped and counted: no pod, another UID, completed",
			in: Input{
				Pools: []v2beta1.SpiderIPPool{p4(
					held{"10.6.168.101", "default/gone", "u-gone"},
					held{"10.6.168.102", "default/again", "u-first"},
					held{"10.6.168.103", "default/job-x", "u-job"},
					held{"10.6.168.104", "default/live", "u-live"},
				)},
				Endpoints: []v2beta1.SpiderEndpoint{
					spiderEndpoint("default", "gone", "u-gone", "node1", "Pod", "gone", v4("eth0", "10.6.168.101/16", "p4")),
					spiderEndpoint("default", "again", "u-first", "node1", "Pod", "again", v4("eth0", "10.6.168.102/16", "p4")),
					spiderEndpoint("default", "live", "u-live", "node1", "Pod", "live", v4("eth0", "10.6.168.104/16", "p4")),
				},
				Pods: []corev1.Pod{
					pod("default", "again", "u-second", "node1", nil),
					completed(pod("default", "job-x", "u-job", "node1", nil)),
					pod("default", "live", "u-live", "node1", nil),
				},
			},
			claims: []string{"10.6.168.104 pool=p4 node=node1 holder=default/live/u-live/eth0 owner=v1/Pod/live/u-live ordinal=- labels=p4/node1"},
			pools:  []PoolSummary{{Name: "p4", New: 1, Gone: 3}},
		},
		{
			name: "dual-stack endpoint: one claim per family, same holder and interface",
			in: Input{
				Pools: []v2beta1.SpiderIPPool{p4(held{"10.6.168.105", "default/ds", "u-ds"}), p6(held{"fd00:10:6::105", "default/ds", "u-ds"})},
				Endpoints: []v2beta1.SpiderEndpoint{spiderEndpoint("default", "ds", "u-ds", "node1", "Pod", "ds",
					dual("eth0", "10.6.168.105/16", "p4", "fd00:10:6::105/64", "p6"))},
				Pods: []corev1.Pod{pod("default", "ds", "u-ds", "node1", nil)},
			},
			claims: []string{
				"10.6.168.105 pool=p4 node=node1 holder=default/ds/u-ds/eth0 owner=v1/Pod/ds/u-ds ordinal=- labels=p4/node1",
				"fd00-0010-0006-0000-0000-0000-0000-0105 pool=p6 node=node1 holder=default/ds/u-ds/eth0 owner=v1/Pod/ds/u-ds ordinal=- labels=p6/node1",
			},
			pools: []PoolSummary{{Name: "p4", New: 1}, {Name: "p6", New: 1}},
		},
		{
			name: "only one of the two records: the pool's (node and owner from the pod) or the endpoint's",
			in: Input{
				Pools: []v2beta1.SpiderIPPool{p4(held{"10.6.168.101", "db/web-0", "u-web0"})},
				Endpoints: []v2beta1.SpiderEndpoint{spiderEndpoint("default", "b", "u-b", "node2", "DaemonSet", "agent",
					v4("net1", "10.6.168.102/16", "p4"))},
				Pods: []corev1.Pod{
					pod("db", "web-0", "u-web0", "node1", stsRef("web", "sts-web")),
					pod("default", "b", "u-b", "node2", &metav1.OwnerReference{APIVersion: "apps/v1", Kind: "DaemonSet", Name: "agent", UID: "ds-uid"}),
				},
				StatefulSets:      []appsv1.StatefulSet{web},
				EnableStatefulSet: true,
			},
			claims: []string{
				"10.6.168.101 pool=p4 node=node1 holder=db/web-0/u-web0/ owner=apps/v1/StatefulSet/web/sts-web ordinal=0 labels=p4/node1",
				"10.6.168.102 pool=p4 node=node2 holder=default/b/u-b/net1 owner=apps/v1/DaemonSet/agent/ds-uid ordinal=- labels=p4/node2",
			},
			pools: []PoolSummary{{Name: "p4", New: 2}},
		},
		{
			name: "claims already there for the same pod (an interrupted import, a restarted ordinal) are kept",
			in: Input{
				Pools: []v2beta1.SpiderIPPool{p4(held{"10.6.168.101", "default/a", "u-a"}, held{"10.6.168.102", "db/web-1", "u-old"})},
				Endpoints: []v2beta1.SpiderEndpoint{
					spiderEndpoint("default", "a", "u-a", "node1", "Pod", "a", v4("eth0", "10.6.168.101/16", "p4")),
					spiderEndpoint("db", "web-1", "u-old", "node1", "StatefulSet", "web", v4("eth0", "10.6.168.102/16", "p4")),
				},
				Pods:         []corev1.Pod{pod("default", "a", "u-a", "node1", nil), pod("db", "web-1", "u-new", "node1", stsRef("web", "sts-web"))},
				StatefulSets: []appsv1.StatefulSet{web},
				Claims: []v1alpha1.IPClaim{
					existing("10.6.168.101", "p4", "default", "a", "u-a", v1alpha1.ClaimOwner{Kind: "Pod", Name: "a"}),
					existing("10.6.168.102", "p4", "db", "web-1", "u-new", v1alpha1.ClaimOwner{Kind: "StatefulSet", Name: "web"}),
				},
				EnableStatefulSet: true,
			},
			pools: []PoolSummary{{Name: "p4", Held: 2}},
		},
		{
			name: "imported pools and ipkeeper's own endpoints are left alone",
			in: Input{
				Pools: []v2beta1.SpiderIPPool{
					imported(p4(held{"10.6.168.101", "default/a", "u-a"})),
					spiderPool("native", "10.7.0.0/16", []string{"10.7.0.1-10.7.0.9"}),
				},
				Endpoints: []v2beta1.SpiderEndpoint{
					spiderEndpoint("default", "a", "u-a", "node1", "Pod", "a", v4("eth0", "10.6.168.101/16", "p4")),
					spiderEndpoint("default", "n", "u-n", "node1", "Pod", "n", v4("eth0", "10.7.0.1/16", "native")),
				},
				Pods: []corev1.Pod{pod("default", "a", "u-a", "node1", nil), pod("default", "n", "u-n", "node1", nil)},
			},
		},
		{
			name: "records that disagree on the pod of a dead holding do not matter",
			in: Input{
				Pools:     []v2beta1.SpiderIPPool{p4(held{"10.6.168.101", "default/a", "u-a"})},
				Endpoints: []v2beta1.SpiderEndpoint{spiderEndpoint("default", "b", "u-b", "node1", "Pod", "b", v4("eth0", "10.6.168.101/16", "p4"))},
			},
			pools: []PoolSummary{{Name: "p4", Gone: 1}},
		},
		{
			name: "conflict: the pool and the endpoint name different incarnations",
			in: Input{
				Pools:     []v2beta1.SpiderIPPool{p4(held{"10.6.168.101", "default/a", "u-old"})},
				Endpoints: []v2beta1.SpiderEndpoint{spiderEndpoint("default", "a", "u-a", "node1", "Pod", "a", v4("eth0", "10.6.168.101/16", "p4"))},
				Pods:      []corev1.Pod{pod("default", "a", "u-a", "node1", nil)},
			},
			conflicts: []Conflict{{Kind: ConflictHolders, Address: "10.6.168.101",
				Objects: []string{"SpiderEndpoint default/a", "SpiderIPPool p4 status.allocatedIPs"},
				Holders: []string{"default/a (uid u-a)", "default/a (uid u-old)"},
				Detail:  "the records of 10.6.168.101 name different pods: SpiderEndpoint default/a names default/a (uid u-a), SpiderIPPool p4 status.allocatedIPs names default/a (uid u-old)"}},
			pools: []PoolSummary{{Name: "p4", Conflicting: 1}},
		},
		{
			name: "conflict: two endpoints of live pods name one address",
			in: Input{
				Pools: []v2beta1.SpiderIPPool{p4(held{"10.6.168.109", "default/old", "u-old"})},
				Endpoints: []v2beta1.SpiderEndpoint{
					spiderEndpoint("default", "a", "u-a", "node1", "Pod", "a", v4("eth0", "10.6.168.101/16", "p4")),
					spiderEndpoint("default", "b", "u-b", "node2", "Pod", "b", v4("eth0", "10.6.168.101/16", "p4")),
				},
				Pods: []corev1.Pod{pod("default", "a", "u-a", "node1", nil), pod("default", "b", "u-b", "node2", nil)},
			},
			conflicts: []Conflict{{Kind: ConflictHolders, Address: "10.6.168.101",
				Objects: []string{"SpiderEndpoint default/a", "SpiderEndpoint default/b"},
				Holders: []string{"default/a (uid u-a)", "default/b (uid u-b)"},
				Detail:  "the records of 10.6.168.101 name different pods: SpiderEndpoint default/a names default/a (uid u-a), SpiderEndpoint default/b names default/b (uid u-b)"}},
			pools: []PoolSummary{{Name: "p4", Gone: 1, Conflicting: 1}},
		},
		{
			name: "conflict: one address in two pools' records",
			in: Input{
				Pools: []v2beta1.SpiderIPPool{
					p4(held{"10.6.168.101", "default/a", "u-a"}),
					spiderPool("p4b", "10.6.0.0/16", []string{"10.6.168.101"}, held{"10.6.168.101", "default/a", "u-a"}),
				},
				Pods: []corev1.Pod{pod("default", "a", "u-a", "node1", nil)},
			},
			conflicts: []Conflict{{Kind: ConflictPools, Address: "10.6.168.101",
				Objects: []string{"SpiderIPPool p4 status.allocatedIPs", "SpiderIPPool p4b status.allocatedIPs"},
				Holders: []string{"default/a (uid u-a)"},
				Detail:  "10.6.168.101 is recorded in pools p4 and p4b: SpiderIPPool p4 status.allocatedIPs names pool p4, SpiderIPPool p4b status.allocatedIPs names pool p4b"}},
			pools: []PoolSummary{{Name: "p4", Conflicting: 1}, {Name: "p4b"}},
		},
		{
			name: "conflict: addresses outside their pool's spec",
			in: Input{
				Pools: []v2beta1.SpiderIPPool{withExclude(p4(
					held{"10.6.168.120", "default/a", "u-a"},
					held{"10.6.168.110", "default/b", "u-b"},
				), "10.6.168.110")},
				Pods: []corev1.Pod{pod("default", "a", "u-a", "node1", nil), pod("default", "b", "u-b", "node1", nil)},
			},
			conflicts: []Conflict{
				{Kind: ConflictOutsidePool, Address: "10.6.168.110", Objects: []string{"SpiderIPPool p4 status.allocatedIPs"}, Holders: []string{"default/b (uid u-b)"},
					Detail: "10.6.168.110 of pod default/b (uid u-b) is in spec.excludeIPs of SpiderIPPool p4"},
				{Kind: ConflictOutsidePool, Address: "10.6.168.120", Objects: []string{"SpiderIPPool p4 status.allocatedIPs"}, Holders: []string{"default/a (uid u-a)"},
					Detail: "10.6.168.120 of pod default/a (uid u-a) is outside spec.ips of SpiderIPPool p4"},
			},
			pools: []PoolSummary{{Name: "p4", Conflicting: 2}},
		},
		{
			name: "of an endpoint, only the addresses of pools awaiting the import count",
			in: Input{
				Pools:     []v2beta1.SpiderIPPool{p4(held{"10.6.168.101", "default/c", "u-c"})},
				Endpoints: []v2beta1.SpiderEndpoint{spiderEndpoint("default", "c", "u-c", "node1", "Pod", "c", v4("eth0", "10.6.168.102/16", "deleted"), v4("net1", "10.6.168.101/16", "p4"))},
				Pods:      []corev1.Pod{pod("default", "c", "u-c", "node1", nil)},
			},
			claims: []string{"10.6.168.101 pool=p4 node=node1 holder=default/c/u-c/net1 owner=v1/Pod/c/u-c ordinal=- labels=p4/node1"},
			pools:  []PoolSummary{{Name: "p4", New: 1}},
		},
		{
			name: "conflict: an IPClaim holds the address for another pod",
			in: Input{
				Pools:     []v2beta1.SpiderIPPool{p4(held{"10.6.168.101", "default/a", "u-a"})},
				Endpoints: []v2beta1.SpiderEndpoint{spiderEndpoint("default", "a", "u-a", "node1", "Pod", "a", v4("eth0", "10.6.168.101/16", "p4"))},
				Pods:      []corev1.Pod{pod("default", "a", "u-a", "node1", nil)},
				Claims:    []v1alpha1.IPClaim{existing("10.6.168.101", "p4", "other", "z", "u-z", v1alpha1.ClaimOwner{Kind: "Pod", Name: "z"})},
			},
			conflicts: []Conflict{{Kind: ConflictClaimed, Address: "10.6.168.101",
				Objects: []string{"SpiderEndpoint default/a", "SpiderIPPool p4 status.allocatedIPs", "IPClaim 10.6.168.101"},
				Holders: []string{"default/a (uid u-a)", "other/z (uid u-z)"},
				Detail:  "Spiderpool gave 10.6.168.101 to pod default/a (uid u-a), but IPClaim 10.6.168.101 holds it for pod other/z (uid u-z)"}},
			pools: []PoolSummary{{Name: "p4", Conflicting: 1}},
		},
		{
			name: "conflict: records that do not parse",
			in: Input{
				Pools: []v2beta1.SpiderIPPool{func() v2beta1.SpiderIPPool {
					p := p4()
					p.Status.AllocatedIPs = ptr.To(`{"10.6.168.101":{"pod":"a"}}`)
					return p
				}(), p6(held{"fd00:10:6::101", "default/b", "u-b"})},
				Endpoints: []v2beta1.SpiderEndpoint{spiderEndpoint("default", "b", "u-b", "node1", "Pod", "b",
					v2beta1.IPAllocationDetail{Interface: "eth0", IPv6: ptr.To("not-an-address"), IPv6Pool: ptr.To("p6")})},
			},
			conflicts: []Conflict{
				{Kind: ConflictUnreadable, Objects: []string{"SpiderEndpoint default/b"}, Holders: []string{"default/b (uid u-b)"},
					Detail: `SpiderEndpoint default/b interface eth0: address "not-an-address": ParseAddr("not-an-address"): unable to parse IP`},
				{Kind: ConflictUnreadable, Objects: []string{"SpiderIPPool p4 status.allocatedIPs"},
					Detail: `SpiderIPPool p4: status.allocatedIPs[10.6.168.101].pod "a": want namespace/name`},
			},
			pools: []PoolSummary{{Name: "p4"}, {Name: "p6", Gone: 1}},
		},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			got := Plan(tc.in)
			claims := []string{}
			for _, c := range got.Claims {
				claims = append(claims, brief(c))
			}
			if d := cmp.Diff(append([]string{}, tc.claims...), claims); d != "" {
				t.Errorf("claims (-want +got):\n%s", d)
			}
			if d := cmp.Diff(tc.conflicts, got.Conflicts); d != "" {
				t.Errorf("conflicts (-want +got):\n%s", d)
			}
			if d := cmp.Diff(tc.pools, got.Pools); d != "" {
				t.Errorf("pool summaries (-want +got):\n%s", d)
			}
		})
	}
}

// The claim is the one an agent writes, plus where it came from.
func TestPlanClaimObject(t *testing.T) {
	got := Plan(Input{
		Pools: []v2beta1.SpiderIPPool{spiderPool("p4", "10.6.0.0/16", []string{"10.6.168.101"}, held{"10.6.168.101", "db/web-0", "u0"})},
		Endpoints: []v2beta1.SpiderEndpoint{spiderEndpoint("db", "web-0", "u0", "node1", "StatefulSet", "web",
			v4("eth0", "10.6.168.101/16", "p4"))},
		StatefulSets:      []appsv1.StatefulSet{statefulSet("db", "web", "sts", 1)},
		EnableStatefulSet: true,
	})
	want := &v1alpha1.IPClaim{
		ObjectMeta: metav1.ObjectMeta{Name: "10.6.168.101",
			Labels:      map[string]string{v1alpha1.LabelPool: "p4", v1alpha1.LabelNode: "node1"},
			Annotations: map[string]string{v1alpha1.AnnotationImportedFrom: "spiderpool"}},
		Spec: v1alpha1.IPClaimSpec{Address: "10.6.168.101", Pool: "p4", Node: "node1",
			Holder:  v1alpha1.ClaimHolder{Namespace: "db", Name: "web-0", UID: "u0", Interface: "eth0"},
			Owner:   v1alpha1.ClaimOwner{APIVersion: "apps/v1", Kind: "StatefulSet", Name: "web", UID: "sts"},
			Ordinal: ptr.To[int32](0)},
	}
	if len(got.Claims) != 1 {
		t.Fatalf("claims %v, conflicts %v; want one claim", got.Claims, got.Conflicts)
	}
	if d := cmp.Diff(want, got.Claims[0]); d != "" {
		t.Errorf("claim (-want +got):\n%s", d)
	}
}

func TestConflictString(t *testing.T) {
	c := Conflict{Kind: ConflictClaimed, Address: "10.6.168.101", Detail: "Spiderpool gave it to pod a"}
	if got := c.String(); got != "claimed-by-another 10.6.168.101: Spiderpool gave it to pod a" {
		t.Errorf("String() = %q", got)
	}
	for _, k := range []ConflictKind{ConflictHolders, ConflictPools, ConflictOutsidePool, ConflictClaimed, ConflictUnreadable} {
		if strings.TrimSpace(k.Fix()) == "" {
			t.Errorf("kind %s has no fix", k)
		}
	}
}

func TestSameHolder(t *testing.T) {
	sts := v1alpha1.ClaimOwner{Kind: "StatefulSet", Name: "web"}
	pod := v1alpha1.ClaimOwner{Kind: "Pod", Name: "a"}
	c := func(ns, name, uid string, o v1alpha1.ClaimOwner) *v1alpha1.IPClaim {
		x := existing("10.6.168.101", "p4", ns, name, uid, o)
		return &x
	}
	tests := []struct {
		name string
		a, b *v1alpha1.IPClaim
		want bool
	}{
		{"same incarnation", c("d", "a", "u1", pod), c("d", "a", "u1", pod), true},
		{"another incarnation of a bare pod", c("d", "a", "u1", pod), c("d", "a", "u2", pod), false},
		{"the ordinal's next incarnation", c("d", "web-0", "u1", sts), c("d", "web-0", "u2", sts), true},
		{"another pod", c("d", "a", "u1", pod), c("d", "b", "u1", pod), false},
		{"another namespace", c("d", "a", "u1", pod), c("e", "a", "u1", pod), false},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			if got := SameHolder(tc.a, tc.b); got != tc.want {
				t.Errorf("SameHolder = %v, want %v", got, tc.want)
			}
		})
	}
}
