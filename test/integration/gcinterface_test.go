//go:build integration

package integration

import (
	"context"
	"testing"
	"time"

	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/types"
	"k8s.io/utils/ptr"
	"sigs.k8s.io/controller-runtime/pkg/client"

	"github.com/ipkeeper/ipkeeper/api/ipkeeper/v1alpha1"
	"github.com/ipkeeper/ipkeeper/api/v2beta1"
)

// A StatefulSet whose template drops an interface: once the ordinal's next
// incarnation runs (all its interfaces set up, each claim it uses taken
// over), the dropped interface's claim is released while the ordinal is
// still there; the claim the new incarnation took over stays (issue 13,
// defect 4).
func TestIntegrationGCReleasesTheClaimOfAnInterfaceTheStatefulSetDropped(t *testing.T) {
	const ns, pool = "gc-sts-iface", "gc-sts-iface"
	namespace(t, ns)
	gcCleanClaims(t, pool)
	gcStart(t)
	ctx := t.Context()

	app := gcStatefulSet(ns, "app", 1, nil)
	mustCreate(t, app)
	first := gcStatefulSetPods(t, app, 1)[0]
	eth0 := gcStsClaims(t, pool, "10.9.4", app, []*corev1.Pod{first})[0]
	net1 := gcClaim(pool, "10.9.5.0", first, eth0.Spec.Owner, eth0.Spec.Ordinal)
	net1.Spec.Holder.Interface = "net1"
	mustCreate(t, net1)

	// The pod restarts; its new template has no net1.
	gcDeletePod(t, first)
	next := gcStatefulSetPods(t, app, 1, first)[0]
	gcWaitFullScan(t)
	gcAssertKept(t, eth0, net1) // restarting: not running yet

	// The new incarnation's eth0 ADD takes its claim over; then it runs.
	cur := &v1alpha1.IPClaim{}
	if err := env.client.Get(ctx, client.ObjectKeyFromObject(eth0), cur); err != nil {
		t.Fatal(err)
	}
	cur.Spec.Holder.UID, cur.Spec.Holder.ContainerID = next.UID, "sandbox-next"
	if err := env.client.Update(ctx, cur); err != nil {
		t.Fatal(err)
	}
	// A merge patch of the phase: other writers (the StatefulSet controller)
	// may have changed the pod since it was read.
	running := client.MergeFrom(next.DeepCopy())
	next.Status.Phase = corev1.PodRunning
	if err := env.client.Status().Patch(ctx, next, running); err != nil {
		t.Fatal(err)
	}
	gcWaitReleased(t, net1.Name)
	gcWaitFullScan(t)
	gcAssertKept(t, cur)
}

// When the collector, not a DEL, releases a StatefulSet pod's last address
// (its ordinal scaled away), the pod's SpiderEndpoint, which has no owner
// reference, goes too; the endpoint of an ordinal still there stays (issue
// 13, defect 14).
func TestIntegrationGCDeletesTheEndpointWithAStatefulSetPodsLastClaim(t *testing.T) {
	const ns, pool = "gc-sts-ep", "gc-sts-ep"
	namespace(t, ns)
	gcCleanClaims(t, pool)
	gcStart(t)
	ctx := t.Context()

	db := gcStatefulSet(ns, "db", 2, nil)
	mustCreate(t, db)
	pods := gcStatefulSetPods(t, db, 2)
	claims := gcStsClaims(t, pool, "10.9.6", db, pods)
	for i, p := range pods {
		addr := claims[i].Spec.Address + "/16"
		mustCreate(t, &v2beta1.SpiderEndpoint{
			ObjectMeta: metav1.ObjectMeta{Namespace: ns, Name: p.Name},
			Status: v2beta1.SpiderEndpointStatus{
				Current:             v2beta1.PodIPAllocation{UID: p.UID, Node: "gc-node", IPs: []v2beta1.IPAllocationDetail{{Interface: "eth0", IPv4: &addr, IPv4Pool: ptr.To(pool)}}},
				OwnerControllerType: "StatefulSet", OwnerControllerName: "db",
			},
		})
	}
	gcScale(t, db, 1)
	gcWaitReleased(t, claims[1].Name)
	poll(t, 30*time.Second, "the endpoint of db-1 deleted", func(ctx context.Context) (bool, error) {
		err := env.client.Get(ctx, client.ObjectKey{Namespace: ns, Name: "db-1"}, &v2beta1.SpiderEndpoint{})
		return apierrors.IsNotFound(err), client.IgnoreNotFound(err)
	})
	gcWaitFullScan(t)
	gcAssertKept(t, claims[0])
	if err := env.client.Get(ctx, client.ObjectKey{Namespace: ns, Name: "db-0"}, &v2beta1.SpiderEndpoint{}); err != nil {
		t.Fatalf("the endpoint of db-0, whose ordinal is still there: %v", err)
	}
}

// The endpoints a release interrupted between its two writes leaves behind
// (the claim deleted, the releaser killed before the endpoint went): a
// StatefulSet pod's whose ordinal was scaled away, and one of a pod that never
// existed. The collector's sweep deletes both; the endpoint whose claim is
// kept for its ordinal, and the endpoint of a live pod not yet holding a
// claim (its ADD in flight), stay (issue 13, the chaos run's finding).
func TestIntegrationGCDeletesEndpointsNoClaimBacks(t *testing.T) {
	const ns, pool = "gc-stale-ep", "gc-stale-ep"
	namespace(t, ns)
	gcCleanClaims(t, pool)
	ctx := t.Context()

	db := gcStatefulSet(ns, "db", 2, nil)
	mustCreate(t, db)
	pods := gcStatefulSetPods(t, db, 2)
	claims := gcStsClaims(t, pool, "10.9.7", db, pods)
	endpoint := func(name string, uid types.UID, addr string) *v2beta1.SpiderEndpoint {
		addr += "/16"
		return &v2beta1.SpiderEndpoint{
			ObjectMeta: metav1.ObjectMeta{Namespace: ns, Name: name},
			Status: v2beta1.SpiderEndpointStatus{
				Current:             v2beta1.PodIPAllocation{UID: uid, Node: "gc-node", IPs: []v2beta1.IPAllocationDetail{{Interface: "eth0", IPv4: &addr, IPv4Pool: ptr.To(pool)}}},
				OwnerControllerType: "StatefulSet", OwnerControllerName: "db",
			},
		}
	}
	for i, p := range pods {
		mustCreate(t, endpoint(p.Name, p.UID, claims[i].Spec.Address))
	}
	live := gcPod(ns, "live")
	mustCreate(t, live, endpoint("never-existed", "uid-of-nobody", "10.9.7.100"))
	mustCreate(t, endpoint("live", live.UID, "10.9.7.101"))

	// db-1 is scaled away and its claim released by a releaser that died
	// before deleting the endpoint: the collector is not running yet.
	gcScale(t, db, 1)
	poll(t, 30*time.Second, "pod db-1 gone", func(ctx context.Context) (bool, error) {
		err := env.client.Get(ctx, client.ObjectKeyFromObject(pods[1]), &corev1.Pod{})
		return apierrors.IsNotFound(err), client.IgnoreNotFound(err)
	})
	if err := env.client.Delete(ctx, claims[1]); err != nil {
		t.Fatal(err)
	}

	gcStart(t)
	for _, name := range []string{"db-1", "never-existed"} {
		poll(t, gcWindow, "the stale endpoint "+name+" deleted", func(ctx context.Context) (bool, error) {
			err := env.client.Get(ctx, client.ObjectKey{Namespace: ns, Name: name}, &v2beta1.SpiderEndpoint{})
			return apierrors.IsNotFound(err), client.IgnoreNotFound(err)
		})
	}
	gcWaitFullScan(t)
	gcAssertKept(t, claims[0])
	for _, name := range []string{"db-0", "live"} {
		if err := env.client.Get(ctx, client.ObjectKey{Namespace: ns, Name: name}, &v2beta1.SpiderEndpoint{}); err != nil {
			t.Errorf("the endpoint of %s, which a claim or a live pod backs: %v", name, err)
		}
	}
}
