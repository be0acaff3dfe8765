//go:build integration

package integration

import (
	"context"
	"errors"
	"fmt"
	"maps"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	coordinationv1 "k8s.io/api/coordination/v1"
	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/utils/ptr"
	"sigs.k8s.io/controller-runtime/pkg/client"
	"sigs.k8s.io/controller-runtime/pkg/controller/controllerutil"

	"github.com/ipkeeper/ipkeeper/api/ipkeeper/v1alpha1"
	"github.com/ipkeeper/ipkeeper/api/v2beta1"
	"github.com/ipkeeper/ipkeeper/internal/agentapi"
)

const (
	// rbacNS is the release namespace of the chart's RBAC in these tests.
	rbacNS = "rbac"
	// rbacRelease names the release, so its objects are rbac-ipkeeper-*.
	rbacRelease = "rbac"
	rbacNode    = "rbac-node"
)

// rbacRun is the agent and the controller of TestIntegrationRBAC, each
// running with nothing but its chart ServiceAccount's token.
type rbacRun struct {
	agent                   *agentProc
	agentKC, controllerKC   string
	certSecret              string
	agentLog, controllerLog string
}

// The API server authorizes with RBAC (test/localcluster), so an agent and a
// controller that run with only the credentials the chart gives them show
// the chart grants what they need; the refusals show it grants no more.
func TestIntegrationRBAC(t *testing.T) {
	namespace(t, rbacNS)
	chart := renderChartRBAC(t, rbacRelease, rbacNS)
	t.Run("NoWildcards", func(t *testing.T) { testRBACNoWildcards(t, chart) })
	chart.apply(t)
	logs := t.TempDir()
	r := &rbacRun{
		agentKC:       serviceAccountKubeconfig(t, rbacNS, chart.serviceAccount(t, "agent")),
		controllerKC:  serviceAccountKubeconfig(t, rbacNS, chart.serviceAccount(t, "controller")),
		certSecret:    chart.certSecret(t),
		agentLog:      filepath.Join(logs, "agent.log"),
		controllerLog: filepath.Join(logs, "controller.log"),
	}
	startControllerAs(t, r.controllerKC, logFile(t, r.controllerLog),
		"--webhook-cert-secret", rbacNS+"/"+r.certSecret, "--leader-election-namespace", rbacNS)
	waitWebhooks(t)
	mustCreate(t, &corev1.Node{ObjectMeta: metav1.ObjectMeta{Name: rbacNode}})
	r.agent = startAgentAs(t, rbacNode, t.TempDir(), r.agentKC, logFile(t, r.agentLog))

	t.Run("ControllerWebhooksAndLease", r.testControllerWebhooksAndLease)
	t.Run("AgentAddAndDel", r.testAgentAddAndDel)
	t.Run("ControllerReleasesAGonePodsClaim", r.testControllerGC)
	t.Run("ControllerCarvesAnAutoPool", r.testControllerAutoPool)
	t.Run("ControllerRendersAMultusConfig", testControllerMultusConfig)
	t.Run("AgentRefused", r.testAgentRefused)
	t.Run("ControllerRefused", r.testControllerRefused)
	// The controller watches the whole cluster: a pod another test left,
	// owned by a third-party kind the chart grants nothing on (docs/install.md),
	// would show here too.
	for _, log := range []string{r.agentLog, r.controllerLog} {
		if lines := linesWith(t, log, "forbidden"); len(lines) > 0 {
			t.Errorf("%s has %d lines with forbidden, the first: %.400s", filepath.Base(log), len(lines), lines[0])
		}
	}
}

func testRBACNoWildcards(t *testing.T, chart chartRBAC) {
	roles := chart.rules()
	if len(roles) != 3 {
		t.Fatalf("the chart renders roles %v, want the agent's and the controller's ClusterRoles and the controller's Role", slices.Sorted(maps.Keys(roles)))
	}
	for role, rules := range roles {
		for i, rule := range rules {
			for field, values := range map[string][]string{"verbs": rule.Verbs, "resources": rule.Resources, "apiGroups": rule.APIGroups} {
				if slices.Contains(values, "*") {
					t.Errorf("%s rule %d has * in %s: %v", role, i, field, values)
				}
			}
		}
	}
}

func (r *rbacRun) testControllerWebhooksAndLease(t *testing.T) {
	ctx := t.Context()
	p := ipPool("rbac-defaulted", "10.60.0.0/16", "10.60.0.1-10.60.0.9")
	mustCreate(t, p)
	if ptr.Deref(p.Spec.IPVersion, 0) != 4 || !controllerutil.ContainsFinalizer(p, v1alpha1.FinalizerAddressesInUse) {
		t.Errorf("created pool has ipVersion %v, finalizers %v; want 4 and %s from the mutating webhook",
			p.Spec.IPVersion, p.Finalizers, v1alpha1.FinalizerAddressesInUse)
	}
	refused(t, env.client.Create(ctx, ipPool("rbac-overlap", "10.60.0.0/24", "10.60.0.100")), "spec.subnet", "overlaps", "rbac-defaulted")
	var secret corev1.Secret
	if err := env.client.Get(ctx, client.ObjectKey{Namespace: rbacNS, Name: r.certSecret}, &secret); err != nil || len(secret.Data["tls.crt"]) == 0 {
		t.Errorf("certificate Secret %s/%s: %v, %d bytes of tls.crt; want one written by the controller", rbacNS, r.certSecret, err, len(secret.Data["tls.crt"]))
	}
	poll(t, 60*time.Second, "the controller to lead", func(ctx context.Context) (bool, error) {
		lease := &coordinationv1.Lease{}
		err := env.client.Get(ctx, client.ObjectKey{Namespace: rbacNS, Name: "ipkeeper-controller"}, lease)
		return err == nil && ptr.Deref(lease.Spec.HolderIdentity, "") != "", client.IgnoreNotFound(err)
	})
	waitPoolCounts(t, "rbac-defaulted", 0, 9)
}

func (r *rbacRun) testAgentAddAndDel(t *testing.T) {
	const ns, pool = "rbac-agent", "rbac-agent"
	namespace(t, ns)
	mustCreate(t, ipPool(pool, "10.61.0.0/16", "10.61.0.1-10.61.0.2"))
	pods := createPods(t, ns, pool, 3, []string{rbacNode})
	for i, p := range pods[:2] {
		resp, err := add(t.Context(), r.agent, p, fmt.Sprint("rbac-", i))
		if err != nil {
			t.Fatalf("ADD %s: %v", p.Name, err)
		}
		if len(resp.IPs) != 1 || !strings.HasPrefix(resp.IPs[0].Address, "10.61.0.") {
			t.Fatalf("ADD %s answered %+v, want one address of %s", p.Name, resp.IPs, pool)
		}
		if err := env.client.Get(t.Context(), client.ObjectKeyFromObject(p), &v2beta1.SpiderEndpoint{}); err != nil {
			t.Fatalf("endpoint of %s after ADD: %v", p.Name, err)
		}
	}
	if n := len(claimsOf(t, pool)); n != 2 {
		t.Fatalf("%d claims after two ADDs, want 2", n)
	}
	waitPoolCounts(t, pool, 2, 2)

	// An exhausted pool: the refusal is reported on the pod as an event.
	_, err := add(t.Context(), r.agent, pods[2], "rbac-2")
	if apiErr := (*agentapi.Error)(nil); !errors.As(err, &apiErr) || apiErr.Code != agentapi.CodeAllocationFailed {
		t.Fatalf("ADD of a third pod on two addresses: %v, want code %d", err, agentapi.CodeAllocationFailed)
	}
	waitEvent(t, ns, pods[2].Name, "IPAllocationFailed")

	for i, p := range pods[:2] {
		endPod(t, p)
		err := r.agent.client.Del(t.Context(), &agentapi.DelRequest{
			Attachment: agentapi.Attachment{ContainerID: fmt.Sprint("rbac-", i), IfName: "eth0"},
			Pod:        agentapi.PodRef{Namespace: ns, Name: p.Name, UID: string(p.UID)},
		})
		if err != nil {
			t.Fatalf("DEL %s: %v", p.Name, err)
		}
		if err := env.client.Get(t.Context(), client.ObjectKeyFromObject(p), &v2beta1.SpiderEndpoint{}); !apierrors.IsNotFound(err) {
			t.Errorf("endpoint of %s after DEL: %v, want not found", p.Name, err)
		}
	}
	if n := len(claimsOf(t, pool)); n != 0 {
		t.Fatalf("%d claims after DEL, want 0", n)
	}
	waitPoolCounts(t, pool, 0, 2)
}

// A claim has no owner reference, so only the controller's collector can
// release it once its pod is gone.
func (r *rbacRun) testControllerGC(t *testing.T) {
	const ns, pool = "rbac-gc", "rbac-gc"
	namespace(t, ns)
	mustCreate(t, ipPool(pool, "10.62.0.0/16", "10.62.0.1-10.62.0.4"))
	pod := createPods(t, ns, pool, 1, []string{rbacNode})[0]
	if _, err := add(t.Context(), r.agent, pod, "rbac-gc"); err != nil {
		t.Fatal(err)
	}
	waitPoolCounts(t, pool, 1, 4)
	if err := env.client.Delete(t.Context(), pod, client.GracePeriodSeconds(0)); err != nil {
		t.Fatal(err)
	}
	poll(t, gcWindow, "the controller to release the gone pod's claim", func(context.Context) (bool, error) {
		return len(claimsOf(t, pool)) == 0, nil
	})
	waitPoolCounts(t, pool, 0, 4)
}

func (r *rbacRun) testControllerAutoPool(t *testing.T) {
	const ns, subnet = "rbac-auto", "rbac-subnet"
	namespace(t, ns)
	mustCreate(t, apSubnet(subnet, "10.64.0.0/16", "10.64.0.1-10.64.0.100"))
	poll(t, apTimeout, "subnet status", func(ctx context.Context) (bool, error) {
		s := &v2beta1.SpiderSubnet{}
		err := env.client.Get(ctx, client.ObjectKey{Name: subnet}, s)
		return err == nil && ptr.Deref(s.Status.TotalIPCount, 0) == 100, err
	})
	d := apDeployment(ns, "rbac-web", 2, apSubnetAnno(subnet, "+1"))
	mustCreate(t, d)
	p, _ := apWaitPool(t, "auto pool of 3", d.UID, apSized(3))
	apScale(t, d, 3)
	apWaitPool(t, "auto pool of 4", d.UID, apSized(4))
	if err := env.client.Delete(t.Context(), d); err != nil {
		t.Fatal(err)
	}
	apWaitGone(t, p)
}

func testControllerMultusConfig(t *testing.T) {
	const ns = "rbac-multus"
	namespace(t, ns)
	smc := seedSMC(ns)
	mustCreate(t, smc)
	waitNAD(t, env.client, smc, seedNADConfig)
}

func (r *rbacRun) testAgentRefused(t *testing.T) {
	ctx := t.Context()
	mustCreate(t, ipPool("rbac-refused", "10.63.0.0/16", "10.63.0.1-10.63.0.4"))
	pool := &v2beta1.SpiderIPPool{}
	as := clientFor(t, r.agentKC)
	if err := as.Get(ctx, client.ObjectKey{Name: "rbac-refused"}, pool); err != nil {
		t.Fatalf("the agent reads a pool: %v", err)
	}
	assertForbidden(t, map[string]func() error{
		"update a pool's spec": func() error {
			p := pool.DeepCopy()
			p.Spec.IPs = append(p.Spec.IPs, "10.63.0.9")
			return as.Update(ctx, p)
		},
		"update a pool's status": func() error {
			p := pool.DeepCopy()
			p.Status.AllocatedIPCount = ptr.To[int64](3)
			return as.Status().Update(ctx, p)
		},
		"create a pool": func() error { return as.Create(ctx, ipPool("rbac-by-agent", "10.65.0.0/16", "10.65.0.1")) },
		"get the certificate Secret": func() error {
			return as.Get(ctx, client.ObjectKey{Namespace: rbacNS, Name: r.certSecret}, &corev1.Secret{})
		},
		"list Secrets of its namespace":  func() error { return as.List(ctx, &corev1.SecretList{}, client.InNamespace(rbacNS)) },
		"list Secrets of all namespaces": func() error { return as.List(ctx, &corev1.SecretList{}) },
		"delete a Node":                  func() error { return as.Delete(ctx, &corev1.Node{ObjectMeta: metav1.ObjectMeta{Name: rbacNode}}) },
	})
}

func (r *rbacRun) testControllerRefused(t *testing.T) {
	ctx := t.Context()
	mustCreate(t, &corev1.Secret{ObjectMeta: metav1.ObjectMeta{Namespace: "default", Name: r.certSecret}},
		&corev1.Secret{ObjectMeta: metav1.ObjectMeta{Namespace: rbacNS, Name: "rbac-other"}})
	as := clientFor(t, r.controllerKC)
	if err := as.Get(ctx, client.ObjectKey{Namespace: rbacNS, Name: r.certSecret}, &corev1.Secret{}); err != nil {
		t.Fatalf("the controller reads its certificate Secret: %v", err)
	}
	assertForbidden(t, map[string]func() error{
		"get a Secret of its name in another namespace": func() error {
			return as.Get(ctx, client.ObjectKey{Namespace: "default", Name: r.certSecret}, &corev1.Secret{})
		},
		"get another Secret of its namespace": func() error {
			return as.Get(ctx, client.ObjectKey{Namespace: rbacNS, Name: "rbac-other"}, &corev1.Secret{})
		},
		"list Secrets of its namespace": func() error { return as.List(ctx, &corev1.SecretList{}, client.InNamespace(rbacNS)) },
		"delete a Node":                 func() error { return as.Delete(ctx, &corev1.Node{ObjectMeta: metav1.ObjectMeta{Name: rbacNode}}) },
	})
}

// assertForbidden runs each action and asserts the API server refused it as
// Forbidden (not merely failed).
func assertForbidden(t *testing.T, actions map[string]func() error) {
	t.Helper()
	for name, do := range actions {
		if err := do(); !apierrors.IsForbidden(err) {
			t.Errorf("%s: %v, want Forbidden", name, err)
		}
	}
}

// waitPoolCounts waits until the controller has written a pool's counts.
func waitPoolCounts(t *testing.T, name string, allocated, total int64) {
	t.Helper()
	poll(t, 30*time.Second, fmt.Sprintf("pool %s status %d/%d", name, allocated, total), func(ctx context.Context) (bool, error) {
		p := &v2beta1.SpiderIPPool{}
		if err := env.client.Get(ctx, client.ObjectKey{Name: name}, p); err != nil {
			return false, err
		}
		return ptr.Deref(p.Status.AllocatedIPCount, -1) == allocated && ptr.Deref(p.Status.TotalIPCount, -1) == total, nil
	})
}

// waitEvent waits for an event of reason on the pod ns/pod.
func waitEvent(t *testing.T, ns, pod, reason string) {
	t.Helper()
	poll(t, 30*time.Second, reason+" event on "+pod, func(ctx context.Context) (bool, error) {
		var events corev1.EventList
		if err := env.client.List(ctx, &events, client.InNamespace(ns)); err != nil {
			return false, err
		}
		return slices.ContainsFunc(events.Items, func(e corev1.Event) bool {
			return e.InvolvedObject.Name == pod && e.Reason == reason
		}), nil
	})
}

// logFile creates a file for a process's log, closed when the test ends.
func logFile(t *testing.T, path string) *os.File {
	t.Helper()
	f, err := os.Create(path)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { f.Close() })
	return f
}

// linesWith returns the lines of a file that contain word, in any case.
func linesWith(t *testing.T, path, word string) []string {
	t.Helper()
	data, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	var out []string
	for line := range strings.SplitSeq(string(data), "\n") {
		if strings.Contains(strings.ToLower(line), word) {
			out = append(out, line)
		}
	}
	return out
}
