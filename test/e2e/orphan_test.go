//go:build e2e

package e2e

import (
	"context"
	"fmt"
	"maps"
	"strings"
	"testing"
	"time"

	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	"github.com/ipkeeper/ipkeeper/test/framework"
	"github.com/ipkeeper/ipkeeper/test/seedwalk"
)

// orphanStatefulSet is a StatefulSet of two pods drawing from ipam, with a
// template revision rev: a new revision is the change of an immutable field
// that makes users re-create a StatefulSet with --cascade=orphan, and it
// rolls the adopted pods.
func orphanStatefulSet(name, ipam string, rev int) string {
	return fmt.Sprintf(`apiVersion: apps/v1
kind: StatefulSet
metadata:
  name: %[1]s
spec:
  replicas: 2
  selector:
    matchLabels:
      app: %[1]s
  template:
    metadata:
      annotations:
        %[2]s
        v1.multus-cni.io/default-network: kube-system/macvlan-ens192
        example.com/revision: "%[3]d"
      labels:
        app: %[1]s
    spec:
      containers:
      - name: app
        image: nginx
        imagePullPolicy: IfNotPresent
`, name, ipam, rev)
}

// claimUIDs maps each address to the UID of its IPClaim: a claim taken over
// keeps its UID, one released and taken again does not.
func claimUIDs(t *testing.T, env *framework.Env, ips map[string]string) map[string]string {
	t.Helper()
	out := map[string]string{}
	for _, ip := range ips {
		out[ip] = strings.TrimSpace(env.RunKubectl(t, "get", "ipc", ip, "-o", "jsonpath={.metadata.uid}"))
	}
	return out
}

// Re-creating a StatefulSet with --cascade=orphan, the usual way to change
// an immutable field, keeps its pods' addresses: the orphaned pods keep them
// while no StatefulSet exists, and the new StatefulSet's pods (adopted, then
// rolled to the new template) get each ordinal's address back from the very
// claim it had. An automatic pool survives too, and the new StatefulSet
// adopts it (issue 13, defect 9).
func TestStatefulSetReCreatedWithCascadeOrphanKeepsAddresses(t *testing.T) {
	env := localCluster.Get(t)
	seedwalk.Network(t, env)
	tests := []struct {
		name, setup, ipam string
		autoPool          bool
	}{
		{name: "named pool", ipam: `ipam.spidernet.io/ippool: '{"ipv4":["orphan-pool"]}'`, setup: `apiVersion: spiderpool.spidernet.io/v2beta1
kind: SpiderIPPool
metadata:
  name: orphan-pool
spec:
  subnet: 10.6.0.0/16
  ips:
  - 10.6.169.1-10.6.169.10
`},
		{name: "automatic pool", autoPool: true, ipam: `ipam.spidernet.io/subnet: '{"ipv4":["orphan-subnet"]}'`, setup: `apiVersion: spiderpool.spidernet.io/v2beta1
kind: SpiderSubnet
metadata:
  name: orphan-subnet
spec:
  subnet: 10.245.0.0/16
  ips:
  - 10.245.1.1-10.245.1.50
`},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			ns := env.Namespace(t)
			seedwalk.Apply(t, env, "default", tt.setup)
			seedwalk.Apply(t, env, ns, orphanStatefulSet("db", tt.ipam, 1))
			first := seedwalk.PodIPs(t, env, ns, "app=db", 2)
			claims := claimUIDs(t, env, first)
			pool := ""
			if tt.autoPool {
				pool = strings.TrimSpace(env.RunKubectl(t, "get", "sp", "-l", "ipkeeper.io/owner-namespace="+ns+",ipkeeper.io/owner-name=db",
					"-o", "jsonpath={.items[*].metadata.name}"))
				if !strings.HasPrefix(pool, "auto4-db-eth0-") {
					t.Fatalf("automatic pool %q, want one named auto4-db-eth0-…", pool)
				}
			}
			oldUID := strings.TrimSpace(env.RunKubectl(t, "get", "sts", "db", "-n", ns, "-o", "jsonpath={.metadata.uid}"))
			env.RunKubectl(t, "delete", "sts", "db", "-n", ns, "--cascade=orphan")
			if tt.autoPool {
				// The controller sees the StatefulSet gone; its pool must
				// stay usable while the orphaned pods hold addresses of it.
				waitOwnerless(t, env, ns, "app=db")
			}

			if out, err := seedwalk.Kubectl(t.Context(), env, orphanStatefulSet("db", tt.ipam, 2), "apply", "-n", ns, "-f", "-"); err != nil {
				t.Fatalf("re-create the StatefulSet: %v: %s", err, out)
			}
			newUID := strings.TrimSpace(env.RunKubectl(t, "get", "sts", "db", "-n", ns, "-o", "jsonpath={.metadata.uid}"))
			if newUID == oldUID || newUID == "" {
				t.Fatalf("StatefulSet uid %q after re-creating, was %q", newUID, oldUID)
			}
			rolled := waitRolled(t, env, ns, "app=db", "2")
			if !maps.Equal(rolled, first) {
				t.Fatalf("addresses after the orphan re-create and roll: %v, want %v", rolled, first)
			}
			if again := claimUIDs(t, env, rolled); !maps.Equal(again, claims) {
				t.Errorf("claims after the roll %v, before %v: an address was released and taken again", again, claims)
			}
			if tt.autoPool {
				out := env.RunKubectl(t, "get", "sp", pool, "-o", "jsonpath={.metadata.deletionTimestamp}/{.metadata.labels.ipkeeper\\.io/owner-uid}")
				if out != "/"+newUID {
					t.Errorf("automatic pool %s: deletionTimestamp/owner-uid %q, want it kept and adopted by the new StatefulSet (%s)", pool, out, newUID)
				}
			}
		})
	}
}

// waitOwnerless waits until the garbage collector has orphaned the pods.
func waitOwnerless(t *testing.T, env *framework.Env, ns, selector string) {
	t.Helper()
	env.WaitFor(t, time.Minute, "pods orphaned", func(ctx context.Context) (bool, error) {
		pods, err := env.Client.CoreV1().Pods(ns).List(ctx, metav1.ListOptions{LabelSelector: selector})
		if err != nil {
			return false, nil
		}
		for _, p := range pods.Items {
			if len(p.OwnerReferences) > 0 {
				return false, nil
			}
		}
		return len(pods.Items) > 0, nil
	})
}

// waitRolled waits until every pod matching selector runs template
// revision rev and is Ready, and returns name → IP.
func waitRolled(t *testing.T, env *framework.Env, ns, selector, rev string) map[string]string {
	t.Helper()
	got := map[string]string{}
	env.WaitFor(t, podsTimeout, "pods rolled to revision "+rev, func(ctx context.Context) (bool, error) {
		pods, err := env.Client.CoreV1().Pods(ns).List(ctx, metav1.ListOptions{LabelSelector: selector})
		if err != nil {
			return false, nil
		}
		clear(got)
		for _, p := range pods.Items {
			if p.Annotations["example.com/revision"] == rev && p.DeletionTimestamp == nil && seedwalk.PodReady(&p) {
				got[p.Name] = p.Status.PodIP
			}
		}
		return len(got) == 2 && len(pods.Items) == 2, nil
	})
	return got
}
