//go:build integration

package integration

import (
	"context"
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/utils/ptr"
	"sigs.k8s.io/controller-runtime/pkg/client"

	"github.com/ipkeeper/ipkeeper/api/v2beta1"
	"github.com/ipkeeper/ipkeeper/internal/agentapi"
	"github.com/ipkeeper/ipkeeper/internal/spiderpool"
)

// A dual-stack pod whose IPv6 automatic pool is missing (no controller runs
// here; its SpiderSubnet does not even exist) is refused after the agent's
// configured wait, with a message naming the subnet, the family and why,
// as an IPAllocationFailed Event on the pod; and the IPv4 address its pool
// could give is not handed out, nor left claimed.
func TestIntegrationMissingAutoPoolIsRefusedWithAnEvent(t *testing.T) {
	const ns, node, pool4 = "autopool-wait", "autopool-wait-node", "auto4-web-eth0-wait1"
	namespace(t, ns)
	pod := &corev1.Pod{
		ObjectMeta: metav1.ObjectMeta{Namespace: ns, Name: "web", Annotations: map[string]string{
			spiderpool.AnnoSubnet: `{"ipv4":["wait-sub4"],"ipv6":["wait-sub6"]}`}},
		Spec: corev1.PodSpec{NodeName: node, AutomountServiceAccountToken: ptr.To(false),
			Containers: []corev1.Container{{Name: "c", Image: "nginx"}}},
	}
	mustCreate(t, &corev1.Node{ObjectMeta: metav1.ObjectMeta{Name: node}}, pod,
		&v2beta1.SpiderSubnet{ObjectMeta: metav1.ObjectMeta{Name: "wait-sub4"},
			Spec: v2beta1.SpiderSubnetSpec{Subnet: "10.31.0.0/16", IPs: []string{"10.31.0.10-10.31.0.19"}}})
	// The IPv4 automatic pool exists, bound to the bare pod as the
	// controller binds it.
	p4 := ipPool(pool4, "10.31.0.0/16", "10.31.0.10-10.31.0.12")
	p4.Labels = map[string]string{spiderpool.LabelAutoPoolOwnerUID: string(pod.UID), spiderpool.LabelAutoPoolInterface: "eth0"}
	mustCreate(t, p4)
	conf := filepath.Join(t.TempDir(), "conf.yml")
	if err := os.WriteFile(conf, []byte("autoPoolWaitSeconds: 2\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	// Ready means synced: the agent knows the IPv4 pool.
	agent := startAgentAs(t, node, t.TempDir(), env.kubeconfig, nil, "--config", conf)
	start := time.Now()
	resp, err := add(t.Context(), agent, pod, "c1")
	var apiErr *agentapi.Error
	if !errors.As(err, &apiErr) || apiErr.Code != agentapi.CodeAllocationFailed {
		t.Fatalf("ADD = %+v, %v; want code %d", resp, err, agentapi.CodeAllocationFailed)
	}
	want := "interface eth0 IPv6 from SpiderSubnet wait-sub6: subnet not found"
	if !strings.Contains(apiErr.Msg, want) || !strings.Contains(apiErr.Msg, "nothing was allocated") {
		t.Fatalf("ADD error %q, want it to say %q", apiErr.Msg, want)
	}
	if took := time.Since(start); took < 2*time.Second {
		t.Errorf("ADD failed after %s, before the configured 2 s wait", took)
	}
	if n := len(claimsOf(t, pool4)); n != 0 {
		t.Fatalf("%d claims in %s after the refused ADD, want 0: a pod gets all its families or none", n, pool4)
	}
	poll(t, 30*time.Second, "IPAllocationFailed event naming the missing pool", func(ctx context.Context) (bool, error) {
		var events corev1.EventList
		if err := env.client.List(ctx, &events, client.InNamespace(ns)); err != nil {
			return false, err
		}
		for _, e := range events.Items {
			if e.InvolvedObject.Name == pod.Name && e.Reason == "IPAllocationFailed" && strings.Contains(e.Message, want) {
				return true, nil
			}
		}
		return false, nil
	})
}
