//go:build integration

package integration

import (
	"context"
	"errors"
	"fmt"
	"io"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"testing"
	"time"

	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/util/wait"
	"k8s.io/utils/ptr"
	"sigs.k8s.io/controller-runtime/pkg/client"

	"github.com/ipkeeper/ipkeeper/api/ipkeeper/v1alpha1"
	"github.com/ipkeeper/ipkeeper/api/v2beta1"
	"github.com/ipkeeper/ipkeeper/internal/agentapi"
)

// agentProc is one ipkeeper-agent process serving a node.
type agentProc struct {
	node, socket string
	cmd          *exec.Cmd
	client       *agentapi.Client
}

// startAgent starts an agent for node, with its socket in dir, as the
// cluster admin.
func startAgent(t testing.TB, node, dir string) *agentProc {
	t.Helper()
	return startAgentAs(t, node, dir, env.kubeconfig, nil)
}

// startAgentAs starts an agent with the credentials of kubeconfig, writing
// its log to log (nil discards it), and waits until it is ready. args are
// further flags, such as --config.
func startAgentAs(t testing.TB, node, dir, kubeconfig string, log io.Writer, args ...string) *agentProc {
	t.Helper()
	a := &agentProc{node: node, socket: filepath.Join(dir, node+".sock")}
	a.cmd = exec.Command(env.agentBin, append([]string{"--node-name", node, "--socket", a.socket,
		"--metrics-bind-address", "0", "--health-probe-bind-address", "0"}, args...)...)
	a.cmd.Env = append(a.cmd.Environ(), "KUBECONFIG="+kubeconfig)
	a.cmd.Stdout, a.cmd.Stderr = log, log
	if err := a.cmd.Start(); err != nil {
		t.Fatalf("start agent %s: %v", node, err)
	}
	t.Cleanup(func() { a.kill() })
	a.client = agentapi.NewClient(a.socket, 30*time.Second)
	poll(t, 60*time.Second, "agent "+node+" ready", func(ctx context.Context) (bool, error) {
		return a.client.Ready(ctx) == nil, nil
	})
	return a
}

func (a *agentProc) kill() {
	if a.cmd.Process != nil {
		_ = a.cmd.Process.Signal(syscall.SIGKILL)
		_, _ = a.cmd.Process.Wait()
	}
}

func poll(t testing.TB, timeout time.Duration, what string, cond wait.ConditionWithContextFunc) {
	t.Helper()
	if err := wait.PollUntilContextTimeout(t.Context(), 100*time.Millisecond, timeout, true, cond); err != nil {
		t.Fatalf("waiting for %s: %v", what, err)
	}
}

func mustCreate(t testing.TB, objs ...client.Object) {
	t.Helper()
	for _, o := range objs {
		if err := env.client.Create(t.Context(), o); err != nil {
			t.Fatalf("create %T %s: %v", o, o.GetName(), err)
		}
	}
}

func namespace(t testing.TB, name string) {
	mustCreate(t, &corev1.Namespace{ObjectMeta: metav1.ObjectMeta{Name: name}})
	poll(t, 30*time.Second, "default service account in "+name, func(ctx context.Context) (bool, error) {
		err := env.client.Get(ctx, client.ObjectKey{Namespace: name, Name: "default"}, &corev1.ServiceAccount{})
		return err == nil, client.IgnoreNotFound(err)
	})
}

func ipPool(name, subnet string, ips ...string) *v2beta1.SpiderIPPool {
	return &v2beta1.SpiderIPPool{ObjectMeta: metav1.ObjectMeta{Name: name}, Spec: v2beta1.SpiderIPPoolSpec{Subnet: subnet, IPs: ips}}
}

// createPods creates n bare pods bound to nodes round-robin, drawing from pool.
func createPods(t testing.TB, ns, pool string, n int, nodes []string) []*corev1.Pod {
	pods := make([]*corev1.Pod, n)
	var wg sync.WaitGroup
	sem := make(chan struct{}, 32)
	for i := range n {
		wg.Go(func() {
			sem <- struct{}{}
			defer func() { <-sem }()
			p := &corev1.Pod{
				ObjectMeta: metav1.ObjectMeta{Namespace: ns, Name: fmt.Sprintf("pod-%d", i),
					Annotations: map[string]string{"ipam.spidernet.io/ippool": fmt.Sprintf(`{"ipv4":[%q]}`, pool)}},
				Spec: corev1.PodSpec{NodeName: nodes[i%len(nodes)], AutomountServiceAccountToken: ptr.To(false),
					Containers: []corev1.Container{{Name: "c", Image: "nginx"}}},
			}
			if err := env.client.Create(context.Background(), p); err != nil {
				t.Errorf("create pod %d: %v", i, err)
			}
			pods[i] = p
		})
	}
	wg.Wait()
	if t.Failed() {
		t.FailNow()
	}
	return pods
}

// endPod deletes a pod at once, as a force delete does: the runtime's DEL
// then releases its addresses (a live pod's DEL keeps them for its next
// sandbox).
func endPod(t testing.TB, p *corev1.Pod) {
	t.Helper()
	if err := env.client.Delete(t.Context(), p, client.GracePeriodSeconds(0)); err != nil {
		t.Fatalf("delete pod %s: %v", p.Name, err)
	}
}

func add(ctx context.Context, a *agentProc, p *corev1.Pod, container string) (*agentapi.AddResponse, error) {
	return a.client.Add(ctx, &agentapi.AddRequest{
		Attachment: agentapi.Attachment{ContainerID: container, IfName: "eth0"},
		Pod:        agentapi.PodRef{Namespace: p.Namespace, Name: p.Name, UID: string(p.UID)},
		Network:    "integration",
	})
}

// claimsOf lists the claims of pool and fails on an address held twice or a
// pod holding two addresses.
func claimsOf(t testing.TB, pool string) map[string]string {
	t.Helper()
	var list v1alpha1.IPClaimList
	if err := env.client.List(t.Context(), &list, client.MatchingLabels{v1alpha1.LabelPool: pool}); err != nil {
		t.Fatal(err)
	}
	byPod := map[string]string{}
	for _, c := range list.Items {
		holder := c.Spec.Holder.Namespace + "/" + c.Spec.Holder.Name
		if prev, dup := byPod[holder]; dup {
			t.Fatalf("pod %s holds %s and %s", holder, prev, c.Spec.Address)
		}
		byPod[holder] = c.Spec.Address
	}
	return byPod
}

func TestIntegrationTenAgentsFillAPoolOfExactly1000(t *testing.T) {
	const ns, pool = "ten-agents", "pool-1000"
	namespace(t, ns)
	var nodes []string
	for i := range 10 {
		nodes = append(nodes, fmt.Sprintf("agent-node%d", i))
		mustCreate(t, &corev1.Node{ObjectMeta: metav1.ObjectMeta{Name: nodes[i]}})
	}
	mustCreate(t, ipPool(pool, "10.6.0.0/16", "10.6.1.0-10.6.4.231"))
	pods := createPods(t, ns, pool, 1001, nodes)
	dir := t.TempDir()
	agents := make([]*agentProc, len(nodes))
	for i, n := range nodes {
		agents[i] = startAgent(t, n, dir)
	}

	got := make([]string, 1000)
	var wg sync.WaitGroup
	sem := make(chan struct{}, 50) // five concurrent ADDs per node, as a kubelet would
	for i := range 1000 {
		wg.Go(func() {
			sem <- struct{}{}
			defer func() { <-sem }()
			resp, err := add(t.Context(), agents[i%10], pods[i], fmt.Sprint("sandbox-", i))
			if err != nil {
				t.Errorf("ADD pod-%d: %v", i, err)
				return
			}
			got[i] = resp.IPs[0].Address
		})
	}
	wg.Wait()
	seen := map[string]int{}
	for i, a := range got {
		if j, dup := seen[a]; dup && a != "" {
			t.Fatalf("address %s handed to pod-%d and pod-%d", a, j, i)
		}
		seen[a] = i
	}
	if n := len(claimsOf(t, pool)); n != 1000 {
		t.Fatalf("%d claims in the API server, want 1000", n)
	}

	_, err := add(t.Context(), agents[7], pods[1000], "sandbox-1000")
	var apiErr *agentapi.Error
	if !errors.As(err, &apiErr) || apiErr.Code != agentapi.CodeAllocationFailed ||
		!strings.Contains(apiErr.Msg, "all IPs have been exhausted (total 1000, reserved 0, excluded 0, in use 1000)") {
		t.Fatalf("ADD of the 1001st pod: %v; want code 100 with the exhaustion message and counts", err)
	}
	poll(t, 30*time.Second, "IPAllocationFailed event on pod-1000", func(ctx context.Context) (bool, error) {
		var events corev1.EventList
		if err := env.client.List(ctx, &events, client.InNamespace(ns)); err != nil {
			return false, err
		}
		for _, e := range events.Items {
			if e.InvolvedObject.Name == "pod-1000" && e.Reason == "IPAllocationFailed" && strings.Contains(e.Message, "all IPs have been exhausted") {
				return true, nil
			}
		}
		return false, nil
	})
}

func TestIntegrationAgentKilledMidFlight(t *testing.T) {
	const ns, pool, node, n = "killed-agent", "pool-kill", "kill-node", 150
	namespace(t, ns)
	mustCreate(t, &corev1.Node{ObjectMeta: metav1.ObjectMeta{Name: node}},
		ipPool(pool, "10.7.0.0/16", "10.7.0.10-10.7.0.209"))
	pods := createPods(t, ns, pool, n, []string{node})
	dir := t.TempDir()
	agent := startAgent(t, node, dir)

	// Fire every ADD at once and SIGKILL the agent once 30 have succeeded:
	// some requests are answered, some are cut off after the claim was written.
	var ok atomic.Int32
	killed := make(chan struct{})
	var once sync.Once
	var wg sync.WaitGroup
	sem := make(chan struct{}, 20)
	for i := range n {
		wg.Go(func() {
			sem <- struct{}{}
			defer func() { <-sem }()
			if _, err := add(t.Context(), agent, pods[i], fmt.Sprint("first-", i)); err == nil && ok.Add(1) == 30 {
				once.Do(func() { agent.kill(); close(killed) })
			}
		})
	}
	wg.Wait()
	<-killed

	// The runtime retries every ADD against the restarted agent.
	agent = startAgent(t, node, dir)
	got := map[string]string{}
	for i, p := range pods {
		resp, err := add(t.Context(), agent, p, fmt.Sprint("retry-", i))
		if err != nil {
			t.Fatalf("retried ADD pod-%d: %v", i, err)
		}
		got[ns+"/"+p.Name] = resp.IPs[0].Address
	}
	claims := claimsOf(t, pool)
	if len(claims) != n {
		t.Fatalf("%d claims after the crash and retries, want %d (one per pod, none leaked)", len(claims), n)
	}
	for pod, addr := range got {
		if claims[pod]+"/16" != addr {
			t.Errorf("pod %s was answered %s but its claim holds %s", pod, addr, claims[pod])
		}
	}
	var eps v2beta1.SpiderEndpointList
	if err := env.client.List(t.Context(), &eps, client.InNamespace(ns)); err != nil {
		t.Fatal(err)
	}
	if len(eps.Items) != n {
		t.Errorf("%d SpiderEndpoints, want %d", len(eps.Items), n)
	}
	for _, ep := range eps.Items {
		if ips := ep.Status.Current.IPs; len(ips) != 1 || ips[0].IPv4 == nil || *ips[0].IPv4 != got[ns+"/"+ep.Name] {
			t.Errorf("endpoint %s: %+v, want %s", ep.Name, ips, got[ns+"/"+ep.Name])
		}
	}
}
