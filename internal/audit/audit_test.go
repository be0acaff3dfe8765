package audit

import (
	"slices"
	"testing"
	"time"

	appsv1 "k8s.io/api/apps/v1"
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/types"

	"github.com/ipkeeper/ipkeeper/api/ipkeeper/v1alpha1"
	"github.com/ipkeeper/ipkeeper/api/v2beta1"
)

var now = time.Date(2026, 12, 2, 3, 0, 0, 0, time.UTC)

func ago(d time.Duration) metav1.Time { return metav1.NewTime(now.Add(-d)) }

func pod(name, uid, ip string, mods ...func(*corev1.Pod)) corev1.Pod {
	p := corev1.Pod{
		ObjectMeta: metav1.ObjectMeta{Namespace: "ns", Name: name, UID: types.UID(uid), CreationTimestamp: ago(time.Minute)},
		Status:     corev1.PodStatus{Phase: corev1.PodRunning, PodIP: ip},
	}
	if ip != "" {
		p.Status.PodIPs = []corev1.PodIP{{IP: ip}}
	}
	for _, m := range mods {
		m(&p)
	}
	return p
}

func deleting(at time.Duration) func(*corev1.Pod) {
	return func(p *corev1.Pod) { t := metav1.NewTime(now.Add(at)); p.DeletionTimestamp = &t }
}

func phase(ph corev1.PodPhase) func(*corev1.Pod) { return func(p *corev1.Pod) { p.Status.Phase = ph } }

func claim(addr, pool, podName, uid string, mods ...func(*v1alpha1.IPClaim)) v1alpha1.IPClaim {
	c := v1alpha1.IPClaim{
		ObjectMeta: metav1.ObjectMeta{Name: addr, CreationTimestamp: ago(time.Minute)},
		Spec: v1alpha1.IPClaimSpec{Address: addr, Pool: pool, Node: "node1",
			Holder: v1alpha1.ClaimHolder{Namespace: "ns", Name: podName, UID: types.UID(uid), Interface: "eth0"},
			Owner:  v1alpha1.ClaimOwner{Kind: "ReplicaSet", Name: "rs"}},
	}
	for _, m := range mods {
		m(&c)
	}
	return c
}

func ofStatefulSet(name, uid string, ordinal int32) func(*v1alpha1.IPClaim) {
	return func(c *v1alpha1.IPClaim) {
		c.Spec.Owner = v1alpha1.ClaimOwner{Kind: "StatefulSet", Name: name, UID: types.UID(uid)}
		c.Spec.Ordinal = &ordinal
	}
}

func createdAgo(d time.Duration) func(*v1alpha1.IPClaim) {
	return func(c *v1alpha1.IPClaim) { c.CreationTimestamp = ago(d) }
}

func pool(name string, allocated int64, ips ...string) v2beta1.SpiderIPPool {
	return v2beta1.SpiderIPPool{
		ObjectMeta: metav1.ObjectMeta{Name: name},
		Spec:       v2beta1.SpiderIPPoolSpec{Subnet: "10.6.0.0/16", IPs: ips},
		Status:     v2beta1.SpiderIPPoolStatus{AllocatedIPCount: &allocated},
	}
}

func endpoint(name, uid, addr string) v2beta1.SpiderEndpoint {
	return v2beta1.SpiderEndpoint{
		ObjectMeta: metav1.ObjectMeta{Namespace: "ns", Name: name},
		Status: v2beta1.SpiderEndpointStatus{Current: v2beta1.PodIPAllocation{UID: types.UID(uid), Node: "node1",
			IPs: []v2beta1.IPAllocationDetail{{Interface: "eth0", IPv4: &addr}}}},
	}
}

func statefulSet(name, uid string, replicas int32) appsv1.StatefulSet {
	return appsv1.StatefulSet{
		ObjectMeta: metav1.ObjectMeta{Namespace: "ns", Name: name, UID: types.UID(uid)},
		Spec:       appsv1.StatefulSetSpec{Replicas: &replicas},
	}
}

func reserved(name string, created time.Duration, ips ...string) v2beta1.SpiderReservedIP {
	return v2beta1.SpiderReservedIP{ObjectMeta: metav1.ObjectMeta{Name: name, CreationTimestamp: ago(created)},
		Spec: v2beta1.SpiderReservedIPSpec{IPs: ips}}
}

// clean is one pod with its claim, endpoint and counted pool; each case
// starts from it and breaks one thing.
func clean() Input {
	return Input{
		Pods:      []corev1.Pod{pod("a", "ua", "10.6.10.1")},
		Claims:    []v1alpha1.IPClaim{claim("10.6.10.1", "p", "a", "ua")},
		Endpoints: []v2beta1.SpiderEndpoint{endpoint("a", "ua", "10.6.10.1/16")},
		Pools:     []v2beta1.SpiderIPPool{pool("p", 1, "10.6.10.1-10.6.10.20")},
		Now:       now, GCWindow: 40 * time.Second, StartWindow: 2 * time.Minute, ReservationGrace: 10 * time.Second,
	}
}

func TestCheck(t *testing.T) {
	tests := []struct {
		name   string
		modify func(*Input)
		want   []Kind // kinds of the findings, in order
	}{
		{name: "clean", modify: func(*Input) {}},
		{
			name: "a quarantine claim holds its address for no pod, past the GC window",
			modify: func(in *Input) {
				in.Claims = append(in.Claims, claim("10.6.10.2", "p", "", "", createdAgo(time.Hour), func(c *v1alpha1.IPClaim) {
					c.Spec.Holder = v1alpha1.ClaimHolder{}
					c.Spec.Owner = v1alpha1.ClaimOwner{Kind: v1alpha1.OwnerKindQuarantine, Name: "IPConflict"}
					c.Spec.Quarantine = &v1alpha1.ClaimQuarantine{Reason: "IPConflict", Since: ago(time.Hour)}
				}))
				in.Pools[0] = pool("p", 2, "10.6.10.1-10.6.10.20")
			},
		},
		{
			name: "the same claim without its quarantine is one without holder",
			modify: func(in *Input) {
				in.Claims = append(in.Claims, claim("10.6.10.2", "p", "", "", createdAgo(time.Hour), func(c *v1alpha1.IPClaim) {
					c.Spec.Holder = v1alpha1.ClaimHolder{}
				}))
				in.Pools[0] = pool("p", 2, "10.6.10.1-10.6.10.20")
			},
			want: []Kind{ClaimWithoutHolder},
		},
		{
			name: "two live pods show one address",
			modify: func(in *Input) {
				in.Pods = append(in.Pods, pod("b", "ub", "10.6.10.1"))
			},
			want: []Kind{DuplicateAddress, PodAddressUnclaimed},
		},
		{
			name: "a pod deleted past its grace period no longer holds its address",
			modify: func(in *Input) {
				in.Pods = append(in.Pods, pod("b", "ub", "10.6.10.1", deleting(-time.Second)))
			},
		},
		{
			name: "a pod within its grace period still holds its address",
			modify: func(in *Input) {
				in.Pods = append(in.Pods, pod("b", "ub", "10.6.10.1", deleting(time.Second)))
			},
			want: []Kind{DuplicateAddress},
		},
		{
			name: "a succeeded pod holds nothing",
			modify: func(in *Input) {
				in.Pods = append(in.Pods, pod("b", "ub", "10.6.10.1", phase(corev1.PodSucceeded)))
			},
		},
		{
			name: "a claim whose pod is gone, past the GC window",
			modify: func(in *Input) {
				in.Claims = append(in.Claims, claim("10.6.10.2", "p", "gone", "ug", createdAgo(time.Minute)))
				in.Pools[0].Status.AllocatedIPCount = new(int64(2))
			},
			want: []Kind{ClaimWithoutHolder},
		},
		{
			name: "a claim whose pod is gone, within the GC window",
			modify: func(in *Input) {
				in.Claims = append(in.Claims, claim("10.6.10.2", "p", "gone", "ug", createdAgo(10*time.Second)))
				in.Pools[0].Status.AllocatedIPCount = new(int64(2))
			},
		},
		{
			name: "a claim whose pod was replaced by another incarnation",
			modify: func(in *Input) {
				in.Pods[0].UID = "ua2"
			},
			want: []Kind{ClaimWithoutHolder, PodAddressUnclaimed},
		},
		{
			name: "a StatefulSet claim outlives its pod while the ordinal exists",
			modify: func(in *Input) {
				in.StatefulSets = []appsv1.StatefulSet{statefulSet("db", "us", 2)}
				in.Claims = append(in.Claims, claim("10.6.10.2", "p", "db-1", "u1", ofStatefulSet("db", "us", 1)))
				in.Pools[0].Status.AllocatedIPCount = new(int64(2))
			},
		},
		{
			name: "a StatefulSet claim of a scaled-down ordinal is a leak",
			modify: func(in *Input) {
				in.StatefulSets = []appsv1.StatefulSet{statefulSet("db", "us", 1)}
				in.Claims = append(in.Claims, claim("10.6.10.2", "p", "db-1", "u1", ofStatefulSet("db", "us", 1)))
				in.Pools[0].Status.AllocatedIPCount = new(int64(2))
			},
			want: []Kind{ClaimWithoutHolder},
		},
		{
			name: "a running pod without an address",
			modify: func(in *Input) {
				in.Pods = append(in.Pods, pod("b", "ub", ""))
			},
			want: []Kind{PodWithoutAddress},
		},
		{
			name: "a pending pod without an address, within the start window",
			modify: func(in *Input) {
				in.Pods = append(in.Pods, pod("b", "ub", "", phase(corev1.PodPending)))
			},
		},
		{
			name: "a pending pod without an address, past the start window",
			modify: func(in *Input) {
				in.Pods = append(in.Pods, pod("b", "ub", "", phase(corev1.PodPending), func(p *corev1.Pod) { p.CreationTimestamp = ago(time.Hour) }))
			},
			want: []Kind{PodWithoutAddress},
		},
		{
			name: "a pod address without a claim",
			modify: func(in *Input) {
				in.Claims = nil
				in.Pools[0].Status.AllocatedIPCount = new(int64(0))
			},
			want: []Kind{PodAddressUnclaimed, EndpointWithoutClaim},
		},
		{
			name: "an endpoint naming an address claimed for another pod",
			modify: func(in *Input) {
				in.Endpoints = append(in.Endpoints, endpoint("b", "ub", "10.6.10.1/16"))
			},
			want: []Kind{EndpointWithoutClaim},
		},
		{
			name: "a claim outside its pool's ips",
			modify: func(in *Input) {
				in.Pools[0].Spec.IPs = []string{"10.6.10.2-10.6.10.20"}
			},
			want: []Kind{ClaimOutsidePool},
		},
		{
			name: "a claim of an excluded address",
			modify: func(in *Input) {
				in.Pools[0].Spec.ExcludeIPs = []string{"10.6.10.1"}
			},
			want: []Kind{ClaimOutsidePool},
		},
		{
			name: "a claim of a missing pool",
			modify: func(in *Input) {
				in.Claims[0].Spec.Pool = "nope"
				in.Pools[0].Status.AllocatedIPCount = new(int64(0))
			},
			want: []Kind{ClaimOutsidePool},
		},
		{
			name: "a claim made after a reservation of its address",
			modify: func(in *Input) {
				in.Reserved = []v2beta1.SpiderReservedIP{reserved("r", 5*time.Minute, "10.6.10.1")}
			},
			want: []Kind{ClaimReserved},
		},
		{
			name: "a claim made before a reservation of its address",
			modify: func(in *Input) {
				in.Reserved = []v2beta1.SpiderReservedIP{reserved("r", 30*time.Second, "10.6.10.1")}
			},
		},
		{
			name: "a claim made within the reservation grace",
			modify: func(in *Input) {
				in.Reserved = []v2beta1.SpiderReservedIP{reserved("r", 65*time.Second, "10.6.10.1")}
			},
		},
		{
			name: "a malformed reservation entry voids only itself",
			modify: func(in *Input) {
				in.Reserved = []v2beta1.SpiderReservedIP{reserved("r", 5*time.Minute, "garbage", "10.6.10.1")}
			},
			want: []Kind{ClaimReserved},
		},
		{
			name: "a pool count that disagrees with its claims",
			modify: func(in *Input) {
				in.Pools[0].Status.AllocatedIPCount = new(int64(3))
			},
			want: []Kind{PoolCountMismatch},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			in := clean()
			tt.modify(&in)
			got := Check(in)
			var kinds []Kind
			for _, f := range got {
				kinds = append(kinds, f.Kind)
			}
			if !slices.Equal(kinds, tt.want) {
				t.Errorf("findings %v, want kinds %v", got, tt.want)
			}
		})
	}
}

func TestDuplicatesNamesBothPods(t *testing.T) {
	got := Duplicates([]corev1.Pod{pod("b", "ub", "10.6.10.1"), pod("a", "ua", "10.6.10.1"), pod("c", "uc", "10.6.10.2")}, now)
	if len(got) != 1 {
		t.Fatalf("findings %v, want one", got)
	}
	want := "duplicate-address: Pods ns/a uid ua, ns/b uid ub (10.6.10.1): 2 live pods show this address"
	if got[0].String() != want {
		t.Errorf("finding %q, want %q", got[0].String(), want)
	}
}

// Host-network pods show their node's address (an agent and the controller
// on one node share it): no IPAM handed it out, so it is never a duplicate.
func TestDuplicatesIgnoresHostNetworkPods(t *testing.T) {
	host := func(p *corev1.Pod) { p.Spec.HostNetwork = true }
	pods := []corev1.Pod{pod("agent", "u1", "10.6.0.11", host), pod("controller", "u2", "10.6.0.11", host)}
	if got := Duplicates(pods, now); len(got) != 0 {
		t.Errorf("findings %v for two host-network pods on one node, want none", got)
	}
	if got := Check(Input{Pods: pods, Now: now}); len(got) != 0 {
		t.Errorf("Check: findings %v for host-network pods, want none", got)
	}
}
