//go:build integration

package integration

import (
	"context"
	"fmt"
	"maps"
	"net/netip"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/go-logr/logr/funcr"
	appsv1 "k8s.io/api/apps/v1"
	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/types"
	"k8s.io/utils/ptr"
	ctrl "sigs.k8s.io/controller-runtime"
	"sigs.k8s.io/controller-runtime/pkg/client"

	"github.com/ipkeeper/ipkeeper/api/ipkeeper/v1alpha1"
	"github.com/ipkeeper/ipkeeper/api/v2beta1"
	"github.com/ipkeeper/ipkeeper/internal/controller/autopool"
	"github.com/ipkeeper/ipkeeper/internal/ipnet"
)

// apTimeout bounds every wait on the controller in these tests.
const apTimeout = 60 * time.Second

// startAutoPool runs the autopool reconciler in-process in its own manager
// until the test ends or stop is called. Tests that use it must not run in
// parallel: one controller carves at a time, as under leader election.
func apStart(t *testing.T) (stop func()) {
	t.Helper()
	// Log through t while the test runs; a straggling goroutine must not
	// log through a finished test.
	var alive atomic.Bool
	alive.Store(true)
	t.Cleanup(func() { alive.Store(false) })
	log := funcr.New(func(prefix, args string) {
		if alive.Load() {
			t.Log(prefix, args)
		}
	}, funcr.Options{})
	return runManager(t, log, func(mgr ctrl.Manager) error {
		r := &autopool.Reconciler{Client: mgr.GetClient(), APIReader: mgr.GetAPIReader(), Recorder: mgr.GetEventRecorder("ipkeeper-autopool")}
		return r.SetupWithManager(mgr)
	})
}

func apSubnet(name, cidr string, ips ...string) *v2beta1.SpiderSubnet {
	return &v2beta1.SpiderSubnet{ObjectMeta: metav1.ObjectMeta{Name: name}, Spec: v2beta1.SpiderSubnetSpec{Subnet: cidr, IPs: ips}}
}

func apPodTemplate(app string, ann map[string]string) corev1.PodTemplateSpec {
	return corev1.PodTemplateSpec{
		ObjectMeta: metav1.ObjectMeta{Labels: map[string]string{"app": app}, Annotations: ann},
		Spec: corev1.PodSpec{AutomountServiceAccountToken: ptr.To(false),
			Containers: []corev1.Container{{Name: app, Image: "nginx"}}},
	}
}

func apDeployment(ns, name string, replicas int32, ann map[string]string) *appsv1.Deployment {
	return &appsv1.Deployment{
		ObjectMeta: metav1.ObjectMeta{Namespace: ns, Name: name},
		Spec: appsv1.DeploymentSpec{Replicas: ptr.To(replicas),
			Selector: &metav1.LabelSelector{MatchLabels: map[string]string{"app": name}},
			Template: apPodTemplate(name, ann)},
	}
}

func apSubnetAnno(subnet, size string) map[string]string {
	ann := map[string]string{"ipam.spidernet.io/subnet": fmt.Sprintf(`{"ipv4":[%q]}`, subnet)}
	if size != "" {
		ann["ipam.spidernet.io/ippool-ip-number"] = size
	}
	return ann
}

// poolsOwnedBy lists the automatic pools whose owner-uid is uid.
func apPoolsOwnedBy(ctx context.Context, uid types.UID) ([]v2beta1.SpiderIPPool, error) {
	var list v2beta1.SpiderIPPoolList
	err := env.client.List(ctx, &list, client.MatchingLabels{autopool.LabelOwnerUID: string(uid)})
	return list.Items, err
}

// waitPool waits until uid owns exactly one pool and ok accepts it.
func apWaitPool(t *testing.T, what string, uid types.UID, ok func(p *v2beta1.SpiderIPPool, ips ipnet.Set) bool) (*v2beta1.SpiderIPPool, ipnet.Set) {
	t.Helper()
	var (
		last *v2beta1.SpiderIPPool
		set  ipnet.Set
	)
	poll(t, apTimeout, what, func(ctx context.Context) (bool, error) {
		pools, err := apPoolsOwnedBy(ctx, uid)
		if err != nil || len(pools) != 1 {
			return false, err
		}
		last = &pools[0]
		if set, err = ipnet.ParseSet(last.Spec.IPs); err != nil {
			return false, err
		}
		return ok(last, set), nil
	})
	return last, set
}

func apSized(n uint64) func(*v2beta1.SpiderIPPool, ipnet.Set) bool {
	return func(_ *v2beta1.SpiderIPPool, s ipnet.Set) bool {
		c, _ := s.CountUint64()
		return c == n
	}
}

func apScale(t *testing.T, d *appsv1.Deployment, replicas int32) {
	t.Helper()
	patch := client.MergeFrom(d.DeepCopy())
	d.Spec.Replicas = ptr.To(replicas)
	if err := env.client.Patch(t.Context(), d, patch); err != nil {
		t.Fatalf("scale %s to %d: %v", d.Name, replicas, err)
	}
}

func apWaitGone(t *testing.T, obj client.Object) {
	t.Helper()
	poll(t, apTimeout, fmt.Sprintf("%T %s deleted", obj, obj.GetName()), func(ctx context.Context) (bool, error) {
		err := env.client.Get(ctx, client.ObjectKeyFromObject(obj), obj)
		return apierrors.IsNotFound(err), client.IgnoreNotFound(err)
	})
}

// waitEvent waits for an event of reason on the named object whose message
// contains every part.
func apWaitEvent(t *testing.T, ns, kind, name, reason string, parts ...string) corev1.Event {
	t.Helper()
	var found corev1.Event
	poll(t, apTimeout, reason+" event on "+kind+" "+name, func(ctx context.Context) (bool, error) {
		var events corev1.EventList
		if err := env.client.List(ctx, &events, client.InNamespace(ns)); err != nil {
			return false, err
		}
		for _, e := range events.Items {
			if e.InvolvedObject.Kind != kind || e.InvolvedObject.Name != name || e.Reason != reason {
				continue
			}
			if !slices.ContainsFunc(parts, func(p string) bool { return !strings.Contains(e.Message, p) }) {
				found = e
				return true, nil
			}
		}
		return false, nil
	})
	return found
}

// claim creates the IPClaim an agent would for addr in pool.
func apClaim(t *testing.T, pool string, addr netip.Addr, holder string) {
	t.Helper()
	mustCreate(t, &v1alpha1.IPClaim{
		ObjectMeta: metav1.ObjectMeta{Name: addr.String(), Labels: map[string]string{v1alpha1.LabelPool: pool, v1alpha1.LabelNode: "node-x"}},
		Spec: v1alpha1.IPClaimSpec{Address: addr.String(), Pool: pool, Node: "node-x",
			Holder: v1alpha1.ClaimHolder{Namespace: "x", Name: holder, UID: types.UID("uid-" + holder), Interface: "eth0"},
			Owner:  v1alpha1.ClaimOwner{Kind: "Deployment", Name: "nginx"}},
	})
}

func apAddrs(s ipnet.Set) []netip.Addr {
	var out []netip.Addr
	for _, r := range s.Ranges() {
		for a := r.First; a.Compare(r.Last) <= 0; a = a.Next() {
			out = append(out, a)
		}
	}
	return out
}

func TestIntegrationAutoPoolSeed004(t *testing.T) {
	const ns, subnet = "autopool-seed", "nginx-subnet-v4"
	namespace(t, ns)
	mustCreate(t, apSubnet(subnet, "10.244.0.0/16", "10.244.0.1-10.244.100.255"))
	apStart(t)

	d := apDeployment(ns, "nginx", 2, apSubnetAnno(subnet, "+3"))
	mustCreate(t, d)
	p, first := apWaitPool(t, "auto pool of 5", d.UID, apSized(5))
	if want := autopool.PoolName(4, "nginx", "eth0", d.UID); p.Name != want || !strings.HasPrefix(p.Name, "auto4-nginx-eth0-") {
		t.Errorf("pool name %q, want %q", p.Name, want)
	}
	wantLabels := map[string]string{
		autopool.LabelOwnerUID: string(d.UID), autopool.LabelInterface: "eth0", autopool.LabelAutoPool: "true",
		autopool.LabelOwnerKind: "Deployment", autopool.LabelOwnerNamespace: ns, autopool.LabelOwnerName: "nginx",
	}
	for k, v := range wantLabels {
		if p.Labels[k] != v {
			t.Errorf("label %s = %q, want %q", k, p.Labels[k], v)
		}
	}
	if p.Spec.Subnet != "10.244.0.0/16" || p.Spec.IPVersion == nil || *p.Spec.IPVersion != 4 {
		t.Errorf("spec.subnet %q, ipVersion %v", p.Spec.Subnet, p.Spec.IPVersion)
	}
	if p.Spec.PodAffinity == nil || !maps.Equal(p.Spec.PodAffinity.MatchLabels, map[string]string{"app": "nginx"}) {
		t.Errorf("podAffinity %v, want app=nginx", p.Spec.PodAffinity)
	}
	if ref := metav1.GetControllerOf(p); ref == nil || ref.Kind != "SpiderSubnet" || ref.Name != subnet {
		t.Errorf("owner references %v, want the SpiderSubnet", p.OwnerReferences)
	}
	inSubnet := apSet(t, "10.244.0.1-10.244.100.255")
	if !first.Difference(inSubnet).IsEmpty() {
		t.Errorf("pool ips %s outside the subnet's ips", first)
	}

	apScale(t, d, 3)
	_, grown := apWaitPool(t, "auto pool of 6", d.UID, apSized(6))
	if !first.Difference(grown).IsEmpty() {
		t.Errorf("growing dropped addresses: %s -> %s", first, grown)
	}

	apScale(t, d, 1)
	p, shrunk := apWaitPool(t, "auto pool of 4", d.UID, apSized(4))

	// Claim the three highest addresses: shrinking prefers to drop the
	// highest, so it must now drop the lowest instead.
	held := apAddrs(shrunk)[1:]
	for i, a := range held {
		apClaim(t, p.Name, a, fmt.Sprintf("nginx-%d", i))
	}
	t.Cleanup(func() {
		for _, a := range held {
			_ = env.client.Delete(context.Background(), &v1alpha1.IPClaim{ObjectMeta: metav1.ObjectMeta{Name: a.String()}})
		}
	})
	apScale(t, d, 0)
	_, last := apWaitPool(t, "auto pool of the 3 claimed addresses", d.UID, apSized(3))
	for _, a := range held {
		if !last.Contains(a) {
			t.Errorf("claimed address %s was removed from the pool: %s", a, last)
		}
	}

	// The pool stays while addresses of it are held (pods left running by
	// a delete with --cascade=orphan; issue 13, defect 9), and goes once
	// the last is released (here by hand: no agent or collector runs).
	if err := env.client.Delete(t.Context(), d); err != nil {
		t.Fatal(err)
	}
	apWaitGone(t, d)
	if err := env.client.Get(t.Context(), client.ObjectKeyFromObject(p), p); err != nil || p.DeletionTimestamp != nil {
		t.Fatalf("automatic pool after its workload went, with addresses held: %v (deleting %v), want it kept", err, p.DeletionTimestamp)
	}
	for _, a := range held {
		if err := env.client.Delete(t.Context(), &v1alpha1.IPClaim{ObjectMeta: metav1.ObjectMeta{Name: a.String()}}); err != nil {
			t.Fatal(err)
		}
	}
	apWaitGone(t, p)
}

func TestIntegrationAutoPoolStatefulSetFixedSizeAndDualStack(t *testing.T) {
	const ns = "autopool-sts"
	namespace(t, ns)
	mustCreate(t, apSubnet("ap-sts-v4", "10.245.0.0/16", "10.245.1.0-10.245.1.255"),
		apSubnet("ap-sts-v6", "fd00:245::/64", "fd00:245::100-fd00:245::1ff"))
	apStart(t)

	sts := &appsv1.StatefulSet{
		ObjectMeta: metav1.ObjectMeta{Namespace: ns, Name: "db"},
		Spec: appsv1.StatefulSetSpec{Replicas: ptr.To[int32](3), ServiceName: "db",
			Selector: &metav1.LabelSelector{MatchLabels: map[string]string{"app": "db"}},
			Template: apPodTemplate("db", map[string]string{
				"ipam.spidernet.io/subnets":          `[{"ipv4":["ap-sts-v4"]},{"ipv4":["ap-sts-v4"],"ipv6":["ap-sts-v6"]}]`,
				"ipam.spidernet.io/ippool-ip-number": "2",
			})},
	}
	mustCreate(t, sts)
	var pools []v2beta1.SpiderIPPool
	poll(t, apTimeout, "three pools of 2", func(ctx context.Context) (bool, error) {
		var err error
		pools, err = apPoolsOwnedBy(ctx, sts.UID)
		if err != nil || len(pools) != 3 {
			return false, err
		}
		for _, p := range pools {
			s, err := ipnet.ParseSet(p.Spec.IPs)
			if n, _ := s.CountUint64(); err != nil || n != 2 {
				return false, err
			}
		}
		return true, nil
	})
	var names []string
	all := ipnet.Set{}
	for _, p := range pools {
		names = append(names, p.Name)
		if s, _ := ipnet.ParseSet(p.Spec.IPs); s.Family() == 4 {
			if !all.Intersect(s).IsEmpty() {
				t.Errorf("pools of one subnet overlap: %s and %s", all, s)
			}
			all, _ = all.Union(s)
		}
	}
	slices.Sort(names)
	// As Spiderpool: the first 5 characters of the UID's last part.
	uid5 := string(sts.UID)[strings.LastIndex(string(sts.UID), "-")+1:][:5]
	want := []string{"auto4-db-eth0-" + uid5, "auto4-db-net1-" + uid5, "auto6-db-net1-" + uid5}
	if !slices.Equal(names, want) {
		t.Errorf("pools %v, want %v", names, want)
	}
}

func TestIntegrationAutoPoolKeptAndAdopted(t *testing.T) {
	const ns, subnet = "autopool-keep", "ap-keep-v4"
	namespace(t, ns)
	mustCreate(t, apSubnet(subnet, "10.246.0.0/16", "10.246.0.1-10.246.0.200"))
	apStart(t)

	keepAnn := apSubnetAnno(subnet, "+1")
	keepAnn["ipam.spidernet.io/ippool-reclaim"] = "false"
	kept := apDeployment(ns, "kept", 2, keepAnn)
	control := apDeployment(ns, "control", 1, apSubnetAnno(subnet, ""))
	mustCreate(t, kept, control)
	keptPool, keptIPs := apWaitPool(t, "pool of kept", kept.UID, apSized(3))
	controlPool, _ := apWaitPool(t, "pool of control", control.UID, apSized(2))

	for _, d := range []*appsv1.Deployment{kept, control} {
		if err := env.client.Delete(t.Context(), d); err != nil {
			t.Fatal(err)
		}
	}
	// The control pool going shows that the deletions were handled.
	apWaitGone(t, controlPool)
	if err := env.client.Get(t.Context(), client.ObjectKeyFromObject(keptPool), &v2beta1.SpiderIPPool{}); err != nil {
		t.Fatalf("pool of a workload with ippool-reclaim false: %v", err)
	}

	again := apDeployment(ns, "kept", 2, keepAnn)
	mustCreate(t, again)
	adopted, ips := apWaitPool(t, "kept pool adopted by the new Deployment", again.UID, apSized(3))
	if adopted.Name != keptPool.Name || !ips.Equal(keptIPs) {
		t.Errorf("adopted %s %s, want %s %s", adopted.Name, ips, keptPool.Name, keptIPs)
	}
	apScale(t, again, 4)
	apWaitPool(t, "adopted pool resized", again.UID, apSized(5))
}

func TestIntegrationAutoPoolSubnetExhausted(t *testing.T) {
	const ns, subnet = "autopool-small", "ap-small-v4"
	namespace(t, ns)
	small := apSubnet(subnet, "10.247.0.0/24", "10.247.0.10-10.247.0.12")
	mustCreate(t, small)
	apStart(t)

	d := apDeployment(ns, "big", 2, apSubnetAnno(subnet, "+3"))
	mustCreate(t, d)
	apWaitEvent(t, ns, "Deployment", "big", autopool.ReasonSubnetExhausted, subnet, "5 more addresses required, 3 free")
	if pools, err := apPoolsOwnedBy(t.Context(), d.UID); err != nil || len(pools) != 0 {
		t.Fatalf("pools of an exhausted subnet: %v, %v", pools, err)
	}

	patch := client.MergeFrom(small.DeepCopy())
	small.Spec.IPs = []string{"10.247.0.10-10.247.0.20"}
	if err := env.client.Patch(t.Context(), small, patch); err != nil {
		t.Fatal(err)
	}
	apWaitPool(t, "pool once the subnet grew", d.UID, apSized(5))
}

func TestIntegrationAutoPoolConcurrentWorkloadsAreDisjoint(t *testing.T) {
	const ns, subnet, n = "autopool-race", "ap-race-v4", 8
	namespace(t, ns)
	mustCreate(t, apSubnet(subnet, "10.248.0.0/16", "10.248.0.1-10.248.0.200"))
	stop := apStart(t)

	deps := make([]*appsv1.Deployment, n)
	var wg sync.WaitGroup
	for i := range deps {
		deps[i] = apDeployment(ns, fmt.Sprintf("app-%d", i), 3, apSubnetAnno(subnet, "+2"))
		wg.Go(func() {
			if err := env.client.Create(t.Context(), deps[i]); err != nil {
				t.Errorf("create %s: %v", deps[i].Name, err)
			}
		})
	}
	wg.Wait()
	if t.Failed() {
		t.FailNow()
	}
	checkDisjoint := func(size uint64) {
		t.Helper()
		var all ipnet.Set
		for _, d := range deps {
			_, s := apWaitPool(t, "pool of "+d.Name, d.UID, apSized(size))
			if !all.Intersect(s).IsEmpty() {
				t.Fatalf("pool of %s %s overlaps another pool: %s", d.Name, s, all.Intersect(s))
			}
			all, _ = all.Union(s)
		}
	}
	checkDisjoint(5)

	// A restarted controller carves from what the API server holds.
	stop()
	apStart(t)
	for _, d := range deps {
		wg.Go(func() {
			patch := client.MergeFrom(d.DeepCopy())
			d.Spec.Replicas = ptr.To[int32](6)
			if err := env.client.Patch(t.Context(), d, patch); err != nil {
				t.Errorf("scale %s: %v", d.Name, err)
			}
		})
	}
	wg.Wait()
	if t.Failed() {
		t.FailNow()
	}
	checkDisjoint(8)
}

func TestIntegrationAutoPoolThirdPartyController(t *testing.T) {
	const ns, subnet = "autopool-3p", "ap-3p-v4"
	namespace(t, ns)
	// Pods left behind would have a later controller, run with the chart's
	// roles (no grant on ConfigMaps), fail to read their owner for ever.
	t.Cleanup(func() {
		err := env.client.DeleteAllOf(context.Background(), &corev1.Pod{}, client.InNamespace(ns), client.GracePeriodSeconds(0))
		if err != nil {
			t.Errorf("delete the pods of %s: %v", ns, err)
		}
	})
	mustCreate(t, apSubnet(subnet, "10.249.0.0/16", "10.249.0.1-10.249.0.200"))
	apStart(t)

	// A ConfigMap stands in for a third-party controller: any kind that is
	// not a built-in workload.
	owner := &corev1.ConfigMap{ObjectMeta: metav1.ObjectMeta{Namespace: ns, Name: "widget"}}
	unsized := &corev1.ConfigMap{ObjectMeta: metav1.ObjectMeta{Namespace: ns, Name: "unsized"}}
	mustCreate(t, owner, unsized)
	pod := func(name string, o *corev1.ConfigMap, size string) *corev1.Pod {
		tmpl := apPodTemplate(name, apSubnetAnno(subnet, size))
		ref := metav1.OwnerReference{APIVersion: "v1", Kind: "ConfigMap", Name: o.Name, UID: o.UID, Controller: ptr.To(true)}
		p := &corev1.Pod{ObjectMeta: tmpl.ObjectMeta, Spec: tmpl.Spec}
		p.Namespace, p.Name, p.OwnerReferences = ns, name, []metav1.OwnerReference{ref}
		return p
	}
	mustCreate(t, pod("widget-0", owner, "2"), pod("widget-1", owner, "2"), pod("unsized-0", unsized, ""))
	bare := &corev1.Pod{ObjectMeta: metav1.ObjectMeta{Namespace: ns, Name: "bare", Annotations: apSubnetAnno(subnet, "2")},
		Spec: apPodTemplate("bare", nil).Spec}
	mustCreate(t, bare)

	p, _ := apWaitPool(t, "pool of 2 for the third-party owner", owner.UID, apSized(2))
	if p.Labels[autopool.LabelOwnerKind] != "ConfigMap" || p.Labels[autopool.LabelOwnerName] != "widget" {
		t.Errorf("labels %v", p.Labels)
	}
	apWaitEvent(t, ns, "Pod", "unsized-0", autopool.ReasonFixedIPNumberRequired, "ipam.spidernet.io/ippool-ip-number")
	apWaitEvent(t, ns, "Pod", "bare", autopool.ReasonNoController)

	if err := env.client.Delete(t.Context(), owner); err != nil {
		t.Fatal(err)
	}
	apWaitGone(t, p)
}

func apSet(t *testing.T, entries ...string) ipnet.Set {
	t.Helper()
	s, err := ipnet.ParseSet(entries)
	if err != nil {
		t.Fatal(err)
	}
	return s
}
