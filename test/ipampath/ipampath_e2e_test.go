//go:build e2e

package ipampath_test

import (
	"context"
	"errors"
	"fmt"
	"net/netip"
	"path/filepath"
	"testing"
	"time"

	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"k8s.io/client-go/dynamic"

	"github.com/ipkeeper/ipkeeper/api/ipkeeper/v1alpha1"
	"github.com/ipkeeper/ipkeeper/test/framework"
	"github.com/ipkeeper/ipkeeper/test/ipampath"
	"github.com/ipkeeper/ipkeeper/test/localcluster"
)

// TestDriverAddDel drives the plugin for pods the node simulator leaves
// alone: distinct addresses from the default pool, ADD repeated gives the
// same address, an unreachable agent is an error code 11 in time, and DEL
// of terminated pods releases every claim.
func TestDriverAddDel(t *testing.T) {
	env := framework.Start(t, framework.Options{Nodes: 2, Ipkeeper: true})
	if env.Cluster == nil {
		t.Skip("the cluster's nodes are not known (reused cluster without state)")
	}
	root, err := localcluster.RepoRoot()
	if err != nil {
		t.Fatal(err)
	}
	bin := t.TempDir()
	if err := localcluster.BuildPlugin(root, bin); err != nil {
		t.Fatal(err)
	}
	ns := env.Namespace(t)
	nodes := env.Cluster.Nodes()
	d, err := ipampath.New(ipampath.Config{Namespace: ns, Plugin: filepath.Join(bin, "spiderpool"), Concurrency: 2}, env.Client, nodes)
	if err != nil {
		t.Fatal(err)
	}
	ctx := t.Context()
	var pods []*ipampath.Pod
	for i := range 6 {
		p, err := d.CreatePod(ctx, nodes[i%len(nodes)].Name, fmt.Sprintf("bare-%d", i))
		if err != nil {
			t.Fatal(err)
		}
		pods = append(pods, p)
	}
	got := map[string]netip.Addr{}
	for i, err := range ipampath.ForEach(ctx, pods, func(ctx context.Context, p *ipampath.Pod) error {
		_, err := d.Add(ctx, p)
		return err
	}) {
		if err != nil {
			t.Fatalf("ADD of %s: %v", pods[i].Key(), err)
		}
	}
	pool := netip.MustParsePrefix("10.6.0.0/16")
	seen := map[netip.Addr]string{}
	for _, c := range d.Calls() {
		if len(c.Addresses) != 1 || !pool.Contains(c.Addresses[0].Addr()) {
			t.Fatalf("ADD of %s gave %v, want one address of %s", c.Pod.Key(), c.Addresses, pool)
		}
		a := c.Addresses[0].Addr()
		if other, dup := seen[a]; dup {
			t.Fatalf("%s given to %s and %s", a, other, c.Pod.Key())
		}
		seen[a], got[c.Pod.Name] = c.Pod.Key(), a
		if c.Latency <= 0 || c.Start.IsZero() {
			t.Errorf("call of %s has no timing: %+v", c.Pod.Key(), c)
		}
	}
	// The node simulator left them alone: no sandbox of its own, no status.
	for _, p := range pods {
		cur, err := env.Client.CoreV1().Pods(ns).Get(ctx, p.Name, metav1.GetOptions{})
		if err != nil {
			t.Fatal(err)
		}
		if cur.Status.PodIP != "" || cur.Status.Phase == "Running" {
			t.Fatalf("pod %s: phase %q, IP %q; want it untouched by the node simulator", p.Key(), cur.Status.Phase, cur.Status.PodIP)
		}
	}
	again, err := d.Add(ctx, pods[0])
	if err != nil || len(again) != 1 || again[0].Addr() != got[pods[0].Name] {
		t.Fatalf("ADD repeated for %s: %v, %v; want %s", pods[0].Key(), again, err, got[pods[0].Name])
	}

	down, err := ipampath.New(ipampath.Config{Namespace: ns, Plugin: filepath.Join(bin, "spiderpool"),
		NetConf: func(localcluster.Node) ([]byte, error) {
			return []byte(`{"cniVersion":"1.0.0","name":"n","type":"macvlan","ipam":{"type":"spiderpool","ipam_unix_socket_path":"` + filepath.Join(bin, "none.sock") + `"}}`), nil
		}}, env.Client, nodes)
	if err != nil {
		t.Fatal(err)
	}
	start := time.Now()
	_, err = down.Add(ctx, pods[1])
	var cniErr *ipampath.CNIError
	if !errors.As(err, &cniErr) || cniErr.Code != 11 || time.Since(start) > 20*time.Second {
		t.Fatalf("ADD without an agent: %v after %s; want CNI error 11 at once", err, time.Since(start))
	}

	for _, step := range []func(context.Context, *ipampath.Pod) error{d.TerminatePod, d.Del, d.DeletePod} {
		for i, err := range ipampath.ForEach(ctx, pods, step) {
			if err != nil {
				t.Fatalf("%s: %v", pods[i].Key(), err)
			}
		}
	}
	dyn, err := dynamic.NewForConfig(env.Config)
	if err != nil {
		t.Fatal(err)
	}
	list, err := dyn.Resource(v1alpha1.GroupVersion.WithResource("ipclaims")).List(ctx, metav1.ListOptions{})
	if err != nil {
		t.Fatal(err)
	}
	for _, c := range list.Items {
		if holderNS, _, _ := unstructured.NestedString(c.Object, "spec", "holder", "namespace"); holderNS == ns {
			t.Errorf("claim %s still held by a pod of %s after DEL", c.GetName(), ns)
		}
	}
}
