//go:build integration

package integration

import (
	"context"
	"errors"
	"strings"
	"testing"
	"time"

	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"sigs.k8s.io/controller-runtime/pkg/client"

	"github.com/ipkeeper/ipkeeper/api/ipkeeper/v1alpha1"
	"github.com/ipkeeper/ipkeeper/internal/agentapi"
)

// The quarantine claim's life against the real API server and the real
// agent: the report turns the pod's claim into a quarantine claim in place
// (same object, no moment where the address is free), the pod's next ADD
// gets another address, a full pool says so naming the pool, the garbage
// collector keeps the claim although no pod holds it, kubectl ipkeeper shows
// it and refuses to "release" it, and unquarantine gives it back.
func TestIntegrationQuarantine(t *testing.T) {
	const ns, pool, node = "quarantine", "quarantine-pool", "quarantine-node"
	namespace(t, ns)
	mustCreate(t, &corev1.Node{ObjectMeta: metav1.ObjectMeta{Name: node}})
	mustCreate(t, ipPool(pool, "10.98.0.0/16", "10.98.0.10-10.98.0.11"))
	pods := createPods(t, ns, pool, 3, []string{node})
	agent := startAgent(t, node, t.TempDir())
	stopGC := gcStart(t)
	defer stopGC()

	first, err := add(t.Context(), agent, pods[0], "sandbox-0")
	if err != nil {
		t.Fatalf("ADD: %v", err)
	}
	taken := strings.Split(first.IPs[0].Address, "/")[0]
	before := claimNamed(t, taken)

	req := &agentapi.QuarantineRequest{
		Attachment: agentapi.Attachment{ContainerID: "sandbox-0", IfName: "eth0"},
		Pod:        agentapi.PodRef{Namespace: ns, Name: pods[0].Name, UID: string(pods[0].UID)},
		Address:    taken, HardwareAddr: "02:00:00:00:00:99",
	}
	if err := agent.client.Quarantine(t.Context(), req); err != nil {
		t.Fatalf("quarantine: %v", err)
	}
	q := claimNamed(t, taken)
	if q.UID != before.UID || !q.Quarantined() || q.Spec.Holder != (v1alpha1.ClaimHolder{}) ||
		q.Spec.Owner.Kind != v1alpha1.OwnerKindQuarantine || q.Labels[v1alpha1.LabelQuarantined] != "true" ||
		q.Spec.Quarantine.HardwareAddress != "02:00:00:00:00:99" || q.Spec.Quarantine.DetectedBy != ns+"/"+pods[0].Name {
		t.Fatalf("claim after quarantine: %+v; want the same object (UID %s), no holder, owner Quarantine, the MAC and the pod that found it", q, before.UID)
	}

	// A second report for an address the pod no longer holds changes nothing.
	var apiErr *agentapi.Error
	if err := agent.client.Quarantine(t.Context(), req); !errors.As(err, &apiErr) || apiErr.Code != agentapi.CodeNotFound {
		t.Fatalf("repeated quarantine: %v, want code %d", err, agentapi.CodeNotFound)
	}

	again, err := add(t.Context(), agent, pods[0], "sandbox-0")
	if err != nil {
		t.Fatalf("ADD after quarantine: %v", err)
	}
	other := strings.Split(again.IPs[0].Address, "/")[0]
	if other == taken {
		t.Fatalf("the pod got the quarantined %s again", taken)
	}
	_, err = add(t.Context(), agent, pods[1], "sandbox-1")
	if !errors.As(err, &apiErr) || !strings.Contains(apiErr.Msg, pool) || !strings.Contains(apiErr.Msg, "exhausted") {
		t.Fatalf("ADD with the pool's last address quarantined: %v; want it exhausted, naming %s", err, pool)
	}

	gcWaitFullScan(t)
	if c := claimNamed(t, taken); c.UID != q.UID {
		t.Fatalf("the garbage collector released the quarantine claim (now %+v)", c)
	}

	k := &cliCluster{kubeconfig: env.kubeconfig, c: env.client}
	out, code := k.run(t, "who-has", taken)
	if code != 0 || !strings.Contains(out, "quarantined") || !strings.Contains(out, "02:00:00:00:00:99") || !strings.Contains(out, "unquarantine "+taken) {
		t.Fatalf("who-has %s: exit %d\n%s\nwant it quarantined, the MAC and how to clear it", taken, code, out)
	}
	out, code = k.run(t, "pools")
	if code != 0 || !strings.Contains(out, "QUARANTINED") || !strings.Contains(out, "1 ("+taken+")") {
		t.Fatalf("pools: exit %d\n%s\nwant %s shown quarantined", code, out, taken)
	}
	if out, code := k.run(t, "release", taken); code == 0 || !strings.Contains(out, "quarantined") {
		t.Fatalf("release of a quarantined address: exit %d\n%s\nwant a refusal pointing at unquarantine", code, out)
	}
	if out, code := k.run(t, "unquarantine", other); code == 0 || !strings.Contains(out, "holds it") {
		t.Fatalf("unquarantine of a held address: exit %d\n%s\nwant a refusal naming the holder", code, out)
	}
	if out, code := k.run(t, "unquarantine", taken); code != 0 || !strings.Contains(out, "unquarantined") {
		t.Fatalf("unquarantine %s: exit %d\n%s", taken, code, out)
	}
	if err := env.client.Get(t.Context(), client.ObjectKey{Name: taken}, &v1alpha1.IPClaim{}); !apierrors.IsNotFound(err) {
		t.Fatalf("claim after unquarantine: %v, want NotFound", err)
	}
	poll(t, 30*time.Second, "the cleared address handed out again", func(ctx context.Context) (bool, error) {
		resp, err := add(ctx, agent, pods[2], "sandbox-2")
		return err == nil && strings.HasPrefix(resp.IPs[0].Address, taken+"/"), nil
	})

	// A failed gateway check gives the address back although the pod lives
	// (a DEL would keep it for the pod's next sandbox).
	if err := agent.client.Abandon(t.Context(), &agentapi.AbandonRequest{
		Attachment: agentapi.Attachment{ContainerID: "sandbox-2", IfName: "eth0"},
		Pod:        agentapi.PodRef{Namespace: ns, Name: pods[2].Name, UID: string(pods[2].UID)},
		Pool:       pool, Gateway: "10.98.0.1", WaitedMs: 1000,
	}); err != nil {
		t.Fatalf("abandon: %v", err)
	}
	if err := env.client.Get(t.Context(), client.ObjectKey{Name: taken}, &v1alpha1.IPClaim{}); !apierrors.IsNotFound(err) {
		t.Fatalf("claim after abandon: %v, want NotFound", err)
	}
}

func claimNamed(t *testing.T, addr string) *v1alpha1.IPClaim {
	t.Helper()
	c := &v1alpha1.IPClaim{}
	if err := env.client.Get(t.Context(), client.ObjectKey{Name: addr}, c); err != nil {
		t.Fatalf("get the claim of %s: %v", addr, err)
	}
	return c
}
