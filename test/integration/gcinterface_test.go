//go:build integration

package integration

import (
	"testing"

	corev1 "k8s.io/api/core/v1"
	"sigs.k8s.io/controller-runtime/pkg/client"

	"github.com/ipkeeper/ipkeeper/api/ipkeeper/v1alpha1"
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
	next.Status.Phase = corev1.PodRunning
	if err := env.client.Status().Update(ctx, next); err != nil {
		t.Fatal(err)
	}
	gcWaitReleased(t, net1.Name)
	gcWaitFullScan(t)
	gcAssertKept(t, cur)
}
