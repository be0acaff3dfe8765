//go:build e2e

package realnodes

import (
	"context"
	"encoding/json"
	"net/netip"
	"strings"
	"testing"
	"time"

	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	"github.com/ipkeeper/ipkeeper/test/framework"
	"github.com/ipkeeper/ipkeeper/test/seedwalk"
)

// checkAdditionalNetwork: a SpiderMultusConfig rendered by the controller
// into a NetworkAttachmentDefinition, attached by the nodes' Multus as a
// second interface (net1) with an address from the pool it names, reachable
// from a pod on the other node.
func checkAdditionalNetwork(t *testing.T, env *framework.Env) {
	ns := env.Namespace(t)
	manifest := `apiVersion: spiderpool.spidernet.io/v2beta1
kind: SpiderIPPool
metadata:
  name: extra-` + ns + `
spec:
  subnet: 10.6.0.0/16
  ips:
  - 10.6.168.101-10.6.168.110
---
apiVersion: spiderpool.spidernet.io/v2beta1
kind: SpiderMultusConfig
metadata:
  name: macvlan-extra
  namespace: ` + ns + `
spec:
  cniType: macvlan
  enableCoordinator: false
  macvlan:
    master:
    - ens192
    ippools:
      ipv4:
      - extra-` + ns + "\n"
	if out, err := seedwalk.Kubectl(t.Context(), env, manifest, "apply", "-f", "-"); err != nil {
		t.Fatalf("apply the pool and the SpiderMultusConfig: %v: %s", err, out)
	}
	t.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
		defer cancel()
		_, _ = seedwalk.Kubectl(ctx, env, "", "delete", "spiderippool", "extra-"+ns, "--wait=false")
	})
	env.WaitFor(t, time.Minute, "NetworkAttachmentDefinition macvlan-extra", func(ctx context.Context) (bool, error) {
		_, err := seedwalk.Kubectl(ctx, env, "", "-n", ns, "get", "network-attachment-definitions", "macvlan-extra")
		return err == nil, nil
	})

	multi := startPod(t, env, ns, "multi", "node2", map[string]string{"k8s.v1.cni.cncf.io/networks": ns + "/macvlan-extra"})
	peer := startPod(t, env, ns, "peer", "node1", nil)
	var status []struct {
		Name      string   `json:"name"`
		Interface string   `json:"interface"`
		IPs       []string `json:"ips"`
	}
	if err := json.Unmarshal([]byte(multi.Annotations["k8s.v1.cni.cncf.io/network-status"]), &status); err != nil {
		t.Fatalf("network-status of multi: %v", err)
	}
	if len(status) != 2 || status[1].Name != ns+"/macvlan-extra" || status[1].Interface != "net1" || len(status[1].IPs) != 1 {
		t.Fatalf("network-status %+v, want eth0 then %s/macvlan-extra on net1 with one address", status, ns)
	}
	extra := netip.MustParseAddr(status[1].IPs[0])
	if lo, hi := netip.MustParseAddr("10.6.168.101"), netip.MustParseAddr("10.6.168.110"); extra.Less(lo) || hi.Less(extra) {
		t.Errorf("net1 address %s outside the pool extra-%s", extra, ns)
	}
	body := env.RunKubectl(t, "-n", ns, "exec", peer.Name, "--", "/webserver", "get", "http://"+extra.String()+"/")
	if !strings.Contains(body, "Welcome") {
		t.Errorf("peer (node1) → multi's net1 %s (node2): got %q", extra, body)
	}
}

// checkPodDeletion: a deleted pod goes (its sandbox's CNI DEL through Multus
// succeeds) and its address is released: its SpiderEndpoint is gone too.
func checkPodDeletion(t *testing.T, env *framework.Env) {
	ns := env.Namespace(t)
	for _, node := range []string{"node1", "node2"} {
		name := "gone-" + node
		startPod(t, env, ns, name, node, nil)
		if err := env.Client.CoreV1().Pods(ns).Delete(t.Context(), name, metav1.DeleteOptions{}); err != nil {
			t.Fatal(err)
		}
		env.WaitFor(t, time.Minute, name+" deleted", func(ctx context.Context) (bool, error) {
			_, err := env.Client.CoreV1().Pods(ns).Get(ctx, name, metav1.GetOptions{})
			return apierrors.IsNotFound(err), nil
		})
		env.WaitFor(t, time.Minute, "SpiderEndpoint "+name+" gone", func(ctx context.Context) (bool, error) {
			out, err := seedwalk.Kubectl(ctx, env, "", "-n", ns, "get", "spiderendpoints", name)
			return err != nil && strings.Contains(out, "NotFound"), nil
		})
	}
}

// startPod runs the nginx stand-in on node and returns it once Running with
// an address.
func startPod(t *testing.T, env *framework.Env, ns, name, node string, annotations map[string]string) *corev1.Pod {
	t.Helper()
	pod := &corev1.Pod{
		ObjectMeta: metav1.ObjectMeta{Name: name, Labels: map[string]string{"app": name}, Annotations: annotations},
		Spec: corev1.PodSpec{NodeName: node,
			Containers: []corev1.Container{{Name: "web", Image: "nginx", ImagePullPolicy: corev1.PullIfNotPresent}}},
	}
	if _, err := env.Client.CoreV1().Pods(ns).Create(t.Context(), pod, metav1.CreateOptions{}); err != nil {
		t.Fatal(err)
	}
	env.WaitFor(t, 2*time.Minute, name+" Running", func(ctx context.Context) (bool, error) {
		p, err := env.Client.CoreV1().Pods(ns).Get(ctx, name, metav1.GetOptions{})
		if err != nil || p.Status.Phase != corev1.PodRunning || p.Status.PodIP == "" {
			return false, nil
		}
		pod = p
		return true, nil
	})
	return pod
}
