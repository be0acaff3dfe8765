//go:build integration

package integration

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"maps"
	"net/netip"
	"os/exec"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/go-logr/logr/testr"
	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	"k8s.io/apimachinery/pkg/api/meta"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/types"
	"k8s.io/utils/ptr"
	ctrl "sigs.k8s.io/controller-runtime"
	"sigs.k8s.io/controller-runtime/pkg/client"

	"github.com/ipkeeper/ipkeeper/api/ipkeeper/v1alpha1"
	"github.com/ipkeeper/ipkeeper/api/v2beta1"
	"github.com/ipkeeper/ipkeeper/internal/agentapi"
	"github.com/ipkeeper/ipkeeper/internal/controller/spiderpoolimport"
)

const importNode = "import-node"

// TestIntegrationSpiderpoolImport writes the state Spiderpool leaves behind —
// pools with status.allocatedIPs, SpiderEndpoints in its format — for a bare
// dual-stack pod, a running StatefulSet pod, two StatefulSet ordinals whose
// pods are away and a pod that is gone; then imports it, imports it again,
// lets an agent fill the pool, and has the controller refuse records that
// disagree.
func TestIntegrationSpiderpoolImport(t *testing.T) {
	const ns = "sp-import"
	namespace(t, ns)
	cleanupImportPools(t, "sp-import-v4", "sp-import-v6", "sp-import-conflict")
	mustCreate(t, &corev1.Node{ObjectMeta: metav1.ObjectMeta{Name: importNode}})
	t.Cleanup(func() {
		_ = env.client.Delete(context.Background(), &corev1.Node{ObjectMeta: metav1.ObjectMeta{Name: importNode}})
	})

	// A bare pod; a StatefulSet whose pod runs (Pending: no node matches);
	// one whose pods cannot be created (no such service account) and so are
	// away, as while they restart.
	a := importPod(t, ns, "a")
	web := gcStatefulSet(ns, "web", 1, nil)
	web.Spec.Template.Annotations = map[string]string{"ipam.spidernet.io/ippool": `{"ipv4":["sp-import-v4"]}`}
	db := gcStatefulSet(ns, "db", 2, nil)
	db.Spec.Template.Spec.ServiceAccountName = "absent"
	mustCreate(t, web, db)
	web0 := gcStatefulSetPods(t, web, 1)[0]
	for _, name := range []string{"db-0", "db-1"} {
		if err := env.client.Get(t.Context(), client.ObjectKey{Namespace: ns, Name: name}, &corev1.Pod{}); !apierrors.IsNotFound(err) {
			t.Fatalf("pod %s: %v; want it absent", name, err)
		}
	}

	v4 := spiderPoolWithRecords(t, "sp-import-v4", "10.44.0.0/16", "10.44.0.1-10.44.0.8", map[string]*corev1.Pod{
		"10.44.0.1": a, "10.44.0.2": absentPod(ns, "db-0", "db0-uid"), "10.44.0.3": absentPod(ns, "db-1", "db1-uid"),
		"10.44.0.4": web0, "10.44.0.5": absentPod(ns, "gone", "gone-uid"),
	})
	spiderPoolWithRecords(t, "sp-import-v6", "fd00:44::/64", "fd00:44::1-fd00:44::4", map[string]*corev1.Pod{"fd00:44::1": a})
	mustCreate(t,
		spiderEndpointOf(ns, "a", a.UID, "", dualIP("eth0", "10.44.0.1/16", "sp-import-v4", "fd00:44::1/64", "sp-import-v6")),
		spiderEndpointOf(ns, "web-0", web0.UID, "web", dualIP("eth0", "10.44.0.4/16", "sp-import-v4", "", "")),
		spiderEndpointOf(ns, "db-0", "db0-uid", "db", dualIP("eth0", "10.44.0.2/16", "sp-import-v4", "", "")),
		spiderEndpointOf(ns, "db-1", "db1-uid", "db", dualIP("eth0", "10.44.0.3/16", "sp-import-v4", "", "")),
		spiderEndpointOf(ns, "gone", "gone-uid", "", dualIP("eth0", "10.44.0.5/16", "sp-import-v4", "", "")),
	)

	// An agent that starts before the import hands out nothing of the pool.
	pods := createPods(t, ns, v4.Name, 5, []string{importNode})
	agent := startAgent(t, importNode, t.TempDir())
	_, err := add(t.Context(), agent, pods[0], "early")
	var apiErr *agentapi.Error
	if !errors.As(err, &apiErr) || !strings.Contains(apiErr.Msg, "not imported as IPClaims yet") {
		t.Fatalf("ADD before the import: %v; want a refusal saying the pool awaits its import", err)
	}

	imp := &spiderpoolimport.Importer{Reader: env.client, Client: env.client, EnableStatefulSet: true}
	ctx := ctrl.LoggerInto(t.Context(), testr.New(t))
	began := time.Now()
	sum, err := imp.Import(ctx)
	if err != nil {
		t.Fatal(err)
	}
	t.Logf("import took %v: %+v", time.Since(began), sum)
	if sum.Created != 5 || sum.Gone != 1 || sum.Held != 0 {
		t.Errorf("import summary %+v, want 5 created, 1 of a pod gone", sum)
	}
	want := map[string]string{
		"10.44.0.1": "sp-import/a " + string(a.UID) + " eth0 Pod/a ordinal=- pool=sp-import-v4 node=" + importNode,
		"10.44.0.2": "sp-import/db-0 db0-uid eth0 StatefulSet/db ordinal=0 pool=sp-import-v4 node=" + importNode,
		"10.44.0.3": "sp-import/db-1 db1-uid eth0 StatefulSet/db ordinal=1 pool=sp-import-v4 node=" + importNode,
		"10.44.0.4": "sp-import/web-0 " + string(web0.UID) + " eth0 StatefulSet/web ordinal=0 pool=sp-import-v4 node=" + importNode,
		v1alpha1.ClaimName(netip.MustParseAddr("fd00:44::1")): "sp-import/a " + string(a.UID) + " eth0 Pod/a ordinal=- pool=sp-import-v6 node=" + importNode,
	}
	claims := importedClaims(t, "sp-import-v4", "sp-import-v6")
	got := map[string]string{}
	for name, c := range claims {
		got[name] = describeClaim(c)
		if c.Annotations[v1alpha1.AnnotationImportedFrom] != "spiderpool" {
			t.Errorf("claim %s has annotations %v, want %s=spiderpool", name, c.Annotations, v1alpha1.AnnotationImportedFrom)
		}
	}
	if !maps.Equal(want, got) {
		t.Errorf("claims after the import:\n got %v\nwant %v", got, want)
	}
	if o := claims["10.44.0.2"].Spec.Owner; o.UID != db.UID {
		t.Errorf("db-0's claim owner uid %s, want the StatefulSet's %s", o.UID, db.UID)
	}
	pools := importPoolVersions(t, "sp-import-v4", "sp-import-v6")

	// A second run reads the pools and changes nothing.
	if sum, err := imp.Import(ctx); err != nil || sum.Created != 0 || len(sum.Pools) != 0 {
		t.Fatalf("second import: %+v, %v; want nothing done", sum, err)
	}
	assertUnchanged(t, claims, pools)

	// An import interrupted before it marked the pools runs again: every
	// claim is there for the same pod, none is written.
	unmark(t, "sp-import-v4")
	if sum, err := imp.Import(ctx); err != nil || sum.Created != 0 || sum.Held != 4 {
		t.Fatalf("import after an interruption: %+v, %v; want 4 already claimed, none created", sum, err)
	}
	assertUnchanged(t, claims, nil)

	// The agent fills the pool with the addresses nobody holds: the dead
	// pod's and the never-used ones, never an imported one.
	gotAddrs := []string{}
	poll(t, 30*time.Second, "the agent to see the pool imported", func(ctx context.Context) (bool, error) {
		resp, err := add(ctx, agent, pods[0], "after")
		if err != nil {
			return false, nil
		}
		gotAddrs = append(gotAddrs, resp.IPs[0].Address)
		return true, nil
	})
	for i, p := range pods[1:4] {
		resp, err := add(t.Context(), agent, p, fmt.Sprint("fill-", i))
		if err != nil {
			t.Fatalf("ADD %s: %v", p.Name, err)
		}
		gotAddrs = append(gotAddrs, resp.IPs[0].Address)
	}
	slices.Sort(gotAddrs)
	if w := []string{"10.44.0.5/16", "10.44.0.6/16", "10.44.0.7/16", "10.44.0.8/16"}; !slices.Equal(gotAddrs, w) {
		t.Errorf("the agent handed out %v, want exactly the free %v", gotAddrs, w)
	}
	if _, err := add(t.Context(), agent, pods[4], "full"); !errors.As(err, &apiErr) || !strings.Contains(apiErr.Msg, "all IPs have been exhausted") {
		t.Errorf("ADD into the full pool: %v; want exhausted", err)
	}
	// The running StatefulSet pod keeps the address Spiderpool gave it.
	resp, err := add(t.Context(), agent, web0, "web-0")
	if err != nil || resp.IPs[0].Address != "10.44.0.4/16" {
		t.Errorf("ADD web-0: %+v, %v; want its imported 10.44.0.4/16", resp, err)
	}

	t.Run("ConflictRefused", func(t *testing.T) { testImportConflictRefused(t, ns, a) })
}

// testImportConflictRefused gives the controller a pool whose record and an
// endpoint name different running pods: it logs the conflict, writes no
// claim, marks nothing and exits non-zero.
func testImportConflictRefused(t *testing.T, ns string, a *corev1.Pod) {
	x := importPod(t, ns, "x")
	spiderPoolWithRecords(t, "sp-import-conflict", "10.45.0.0/16", "10.45.0.1-10.45.0.4",
		map[string]*corev1.Pod{"10.45.0.1": a, "10.45.0.2": a})
	mustCreate(t, spiderEndpointOf(ns, "x", x.UID, "", dualIP("eth0", "10.45.0.1/16", "sp-import-conflict", "", "")))

	cmd, _ := controllerCommand(t, "--leader-elect=false")
	var out bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &out
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	exited := make(chan error, 1)
	go func() { exited <- cmd.Wait() }()
	select {
	case err := <-exited:
		var exit *exec.ExitError
		if !errors.As(err, &exit) || exit.ExitCode() == 0 {
			t.Fatalf("controller exited with %v; want a non-zero code\n%s", err, out.String())
		}
	case <-time.After(60 * time.Second):
		t.Fatalf("controller still running after 60 s with conflicting records\n%s", out.String())
	}
	log := out.String()
	t.Logf("controller output:\n%s", log)
	for _, w := range []string{"Conflicting Spiderpool record", "holders-differ 10.45.0.1",
		"sp-import/a (uid " + string(a.UID) + ")", "sp-import/x (uid " + string(x.UID) + ")",
		"SpiderEndpoint sp-import/x", "SpiderIPPool sp-import-conflict status.allocatedIPs", "--import-spiderpool=false"} {
		if !strings.Contains(log, w) {
			t.Errorf("controller output does not mention %q:\n%s", w, log)
		}
	}
	for _, addr := range []string{"10.45.0.1", "10.45.0.2"} {
		if err := env.client.Get(t.Context(), client.ObjectKey{Name: addr}, &v1alpha1.IPClaim{}); !apierrors.IsNotFound(err) {
			t.Errorf("claim %s after a refused import: %v; want none", addr, err)
		}
	}
	p := &v2beta1.SpiderIPPool{}
	if err := env.client.Get(t.Context(), client.ObjectKey{Name: "sp-import-conflict"}, p); err != nil {
		t.Fatal(err)
	}
	if meta.FindStatusCondition(p.Status.Conditions, v1alpha1.ConditionSpiderpoolImported) != nil {
		t.Errorf("refused pool has conditions %v, want no %s", p.Status.Conditions, v1alpha1.ConditionSpiderpoolImported)
	}
}

// importPod creates a bare pod bound to the import node.
func importPod(t *testing.T, ns, name string) *corev1.Pod {
	p := &corev1.Pod{ObjectMeta: metav1.ObjectMeta{Namespace: ns, Name: name},
		Spec: corev1.PodSpec{NodeName: importNode, AutomountServiceAccountToken: ptr.To(false),
			Containers: []corev1.Container{{Name: "c", Image: "nginx"}}}}
	mustCreate(t, p)
	return p
}

// absentPod names a pod incarnation that has no object.
func absentPod(ns, name string, uid types.UID) *corev1.Pod {
	return &corev1.Pod{ObjectMeta: metav1.ObjectMeta{Namespace: ns, Name: name, UID: uid}}
}

// spiderPoolWithRecords creates a pool and writes Spiderpool's record of
// its holders into status.allocatedIPs, as Spiderpool left it.
func spiderPoolWithRecords(t *testing.T, name, subnet, ips string, holders map[string]*corev1.Pod) *v2beta1.SpiderIPPool {
	t.Helper()
	p := ipPool(name, subnet, ips)
	mustCreate(t, p)
	records := map[string]map[string]string{}
	for addr, pod := range holders {
		records[addr] = map[string]string{"pod": pod.Namespace + "/" + pod.Name, "podUid": string(pod.UID)}
	}
	b, err := json.Marshal(records)
	if err != nil {
		t.Fatal(err)
	}
	p.Status.AllocatedIPs = ptr.To(string(b))
	p.Status.AllocatedIPCount = ptr.To(int64(len(records)))
	if err := env.client.Status().Update(t.Context(), p); err != nil {
		t.Fatalf("write the records of pool %s: %v", name, err)
	}
	return p
}

// spiderEndpointOf is a SpiderEndpoint as Spiderpool writes it; a
// StatefulSet pod's (sts set) has no owner reference.
func spiderEndpointOf(ns, pod string, uid types.UID, sts string, ips ...v2beta1.IPAllocationDetail) *v2beta1.SpiderEndpoint {
	kind, owner := "Pod", pod
	if sts != "" {
		kind, owner = "StatefulSet", sts
	}
	return &v2beta1.SpiderEndpoint{
		ObjectMeta: metav1.ObjectMeta{Namespace: ns, Name: pod},
		Status: v2beta1.SpiderEndpointStatus{
			Current:             v2beta1.PodIPAllocation{UID: uid, Node: importNode, IPs: ips},
			OwnerControllerType: kind, OwnerControllerName: owner,
		},
	}
}

func dualIP(iface, a4, p4, a6, p6 string) v2beta1.IPAllocationDetail {
	d := v2beta1.IPAllocationDetail{Interface: iface, IPv4: ptr.To(a4), IPv4Pool: ptr.To(p4), Vlan: ptr.To[int64](0)}
	if a6 != "" {
		d.IPv6, d.IPv6Pool = ptr.To(a6), ptr.To(p6)
	}
	return d
}

// importedClaims returns the claims of the pools by name.
func importedClaims(t *testing.T, pools ...string) map[string]*v1alpha1.IPClaim {
	t.Helper()
	out := map[string]*v1alpha1.IPClaim{}
	for _, pool := range pools {
		var list v1alpha1.IPClaimList
		if err := env.client.List(t.Context(), &list, client.MatchingLabels{v1alpha1.LabelPool: pool}); err != nil {
			t.Fatal(err)
		}
		for i := range list.Items {
			out[list.Items[i].Name] = &list.Items[i]
		}
	}
	return out
}

func describeClaim(c *v1alpha1.IPClaim) string {
	s := c.Spec
	ord := "-"
	if s.Ordinal != nil {
		ord = fmt.Sprint(*s.Ordinal)
	}
	return fmt.Sprintf("%s/%s %s %s %s/%s ordinal=%s pool=%s node=%s", s.Holder.Namespace, s.Holder.Name, s.Holder.UID,
		s.Holder.Interface, s.Owner.Kind, s.Owner.Name, ord, s.Pool, s.Node)
}

// importPoolVersions returns the pools' resourceVersions by name.
func importPoolVersions(t *testing.T, names ...string) map[string]string {
	t.Helper()
	out := map[string]string{}
	for _, n := range names {
		p := &v2beta1.SpiderIPPool{}
		if err := env.client.Get(t.Context(), client.ObjectKey{Name: n}, p); err != nil {
			t.Fatal(err)
		}
		if !meta.IsStatusConditionTrue(p.Status.Conditions, v1alpha1.ConditionSpiderpoolImported) {
			t.Errorf("pool %s has conditions %v, want %s True", n, p.Status.Conditions, v1alpha1.ConditionSpiderpoolImported)
		}
		out[n] = p.ResourceVersion
	}
	return out
}

// assertUnchanged fails when a claim or pool has another resourceVersion.
func assertUnchanged(t *testing.T, claims map[string]*v1alpha1.IPClaim, pools map[string]string) {
	t.Helper()
	for name, c := range claims {
		cur := &v1alpha1.IPClaim{}
		if err := env.client.Get(t.Context(), client.ObjectKey{Name: name}, cur); err != nil {
			t.Fatal(err)
		}
		if cur.ResourceVersion != c.ResourceVersion || cur.UID != c.UID {
			t.Errorf("claim %s was rewritten", name)
		}
	}
	if pools == nil {
		return
	}
	if got := importPoolVersions(t, slices.Collect(maps.Keys(pools))...); !maps.Equal(pools, got) {
		t.Errorf("pools were rewritten: resourceVersions %v, were %v", got, pools)
	}
}

// unmark removes condition SpiderpoolImported, as if the import had stopped
// before it marked the pool.
func unmark(t *testing.T, name string) {
	t.Helper()
	p := &v2beta1.SpiderIPPool{}
	if err := env.client.Get(t.Context(), client.ObjectKey{Name: name}, p); err != nil {
		t.Fatal(err)
	}
	meta.RemoveStatusCondition(&p.Status.Conditions, v1alpha1.ConditionSpiderpoolImported)
	if err := env.client.Status().Update(t.Context(), p); err != nil {
		t.Fatal(err)
	}
}

// cleanupImportPools deletes the pools and their claims at the end of the
// test: a pool left with Spiderpool records would be imported (or refused)
// by every later controller of the package.
func cleanupImportPools(t *testing.T, names ...string) {
	t.Cleanup(func() {
		ctx := context.Background()
		for _, n := range names {
			_ = env.client.DeleteAllOf(ctx, &v1alpha1.IPClaim{}, client.MatchingLabels{v1alpha1.LabelPool: n})
			p := &v2beta1.SpiderIPPool{ObjectMeta: metav1.ObjectMeta{Name: n}}
			_ = env.client.Patch(ctx, p, client.RawPatch(types.MergePatchType, []byte(`{"metadata":{"finalizers":null}}`)))
			if err := env.client.Delete(ctx, p); client.IgnoreNotFound(err) != nil {
				t.Errorf("delete pool %s: %v", n, err)
			}
		}
	})
}
