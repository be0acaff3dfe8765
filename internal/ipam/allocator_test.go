package ipam

import (
	"errors"
	"fmt"
	"net/netip"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	appsv1 "k8s.io/api/apps/v1"
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/types"
	"k8s.io/utils/ptr"

	"github.com/ipkeeper/ipkeeper/api/ipkeeper/v1alpha1"
	"github.com/ipkeeper/ipkeeper/api/v2beta1"
	"github.com/ipkeeper/ipkeeper/internal/spiderpool"
)

// agentFor returns an allocator for node sharing store with others, its
// index fed by the store as an informer would feed it.
func agentFor(t *testing.T, node string, s *memStore, c *memCluster, pools ...*v2beta1.SpiderIPPool) *Allocator {
	t.Helper()
	x := NewIndex(node)
	for _, p := range pools {
		x.SetPool(p)
	}
	s.watch(x, node)
	return New(Config{Node: node, EnableStatefulSet: true}, x, s, c)
}

func statelessPod(name string, ann map[string]string) *corev1.Pod {
	return &corev1.Pod{ObjectMeta: metav1.ObjectMeta{
		Namespace: "default", Name: name, UID: types.UID("uid-" + name), Annotations: ann,
		OwnerReferences: []metav1.OwnerReference{{Kind: "ReplicaSet", Name: "rs", UID: "rs-uid", Controller: ptr.To(true)}},
	}}
}

func stsPod(sts string, ordinal int, incarnation string, ann map[string]string) *corev1.Pod {
	name := fmt.Sprintf("%s-%d", sts, ordinal)
	return &corev1.Pod{ObjectMeta: metav1.ObjectMeta{
		Namespace: "default", Name: name, UID: types.UID(name + "-" + incarnation), Annotations: ann,
		OwnerReferences: []metav1.OwnerReference{{Kind: "StatefulSet", Name: sts, UID: "sts-uid", Controller: ptr.To(true)}},
	}}
}

func addReq(p *corev1.Pod, container string) *AddRequest {
	return &AddRequest{
		Attachment: Attachment{ContainerID: container, IfName: "eth0"},
		Pod:        PodRef{Namespace: p.Namespace, Name: p.Name, UID: p.UID},
		Network:    "macvlan-ens192",
	}
}

func delReq(p *corev1.Pod, container string) *DelRequest {
	return &DelRequest{
		Attachment: Attachment{ContainerID: container, IfName: "eth0"},
		Pod:        PodRef{Namespace: p.Namespace, Name: p.Name, UID: p.UID},
	}
}

var poolAnno = map[string]string{spiderpool.AnnoPool: `{"ipv4":["p"]}`}

func testPool(ips ...string) *v2beta1.SpiderIPPool {
	return &v2beta1.SpiderIPPool{ObjectMeta: metav1.ObjectMeta{Name: "p"}, Spec: v2beta1.SpiderIPPoolSpec{
		Subnet: "10.6.0.0/16", IPs: ips, Gateway: ptr.To("10.6.0.1"),
	}}
}

// Ten agents racing for a pool of exactly 1000 addresses hand out each
// address once, fill the pool, and refuse the 1001st pod with the
// exhaustion message.
func TestConcurrentAgentsNeverHandOutAnAddressTwice(t *testing.T) {
	s, c := newMemStore(), newMemCluster("node")
	p := testPool("10.6.1.0-10.6.4.231") // 1000 addresses
	var agents []*Allocator
	for i := range 10 {
		agents = append(agents, agentFor(t, fmt.Sprintf("node%d", i), s, c, p))
	}
	for i := range 1001 {
		c.addPod(statelessPod(fmt.Sprintf("pod-%d", i), poolAnno))
	}
	got := make([]string, 1000)
	var wg sync.WaitGroup
	for i := range 1000 {
		wg.Go(func() {
			resp, err := agents[i%10].Add(t.Context(), addReq(statelessPod(fmt.Sprintf("pod-%d", i), nil), fmt.Sprint("c", i)))
			if err != nil {
				t.Errorf("pod-%d: %v", i, err)
				return
			}
			got[i] = resp.IPs[0].Address.String()
		})
	}
	wg.Wait()
	seen := map[string]int{}
	for i, a := range got {
		if j, dup := seen[a]; dup {
			t.Fatalf("address %s handed to pod-%d and pod-%d", a, j, i)
		}
		seen[a] = i
	}
	if n := len(s.holders()); n != 1000 {
		t.Fatalf("%d claims, want 1000", n)
	}
	_, err := agents[3].Add(t.Context(), addReq(statelessPod("pod-1000", nil), "c1000"))
	var ae *AllocationError
	if !errors.As(err, &ae) || !strings.Contains(err.Error(), "all IPs have been exhausted (total 1000, reserved 0, excluded 0, in use 1000)") {
		t.Fatalf("1001st pod: err = %v, want the exhaustion message with counts", err)
	}
}

func TestAddIsIdempotentAndDelReleases(t *testing.T) {
	s, c := newMemStore(), newMemCluster("node1")
	a := agentFor(t, "node1", s, c, testPool("10.6.168.101-10.6.168.102"))
	pod := statelessPod("web", poolAnno)
	c.addPod(pod)
	first, err := a.Add(t.Context(), addReq(pod, "c1"))
	if err != nil {
		t.Fatal(err)
	}
	again, err := a.Add(t.Context(), addReq(pod, "c1"))
	if err != nil {
		t.Fatal(err)
	}
	if first.IPs[0].Address != again.IPs[0].Address || first.IPs[0].Gateway.String() != "10.6.0.1" {
		t.Fatalf("first %+v, again %+v: want the same address with the pool's gateway", first.IPs, again.IPs)
	}
	if n := len(s.holders()); n != 1 {
		t.Fatalf("%d claims after a repeated ADD, want 1", n)
	}
	// The runtime tears the sandbox down for good once the pod is deleted
	// (a live pod's DEL keeps the address: TestRecreatedSandboxKeepsTheAddress).
	c.endPod(pod)
	if err := a.Del(t.Context(), delReq(pod, "c1")); err != nil {
		t.Fatal(err)
	}
	if err := a.Del(t.Context(), delReq(pod, "c1")); err != nil {
		t.Fatalf("second DEL: %v", err)
	}
	if n := len(s.holders()); n != 0 {
		t.Fatalf("%d claims after DEL, want 0", n)
	}
}

func TestLastDelDeletesAStatelessPodsEndpoint(t *testing.T) {
	s, c := newMemStore(), newMemCluster("node1")
	a := agentFor(t, "node1", s, c, testPool("10.6.168.101-10.6.168.110"))
	pod := statelessPod("web", poolAnno)
	c.addPod(pod)
	if _, err := a.Add(t.Context(), addReq(pod, "c1")); err != nil {
		t.Fatal(err)
	}
	key := types.NamespacedName{Namespace: pod.Namespace, Name: pod.Name}
	if _, ok := s.endpoints[key]; !ok {
		t.Fatal("no endpoint after ADD")
	}
	c.endPod(pod)
	if err := a.Del(t.Context(), delReq(pod, "c1")); err != nil {
		t.Fatal(err)
	}
	if _, ok := s.endpoints[key]; ok {
		t.Fatal("endpoint still there after the pod's last DEL")
	}
	if n := len(a.written.m); n != 0 {
		t.Fatalf("%d endpoint versions remembered after DEL, want 0", n)
	}
}

func TestLateDelLeavesTheEndpointOfASameNamePodStartedSince(t *testing.T) {
	s, c := newMemStore(), newMemCluster("node1")
	a := agentFor(t, "node1", s, c, testPool("10.6.168.101-10.6.168.110"))
	old := statelessPod("web", poolAnno)
	c.addPod(old)
	if _, err := a.Add(t.Context(), addReq(old, "c1")); err != nil {
		t.Fatal(err)
	}
	// The old pod was force-deleted and a new one of the same name started on
	// another node, whose agent recorded its endpoint before releasing the old
	// incarnation's claim; this node's runtime gets to the old DEL meanwhile.
	key := types.NamespacedName{Namespace: "default", Name: "web"}
	fresh := s.endpoints[key].DeepCopy()
	fresh.Status.Current.UID, fresh.Status.Current.Node = "uid-web-2", "node2"
	if _, err := s.PutEndpoint(t.Context(), fresh); err != nil {
		t.Fatal(err)
	}
	// The API server now has the new incarnation under the name.
	next := statelessPod("web", poolAnno)
	next.UID = "uid-web-2"
	c.addPod(next)
	if err := a.Del(t.Context(), delReq(old, "c1")); err != nil {
		t.Fatal(err)
	}
	if n := len(s.holders()); n != 0 {
		t.Fatalf("%d claims after the old pod's DEL, want 0", n)
	}
	ep, ok := s.endpoints[key]
	if !ok || ep.Status.Current.UID != "uid-web-2" {
		t.Fatalf("endpoint %v after the old pod's DEL, want the new pod's record kept", ep)
	}
}

func TestEndpointOfATwoInterfacePodGoesWithTheLastDel(t *testing.T) {
	s, c := newMemStore(), newMemCluster("node1")
	a := agentFor(t, "node1", s, c, testPool("10.6.168.101-10.6.168.110"))
	pod := statelessPod("web", poolAnno)
	c.addPod(pod)
	key := types.NamespacedName{Namespace: pod.Namespace, Name: pod.Name}
	for _, ifName := range []string{"eth0", "net1"} {
		req := addReq(pod, "c1")
		req.IfName = ifName
		if _, err := a.Add(t.Context(), req); err != nil {
			t.Fatal(err)
		}
	}
	del := func(ifName string) {
		t.Helper()
		req := delReq(pod, "c1")
		req.IfName = ifName
		if err := a.Del(t.Context(), req); err != nil {
			t.Fatal(err)
		}
	}
	c.endPod(pod)
	del("eth0")
	if _, ok := s.endpoints[key]; !ok {
		t.Fatal("endpoint deleted while net1 still holds an address")
	}
	del("net1")
	if _, ok := s.endpoints[key]; ok {
		t.Fatal("endpoint still there after the last interface's DEL")
	}
}

func TestHappyPathCostsTwoWrites(t *testing.T) {
	s, c := newMemStore(), newMemCluster("node1")
	a := agentFor(t, "node1", s, c, testPool("10.6.168.101-10.6.168.110"))
	pod := statelessPod("web", poolAnno)
	c.addPod(pod)
	if _, err := a.Add(t.Context(), addReq(pod, "c1")); err != nil {
		t.Fatal(err)
	}
	if s.writes != 2 {
		t.Fatalf("%d writes for one pod, want 2 (claim + endpoint)", s.writes)
	}
}

func TestReservedAddressesAreNeverHandedOut(t *testing.T) {
	s, c := newMemStore(), newMemCluster("node1")
	a := agentFor(t, "node1", s, c, testPool("10.6.168.131-10.6.168.133"))
	a.index.SetReserved("r", []string{"10.6.168.131-10.6.168.132"})
	p1, p2 := statelessPod("a", poolAnno), statelessPod("b", poolAnno)
	c.addPod(p1)
	c.addPod(p2)
	resp, err := a.Add(t.Context(), addReq(p1, "c1"))
	if err != nil || resp.IPs[0].Address.String() != "10.6.168.133/16" {
		t.Fatalf("first pod: %+v, %v; want 10.6.168.133/16", resp, err)
	}
	_, err = a.Add(t.Context(), addReq(p2, "c2"))
	if err == nil || !strings.Contains(err.Error(), "all IPs have been exhausted (total 3, reserved 2, excluded 0, in use 1)") {
		t.Fatalf("second pod: err = %v, want exhaustion with 2 reserved", err)
	}
}

func TestStatefulSetPodKeepsItsAddressAcrossRestarts(t *testing.T) {
	s, c := newMemStore(), newMemCluster("node1")
	a := agentFor(t, "node1", s, c, testPool("10.6.168.101-10.6.168.110"))
	c.sts[types.NamespacedName{Namespace: "default", Name: "db"}] = &appsv1.StatefulSet{
		ObjectMeta: metav1.ObjectMeta{Namespace: "default", Name: "db", UID: "sts-uid"},
		Spec:       appsv1.StatefulSetSpec{Replicas: ptr.To[int32](2)},
	}
	addresses := map[int]string{}
	for ord := range 2 {
		pod := stsPod("db", ord, "a", poolAnno)
		c.addPod(pod)
		resp, err := a.Add(t.Context(), addReq(pod, fmt.Sprint("a", ord)))
		if err != nil {
			t.Fatal(err)
		}
		addresses[ord] = resp.IPs[0].Address.String()
	}
	// Restart: DEL keeps the claim; the new incarnation gets the same address.
	for ord := range 2 {
		if err := a.Del(t.Context(), delReq(stsPod("db", ord, "a", nil), fmt.Sprint("a", ord))); err != nil {
			t.Fatal(err)
		}
		pod := stsPod("db", ord, "b", poolAnno)
		c.addPod(pod)
		resp, err := a.Add(t.Context(), addReq(pod, fmt.Sprint("b", ord)))
		if err != nil {
			t.Fatal(err)
		}
		if resp.IPs[0].Address.String() != addresses[ord] {
			t.Errorf("ordinal %d: %s after restart, want %s", ord, resp.IPs[0].Address, addresses[ord])
		}
	}
	// Scale down to 1: ordinal 1's address is released on DEL.
	c.sts[types.NamespacedName{Namespace: "default", Name: "db"}].Spec.Replicas = ptr.To[int32](1)
	if err := a.Del(t.Context(), delReq(stsPod("db", 1, "b", nil), "b1")); err != nil {
		t.Fatal(err)
	}
	holders := s.holders()
	if _, ok := holders[strings.TrimSuffix(addresses[1], "/16")]; ok || len(holders) != 1 {
		t.Fatalf("claims after scale-down: %v; want only ordinal 0's", holders)
	}
	if _, ok := s.endpoints[types.NamespacedName{Namespace: "default", Name: "db-1"}]; ok {
		t.Fatal("the endpoint of scaled-down ordinal 1 is left")
	}
	if _, ok := s.endpoints[types.NamespacedName{Namespace: "default", Name: "db-0"}]; !ok {
		t.Fatal("the endpoint of ordinal 0 is gone")
	}
}

func TestOrdinalIPs(t *testing.T) {
	s, c := newMemStore(), newMemCluster("node1")
	a := agentFor(t, "node1", s, c, testPool("10.6.168.101-10.6.168.110"))
	ann := map[string]string{spiderpool.AnnoPool: `{"ipv4":["p"]}`, spiderpool.AnnoOrdinalIPs: "10.6.168.105,10.6.168.103"}
	for ord, want := range []string{"10.6.168.105/16", "10.6.168.103/16"} {
		pod := stsPod("web", ord, "a", ann)
		c.addPod(pod)
		resp, err := a.Add(t.Context(), addReq(pod, fmt.Sprint("c", ord)))
		if err != nil {
			t.Fatal(err)
		}
		if resp.IPs[0].Address.String() != want {
			t.Errorf("ordinal %d got %s, want %s", ord, resp.IPs[0].Address, want)
		}
	}
	pod := stsPod("web", 2, "a", ann)
	c.addPod(pod)
	_, err := a.Add(t.Context(), addReq(pod, "c2"))
	if err == nil || !strings.Contains(err.Error(), "lists 2 IPv4 addresses") {
		t.Fatalf("ordinal 2: err = %v, want it to say the list is too short", err)
	}
}

func TestStatefulSetMovesWhenItsPoolIsNoLongerACandidate(t *testing.T) {
	s, c := newMemStore(), newMemCluster("node1")
	p2 := testPool("10.6.169.1-10.6.169.9")
	p2.Name = "p2"
	a := agentFor(t, "node1", s, c, testPool("10.6.168.101-10.6.168.110"), p2)
	c.sts[types.NamespacedName{Namespace: "default", Name: "db"}] = &appsv1.StatefulSet{
		ObjectMeta: metav1.ObjectMeta{Namespace: "default", Name: "db", UID: "sts-uid"},
		Spec:       appsv1.StatefulSetSpec{Replicas: ptr.To[int32](1)},
	}
	first := stsPod("db", 0, "a", poolAnno)
	c.addPod(first)
	if _, err := a.Add(t.Context(), addReq(first, "a0")); err != nil {
		t.Fatal(err)
	}
	if err := a.Del(t.Context(), delReq(first, "a0")); err != nil {
		t.Fatal(err)
	}
	moved := stsPod("db", 0, "b", map[string]string{spiderpool.AnnoPool: `{"ipv4":["p2"]}`})
	c.addPod(moved)
	resp, err := a.Add(t.Context(), addReq(moved, "b0"))
	if err != nil {
		t.Fatal(err)
	}
	if resp.IPs[0].Pool != "p2" {
		t.Fatalf("restarted pod got %+v, want an address of p2", resp.IPs[0])
	}
	if h := s.holders(); len(h) != 1 {
		t.Fatalf("claims %v: the address in the old pool must be released", h)
	}
}

func TestStatefulSetFeatureOffMakesPodsStateless(t *testing.T) {
	s, c := newMemStore(), newMemCluster("node1")
	a := agentFor(t, "node1", s, c, testPool("10.6.168.101-10.6.168.110"))
	a.cfg.EnableStatefulSet = false
	c.sts[types.NamespacedName{Namespace: "default", Name: "db"}] = &appsv1.StatefulSet{
		ObjectMeta: metav1.ObjectMeta{Namespace: "default", Name: "db", UID: "sts-uid"},
		Spec:       appsv1.StatefulSetSpec{Replicas: ptr.To[int32](1)},
	}
	pod := stsPod("db", 0, "a", poolAnno)
	c.addPod(pod)
	if _, err := a.Add(t.Context(), addReq(pod, "a0")); err != nil {
		t.Fatal(err)
	}
	c.endPod(pod)
	if err := a.Del(t.Context(), delReq(pod, "a0")); err != nil {
		t.Fatal(err)
	}
	if h := s.holders(); len(h) != 0 {
		t.Fatalf("claims after DEL with the feature off: %v, want none", h)
	}
}

func TestRetainOnScaleDownKeepsTheOrdinalsAddress(t *testing.T) {
	s, c := newMemStore(), newMemCluster("node1")
	a := agentFor(t, "node1", s, c, testPool("10.6.168.101-10.6.168.110"))
	sts := &appsv1.StatefulSet{
		ObjectMeta: metav1.ObjectMeta{Namespace: "default", Name: "db", UID: "sts-uid", Annotations: map[string]string{spiderpool.AnnoRetainOnScaleDown: "true"}},
		Spec:       appsv1.StatefulSetSpec{Replicas: ptr.To[int32](2)},
	}
	c.sts[types.NamespacedName{Namespace: "default", Name: "db"}] = sts
	pod := stsPod("db", 1, "a", poolAnno)
	c.addPod(pod)
	before, err := a.Add(t.Context(), addReq(pod, "a1"))
	if err != nil {
		t.Fatal(err)
	}
	sts.Spec.Replicas = ptr.To[int32](1)
	if err := a.Del(t.Context(), delReq(pod, "a1")); err != nil {
		t.Fatal(err)
	}
	sts.Spec.Replicas = ptr.To[int32](2)
	again := stsPod("db", 1, "b", poolAnno)
	c.addPod(again)
	after, err := a.Add(t.Context(), addReq(again, "b1"))
	if err != nil {
		t.Fatal(err)
	}
	if after.IPs[0].Address != before.IPs[0].Address {
		t.Fatalf("ordinal 1 came back with %s, want %s", after.IPs[0].Address, before.IPs[0].Address)
	}
}

func TestMalformedAnnotationChangesNothing(t *testing.T) {
	s, c := newMemStore(), newMemCluster("node1")
	a := agentFor(t, "node1", s, c, testPool("10.6.168.101-10.6.168.110"))
	good := statelessPod("good", poolAnno)
	c.addPod(good)
	if _, err := a.Add(t.Context(), addReq(good, "g")); err != nil {
		t.Fatal(err)
	}
	before := s.holders()
	bad := statelessPod("bad", map[string]string{spiderpool.AnnoPool: `{"ipv4": [p]}`})
	c.addPod(bad)
	_, err := a.Add(t.Context(), addReq(bad, "b"))
	if err == nil || !strings.Contains(err.Error(), spiderpool.AnnoPool) {
		t.Fatalf("err = %v, want it to name %s", err, spiderpool.AnnoPool)
	}
	if diff := cmp.Diff(before, s.holders()); diff != "" {
		t.Fatalf("claims changed (-before +after):\n%s", diff)
	}
}

func TestGatewayRoutesAndCleanGateway(t *testing.T) {
	s, c := newMemStore(), newMemCluster("node1")
	p := testPool("10.6.168.101-10.6.168.110")
	p.Spec.Routes = []v2beta1.Route{{Dst: "172.16.0.0/16", Gw: "10.6.0.254"}}
	a := agentFor(t, "node1", s, c, p)
	pod := statelessPod("r", map[string]string{
		spiderpool.AnnoPool:   `{"ipv4":["p"],"cleangateway":true}`,
		spiderpool.AnnoRoutes: `[{"dst":"10.0.0.0/8","gw":"10.6.0.253"}]`,
	})
	c.addPod(pod)
	resp, err := a.Add(t.Context(), addReq(pod, "r"))
	if err != nil {
		t.Fatal(err)
	}
	want := []spiderpool.Route{
		{Dst: netip.MustParsePrefix("172.16.0.0/16"), GW: netip.MustParseAddr("10.6.0.254")},
		{Dst: netip.MustParsePrefix("10.0.0.0/8"), GW: netip.MustParseAddr("10.6.0.253")},
	}
	if diff := cmp.Diff(want, resp.Routes, cmp.Comparer(func(a, b netip.Prefix) bool { return a == b }), cmp.Comparer(func(a, b netip.Addr) bool { return a == b })); diff != "" {
		t.Errorf("routes (-want +got):\n%s", diff)
	}
	if resp.IPs[0].Gateway.IsValid() {
		t.Errorf("gateway %s with cleangateway, want none", resp.IPs[0].Gateway)
	}
}

func TestCNIGCReleasesOnlyOldUnlistedStatelessClaims(t *testing.T) {
	s, c := newMemStore(), newMemCluster("node1")
	a := agentFor(t, "node1", s, c, testPool("10.6.168.101-10.6.168.110"))
	c.sts[types.NamespacedName{Namespace: "default", Name: "db"}] = &appsv1.StatefulSet{
		ObjectMeta: metav1.ObjectMeta{Namespace: "default", Name: "db", UID: "sts-uid"},
		Spec:       appsv1.StatefulSetSpec{Replicas: ptr.To[int32](1)},
	}
	kept, gone, sts := statelessPod("kept", poolAnno), statelessPod("gone", poolAnno), stsPod("db", 0, "a", poolAnno)
	// between is alive, between two sandboxes: the runtime lists none of it
	// (issue 13, defect 15).
	between := statelessPod("between", poolAnno)
	for i, p := range []*corev1.Pod{kept, gone, sts, between} {
		c.addPod(p)
		if _, err := a.Add(t.Context(), addReq(p, fmt.Sprint("c", i))); err != nil {
			t.Fatal(err)
		}
	}
	c.endPod(gone)
	valid := &GCRequest{Network: "macvlan-ens192", Valid: []Attachment{{ContainerID: "c0", IfName: "eth0"}}}
	created := time.Now()
	for _, cl := range a.index.Claims() {
		cl.CreationTimestamp = metav1.NewTime(created)
	}
	released, err := a.GC(t.Context(), valid, created.Add(30*time.Second))
	if err != nil || len(released) != 0 {
		t.Fatalf("GC of young claims released %v (%v); want nothing", released, err)
	}
	released, err = a.GC(t.Context(), valid, created.Add(2*time.Minute))
	if err != nil {
		t.Fatal(err)
	}
	holders := s.holders()
	if len(released) != 1 || holders[released[0]] != "" {
		t.Fatalf("released %v, claims left %v; want only pod gone's address released", released, holders)
	}
	for _, h := range holders {
		if h == "default/gone" {
			t.Fatalf("claims left %v still hold pod gone's address", holders)
		}
	}
	if len(holders) != 3 {
		t.Fatalf("claims left %v, want kept's, between's and the StatefulSet pod's", holders)
	}
}

func TestUnknownPoolFailsWithTheReason(t *testing.T) {
	s, c := newMemStore(), newMemCluster("node1")
	a := agentFor(t, "node1", s, c, testPool("10.6.168.101-10.6.168.110"))
	pod := statelessPod("x", map[string]string{spiderpool.AnnoPool: `{"ipv4":["no-such-pool"]}`})
	c.addPod(pod)
	_, err := a.Add(t.Context(), addReq(pod, "x"))
	var ae *AllocationError
	if !errors.As(err, &ae) || !strings.Contains(err.Error(), "no-such-pool: no such SpiderIPPool") {
		t.Fatalf("err = %v, want an AllocationError naming the missing pool", err)
	}
}

// Changing ipkeeper.io/ordinal-ips of a running StatefulSet moves the ordinal
// to its new address at its next restart and frees the old one; every later
// restart keeps working (issue 13, defect 1: the old claim stayed held and
// about every second restart failed with "held by pod" the pod itself).
func TestChangingOrdinalIPsMovesTheOrdinalAndFreesTheOldAddress(t *testing.T) {
	s, c := newMemStore(), newMemCluster("node1")
	a := agentFor(t, "node1", s, c, testPool("10.6.168.101-10.6.168.110"))
	c.sts[types.NamespacedName{Namespace: "default", Name: "web"}] = &appsv1.StatefulSet{
		ObjectMeta: metav1.ObjectMeta{Namespace: "default", Name: "web", UID: "sts-uid"},
		Spec:       appsv1.StatefulSetSpec{Replicas: ptr.To[int32](1)},
	}
	ann := func(list string) map[string]string {
		return map[string]string{spiderpool.AnnoPool: `{"ipv4":["p"]}`, spiderpool.AnnoOrdinalIPs: list}
	}
	first := stsPod("web", 0, "a", ann("10.6.168.105"))
	c.addPod(first)
	if got, err := a.Add(t.Context(), addReq(first, "a")); err != nil || got.IPs[0].Address.String() != "10.6.168.105/16" {
		t.Fatalf("first incarnation: %+v, %v; want 10.6.168.105/16", got, err)
	}
	if err := a.Del(t.Context(), delReq(first, "a")); err != nil {
		t.Fatal(err)
	}
	for _, incarnation := range []string{"b", "c", "d", "e", "f", "g"} {
		pod := stsPod("web", 0, incarnation, ann("10.6.168.106"))
		c.addPod(pod)
		got, err := a.Add(t.Context(), addReq(pod, incarnation))
		if err != nil {
			t.Fatalf("incarnation %s: %v", incarnation, err)
		}
		if got.IPs[0].Address.String() != "10.6.168.106/16" {
			t.Fatalf("incarnation %s got %s, want the newly listed 10.6.168.106/16", incarnation, got.IPs[0].Address)
		}
		if diff := cmp.Diff(map[string]string{"10.6.168.106": "default/web-0"}, s.holders()); diff != "" {
			t.Fatalf("incarnation %s: claims (-want +got):\n%s", incarnation, diff)
		}
		if err := a.Del(t.Context(), delReq(pod, incarnation)); err != nil {
			t.Fatal(err)
		}
	}
}

// A DEL whose runtime did not name the pod releases by sandbox and interface,
// and then deletes the endpoint of the pod that held the address, not one
// under an empty name (issue 13, defect 10).
func TestDelWithoutPodNameDeletesTheHoldersEndpoint(t *testing.T) {
	s, c := newMemStore(), newMemCluster("node1")
	a := agentFor(t, "node1", s, c, testPool("10.6.168.101-10.6.168.110"))
	pod := statelessPod("web", map[string]string{spiderpool.AnnoPool: `{"ipv4":["p"]}`})
	c.addPod(pod)
	if _, err := a.Add(t.Context(), addReq(pod, "c1")); err != nil {
		t.Fatal(err)
	}
	c.endPod(pod)
	if err := a.Del(t.Context(), &DelRequest{Attachment: Attachment{ContainerID: "c1", IfName: "eth0"}}); err != nil {
		t.Fatal(err)
	}
	if n := len(s.holders()); n != 0 {
		t.Fatalf("%d claims left, want the sandbox's released", n)
	}
	if _, ok := s.endpoints[types.NamespacedName{Namespace: "default", Name: "web"}]; ok {
		t.Fatal("the endpoint of default/web is left after its last DEL")
	}
}

// A route of ipam.spidernet.io/routes that a single-interface pod cannot
// use (its next hop is outside the pod's subnet) or that is malformed is
// refused with the entry named, and no address is taken (issue 13,
// defect 7); it used to be dropped silently.
func TestBadRouteAnnotationsAreRefused(t *testing.T) {
	for value, want := range map[string]string{
		`[{"dst":"192.168.0.0/16","gw":"172.31.0.1"}]`: "gw 172.31.0.1 is in none of the subnets of interface eth0 (10.6.0.0/16)",
		`[{"dst":"0.0.0.0/0","gw":"10.6.0.253"}]`:      "is a default route",
		`[{"dst":"10.0.0.0/8","gw":"10.6.0.253"}`:      "not valid JSON",
	} {
		s, c := newMemStore(), newMemCluster("node1")
		a := agentFor(t, "node1", s, c, testPool("10.6.168.101-10.6.168.110"))
		pod := statelessPod("r", map[string]string{spiderpool.AnnoPool: `{"ipv4":["p"]}`, spiderpool.AnnoRoutes: value})
		c.addPod(pod)
		_, err := a.Add(t.Context(), addReq(pod, "r"))
		var ae *spiderpool.AnnotationError
		if !errors.As(err, &ae) || ae.Key != spiderpool.AnnoRoutes || !strings.Contains(ae.Reason, want) {
			t.Errorf("routes %s: err = %v, want an AnnotationError on %s containing %q", value, err, spiderpool.AnnoRoutes, want)
		}
		if n := len(s.holders()); n != 0 {
			t.Errorf("routes %s: %d claims left, want none", value, n)
		}
	}
}

// A create whose answer is lost (a time-out after the API server committed
// it) must not make the agent take a second address for the interface: it
// reads the claim back and keeps the one it made (issue 13, defect 11).
func TestACreateCommittedWithoutAnAnswerIsNotTakenTwice(t *testing.T) {
	s, c := newMemStore(), newMemCluster("node1")
	a := agentFor(t, "node1", s, c, testPool("10.6.168.101-10.6.168.110"))
	pod := statelessPod("p", map[string]string{spiderpool.AnnoPool: `{"ipv4":["p"]}`})
	c.addPod(pod)
	s.lostAnswers = 1
	got, err := a.Add(t.Context(), addReq(pod, "c1"))
	if err != nil {
		t.Fatalf("ADD after a lost answer: %v", err)
	}
	again, err := a.Add(t.Context(), addReq(pod, "c1"))
	if err != nil || again.IPs[0].Address != got.IPs[0].Address {
		t.Fatalf("repeated ADD: %+v, %v; want %s again", again, err, got.IPs[0].Address)
	}
	if n := len(s.holders()); n != 1 {
		t.Fatalf("%d claims for one interface, want 1: %v", n, s.holders())
	}
}

// When the read-back after a lost answer fails too (the API server went
// away, not only the answer), the ADD fails, and the runtime tears the
// sandbox down and tries a new one before the agent's informer has seen the
// claim: the new ADD must find the claim the first one may have made, not
// take a second address for the pod, which a later sandbox of the pod could
// then swap for the first (found by the chaos run: a re-created sandbox was
// given another address than the pod had).
func TestACreateWhoseOutcomeIsUnknownIsReadBackByTheNextAdd(t *testing.T) {
	s, c := newMemStore(), newMemCluster("node1")
	a := agentFor(t, "node1", s, c, testPool("10.6.168.101-10.6.168.110"))
	pod := statelessPod("p", poolAnno)
	c.addPod(pod)
	s.lostAnswers, s.failedGets = 1, 1
	if _, err := a.Add(t.Context(), addReq(pod, "c1")); err == nil {
		t.Fatal("ADD whose create and read-back both failed succeeded")
	}
	if err := a.Del(t.Context(), delReq(pod, "c1")); err != nil {
		t.Fatalf("DEL of the failed sandbox: %v", err)
	}
	// The next ADD, while the API server is still away: it fails, and
	// takes nothing new.
	s.failedGets = 1
	if _, err := a.Add(t.Context(), addReq(pod, "c2")); err == nil {
		t.Fatal("ADD succeeded while an earlier claim's outcome could not be read")
	}
	if n := len(s.holders()); n != 1 {
		t.Fatalf("%d claims for one interface after the second ADD failed, want 1: %v", n, s.holders())
	}
	got, err := a.Add(t.Context(), addReq(pod, "c3"))
	if err != nil {
		t.Fatalf("ADD once the API server is back: %v", err)
	}
	if n := len(s.holders()); n != 1 {
		t.Fatalf("%d claims for one interface, want 1: %v", n, s.holders())
	}
	if _, ok := s.holders()[got.IPs[0].Address.Addr().String()]; !ok {
		t.Fatalf("ADD gave %s, not the address of the claim made: %v", got.IPs[0].Address, s.holders())
	}
	// The sandbox after that keeps it.
	if err := a.Del(t.Context(), delReq(pod, "c3")); err != nil {
		t.Fatal(err)
	}
	again, err := a.Add(t.Context(), addReq(pod, "c4"))
	if err != nil || again.IPs[0].Address != got.IPs[0].Address {
		t.Fatalf("re-created sandbox: %+v, %v; want %s", again, err, got.IPs[0].Address)
	}
}

// A stateless pod whose sandbox is re-created (same UID, new container ID)
// keeps its address whatever the order of the old sandbox's DEL and the new
// ADD: a live pod's DEL keeps the claim, the new ADD takes it over (one
// update, no new claim), and the old sandbox's DEL, coming late, frees
// nothing the new one holds (issue 13, defect 15).
func TestRecreatedSandboxKeepsTheAddress(t *testing.T) {
	for _, delFirst := range []bool{false, true} {
		t.Run(fmt.Sprintf("old DEL first %v", delFirst), func(t *testing.T) {
			s, c := newMemStore(), newMemCluster("node1")
			a := agentFor(t, "node1", s, c, testPool("10.6.168.101-10.6.168.110"))
			pod := statelessPod("web", poolAnno)
			c.addPod(pod)
			first, err := a.Add(t.Context(), addReq(pod, "old"))
			if err != nil {
				t.Fatal(err)
			}
			key := types.NamespacedName{Namespace: pod.Namespace, Name: pod.Name}
			claimUID := a.index.ClaimsOf(key)[0].UID
			if delFirst {
				if err := a.Del(t.Context(), delReq(pod, "old")); err != nil {
					t.Fatal(err)
				}
				if n := len(s.holders()); n != 1 {
					t.Fatalf("%d claims after the live pod's DEL, want its claim kept", n)
				}
			}
			again, err := a.Add(t.Context(), addReq(pod, "new"))
			if err != nil {
				t.Fatal(err)
			}
			if again.IPs[0].Address != first.IPs[0].Address {
				t.Fatalf("re-created sandbox got %s, the pod had %s", again.IPs[0].Address, first.IPs[0].Address)
			}
			if err := a.Del(t.Context(), delReq(pod, "old")); err != nil {
				t.Fatal(err)
			}
			claims := a.index.ClaimsOf(key)
			if len(claims) != 1 || claims[0].Spec.Holder.ContainerID != "new" || claims[0].UID != claimUID {
				t.Fatalf("claims after the old sandbox's DEL: %+v, want the first claim (uid %s), taken over by sandbox new", claims, claimUID)
			}
			if err := a.Check(t.Context(), &CheckRequest{Attachment: Attachment{ContainerID: "new", IfName: "eth0"}, Pod: addReq(pod, "new").Pod,
				IPs: []netip.Addr{first.IPs[0].Address.Addr()}}); err != nil {
				t.Fatalf("CHECK of the new sandbox: %v", err)
			}
			c.endPod(pod)
			if err := a.Del(t.Context(), delReq(pod, "new")); err != nil {
				t.Fatal(err)
			}
			if n := len(s.holders()); n != 0 {
				t.Fatalf("%d claims after the deleted pod's DEL, want 0", n)
			}
		})
	}
}

// A StatefulSet pod restarted on another node keeps its ordinal's address:
// the new node's agent knows the claim only by its address (its index holds
// other nodes' claims by metadata) and reads the pod's claims from the API
// server; the old node's agent keeps the address taken.
func TestStatefulSetPodTakesItsAddressToAnotherNode(t *testing.T) {
	s := newMemStore()
	c1, c2 := newMemCluster("node1"), newMemCluster("node2")
	pool := testPool("10.6.168.101-10.6.168.110")
	a1, a2 := agentFor(t, "node1", s, c1, pool), agentFor(t, "node2", s, c2, pool)
	sts := &appsv1.StatefulSet{
		ObjectMeta: metav1.ObjectMeta{Namespace: "default", Name: "db", UID: "sts-uid"},
		Spec:       appsv1.StatefulSetSpec{Replicas: ptr.To[int32](1)},
	}
	c1.sts[types.NamespacedName{Namespace: "default", Name: "db"}] = sts
	c2.sts[types.NamespacedName{Namespace: "default", Name: "db"}] = sts
	first := stsPod("db", 0, "a", poolAnno)
	c1.addPod(first)
	resp, err := a1.Add(t.Context(), addReq(first, "a0"))
	if err != nil {
		t.Fatal(err)
	}
	want := resp.IPs[0].Address
	if got := a2.index.ClaimsOf(types.NamespacedName{Namespace: "default", Name: "db-0"}); len(got) != 0 {
		t.Fatalf("node2's index holds node1's claim whole: %v", got)
	}
	// The pod is re-created on node2; node1's runtime has not run DEL yet.
	second := stsPod("db", 0, "b", poolAnno)
	c1.addPod(second)
	c2.addPod(second)
	resp, err = a2.Add(t.Context(), addReq(second, "b0"))
	if err != nil {
		t.Fatal(err)
	}
	if resp.IPs[0].Address != want {
		t.Fatalf("db-0 on node2 got %s, want its ordinal's %s", resp.IPs[0].Address, want)
	}
	// node1's late DEL of the old sandbox releases nothing, and node1 does
	// not offer the address.
	if err := a1.Del(t.Context(), delReq(first, "a0")); err != nil {
		t.Fatal(err)
	}
	if h := s.holders(); len(h) != 1 || h[want.Addr().String()] != "default/db-0" {
		t.Fatalf("claims after node1's DEL: %v, want db-0's only", h)
	}
	if !a1.index.taken[0].Contains(want.Addr()) {
		t.Fatal("node1's index offers the address db-0 holds on node2")
	}
}

// An edit that takes an address out of a pool is checked by the webhook
// against the claims that exist; an allocation of that very address in
// flight at the time commits after it. The agent, once its index knows the
// edit, gives such a claim back and takes an address the pool still has.
func TestAClaimThePoolNoLongerAllowsWhenItCommitsIsGivenBack(t *testing.T) {
	s, c := newMemStore(), newMemCluster("node1")
	pool := testPool("10.6.168.101-10.6.168.110")
	a := agentFor(t, "node1", s, c, pool)
	var removed string
	s.created = func(cl *v1alpha1.IPClaim) {
		if removed != "" {
			return
		}
		removed = cl.Spec.Address
		edited := pool.DeepCopy()
		edited.Spec.ExcludeIPs = []string{removed}
		a.index.SetPool(edited) // the agent's informer delivers the edit
	}
	pod := statelessPod("web", poolAnno)
	c.addPod(pod)
	resp, err := a.Add(t.Context(), addReq(pod, "c1"))
	if err != nil {
		t.Fatal(err)
	}
	if got := resp.IPs[0].Address.Addr().String(); got == removed {
		t.Fatalf("web was given %s, which the pool excluded while its claim was in flight", got)
	}
	if h := s.holders(); len(h) != 1 || h[removed] != "" {
		t.Fatalf("claims %v: want one, not on the excluded %s", h, removed)
	}
}
