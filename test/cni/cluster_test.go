//go:build e2e

package cni

// The API server side: the control plane started once for the package, the
// pools every test draws from, and each test's Node, namespace, pods and
// claims.

import (
	"context"
	"crypto/rand"
	"fmt"
	"net/netip"
	"os"
	"regexp"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	kruntime "k8s.io/apimachinery/pkg/runtime"
	"k8s.io/apimachinery/pkg/util/wait"
	clientgoscheme "k8s.io/client-go/kubernetes/scheme"
	"sigs.k8s.io/controller-runtime/pkg/client"

	"github.com/ipkeeper/ipkeeper/api/ipkeeper/v1alpha1"
	"github.com/ipkeeper/ipkeeper/api/v2beta1"
	"github.com/ipkeeper/ipkeeper/test/localcluster"
)

// kube is the package's API server; set by startControlPlane.
var kube struct {
	kubeconfig string
	// client reads and writes the API server directly (no cache): what it
	// lists is what the agent wrote.
	client client.Client
}

// The pools the tests name, in the netconf or in the pod's annotation.
var pools = []*v2beta1.SpiderIPPool{
	ipPool("p1", "10.6.0.0/16", "10.6.0.1", "10.6.168.101-10.6.168.200"),
	ipPool("p6", "fd00:10:6::/64", "fd00:10:6::1", "fd00:10:6::101-fd00:10:6::164"),
}

func ipPool(name, subnet, gateway string, ips ...string) *v2beta1.SpiderIPPool {
	return &v2beta1.SpiderIPPool{
		ObjectMeta: metav1.ObjectMeta{Name: name},
		Spec:       v2beta1.SpiderIPPoolSpec{Subnet: subnet, Gateway: &gateway, IPs: ips},
	}
}

// startControlPlane starts etcd and the control plane with ipkeeper's CRDs
// in stateDir, creates the pools and sets kube. down stops the control plane
// (nil when there is nothing to stop).
func startControlPlane(stateDir string) (down func(), err error) {
	cpCfg := localcluster.Config{StateDir: stateDir}
	if err := cpCfg.Complete(); err != nil {
		return nil, err
	}
	ctx, cancel := context.WithTimeout(context.Background(), 3*time.Minute)
	defer cancel()
	c, err := localcluster.Up(ctx, cpCfg)
	if c != nil {
		down = func() {
			if err := c.Down(context.Background()); err != nil {
				fmt.Fprintln(os.Stderr, "stop control plane:", err)
			}
		}
	}
	if err != nil {
		return down, fmt.Errorf("start control plane: %w", err)
	}
	kube.kubeconfig = c.Kubeconfig()
	cfg, err := c.RESTConfig()
	if err != nil {
		return down, err
	}
	scheme := kruntime.NewScheme()
	for _, add := range []func(*kruntime.Scheme) error{clientgoscheme.AddToScheme, v2beta1.AddToScheme, v1alpha1.AddToScheme} {
		if err := add(scheme); err != nil {
			return down, err
		}
	}
	if kube.client, err = client.New(cfg, client.Options{Scheme: scheme}); err != nil {
		return down, err
	}
	for _, p := range pools {
		if err := kube.client.Create(ctx, p.DeepCopy()); err != nil {
			return down, fmt.Errorf("create pool %s: %w", p.Name, err)
		}
	}
	return down, nil
}

var notInName = regexp.MustCompile(`[^a-z0-9]+`)

// objectName names a test's Node and namespace: "cni-", the test's name as
// a DNS label, and a random suffix so that -count=N runs do not collide.
func objectName(t *testing.T) string {
	slug := strings.Trim(notInName.ReplaceAllString(strings.ToLower(t.Name()), "-"), "-")
	if len(slug) > 40 {
		slug = strings.TrimRight(slug[:40], "-")
	}
	return "cni-" + slug + "-" + strings.ToLower(rand.Text()[:5])
}

// createNodeObjects creates the Node an agent serves and the namespace of
// the pods bound to it.
func createNodeObjects(t *testing.T, name string) {
	t.Helper()
	mustCreate(t, &corev1.Node{ObjectMeta: metav1.ObjectMeta{Name: name}},
		&corev1.Namespace{ObjectMeta: metav1.ObjectMeta{Name: name}})
	// Pods are admitted once the namespace has its default service account.
	poll(t, 30*time.Second, "default service account in namespace "+name, func(ctx context.Context) (bool, error) {
		err := kube.client.Get(ctx, client.ObjectKey{Namespace: name, Name: "default"}, &corev1.ServiceAccount{})
		return err == nil, client.IgnoreNotFound(err)
	})
}

// createPod creates a bare pod bound to node n. Nothing runs it: it stays
// Pending, which is all the agent needs.
func createPod(t *testing.T, n *node, name string, annotations map[string]string) *corev1.Pod {
	t.Helper()
	pod := &corev1.Pod{
		ObjectMeta: metav1.ObjectMeta{Namespace: n.podNamespace, Name: name, Annotations: annotations},
		Spec: corev1.PodSpec{
			NodeName:                     n.name,
			AutomountServiceAccountToken: new(false),
			Containers:                   []corev1.Container{{Name: "app", Image: "registry.k8s.io/pause:3.10"}},
		},
	}
	mustCreate(t, pod)
	return pod
}

func mustCreate(t *testing.T, objs ...client.Object) {
	t.Helper()
	for _, o := range objs {
		if err := kube.client.Create(t.Context(), o); err != nil {
			t.Fatalf("create %T %s: %v", o, o.GetName(), err)
		}
	}
}

// claims lists the IPClaims of node n.
func claims(t *testing.T, n *node) []v1alpha1.IPClaim {
	t.Helper()
	var list v1alpha1.IPClaimList
	if err := kube.client.List(t.Context(), &list, client.MatchingLabels{v1alpha1.LabelNode: n.name}); err != nil {
		t.Fatalf("list the claims of node %s: %v", n.name, err)
	}
	return list.Items
}

// wantClaims checks that node n's claims in the API server are exactly the
// addresses given, in the CIDR form of a CNI result.
func wantClaims(t *testing.T, n *node, cidrs ...string) {
	t.Helper()
	want := []string{}
	for _, cidr := range cidrs {
		want = append(want, netip.MustParsePrefix(cidr).Addr().String())
	}
	got := []string{}
	for _, c := range claims(t, n) {
		got = append(got, c.Spec.Address)
	}
	slices.Sort(want)
	slices.Sort(got)
	if diff := cmp.Diff(want, got); diff != "" {
		t.Errorf("IPClaims of node %s (-want +got):\n%s", n.name, diff)
	}
}

// poll waits until cond holds, failing the test after timeout.
func poll(t *testing.T, timeout time.Duration, what string, cond wait.ConditionWithContextFunc) {
	t.Helper()
	if err := wait.PollUntilContextTimeout(t.Context(), 50*time.Millisecond, timeout, true, cond); err != nil {
		t.Fatalf("waiting for %s: %v", what, err)
	}
}

// endPod deletes the sandbox's pod at once, as a force delete does: the
// runtime's DEL then tears the sandbox down for good, and releases its
// addresses (a live pod's DEL keeps them for its next sandbox).
func endPod(t *testing.T, sb *sandbox) {
	t.Helper()
	if err := kube.client.Delete(t.Context(), sb.pod, client.GracePeriodSeconds(0)); err != nil {
		t.Fatalf("delete pod %s: %v", sb.pod.Name, err)
	}
}
