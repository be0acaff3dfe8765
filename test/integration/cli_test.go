//go:build integration

package integration

import (
	"bytes"
	"context"
	"encoding/json"
	"path/filepath"
	"strings"
	"testing"
	"time"

	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/types"
	"k8s.io/cli-runtime/pkg/genericiooptions"
	"k8s.io/utils/ptr"
	"sigs.k8s.io/controller-runtime/pkg/client"

	"github.com/ipkeeper/ipkeeper/api/ipkeeper/v1alpha1"
	"github.com/ipkeeper/ipkeeper/api/v2beta1"
	"github.com/ipkeeper/ipkeeper/internal/cli"
	"github.com/ipkeeper/ipkeeper/test/localcluster"
)

// cliCluster is a control plane of its own, so that check sees only the
// fixture (the shared one holds other tests' objects).
type cliCluster struct {
	kubeconfig string
	c          client.Client
}

func startCLICluster(t *testing.T) *cliCluster {
	t.Helper()
	dir := t.TempDir()
	cfg := localcluster.Config{StateDir: filepath.Join(dir, "cluster")}
	if err := cfg.Complete(); err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 3*time.Minute)
	defer cancel()
	lc, err := localcluster.Up(ctx, cfg)
	if lc != nil {
		t.Cleanup(func() {
			if err := lc.Down(context.Background()); err != nil {
				t.Errorf("stop control plane: %v", err)
			}
		})
	}
	if err != nil {
		t.Fatal(err)
	}
	rc, err := lc.RESTConfig()
	if err != nil {
		t.Fatal(err)
	}
	c, err := client.New(rc, client.Options{Scheme: env.client.Scheme()})
	if err != nil {
		t.Fatal(err)
	}
	return &cliCluster{kubeconfig: lc.Kubeconfig(), c: c}
}

// run runs `kubectl ipkeeper args…` against the cluster and returns its
// output and exit status.
func (k *cliCluster) run(t *testing.T, args ...string) (string, int) {
	t.Helper()
	var out, errOut bytes.Buffer
	cmd := cli.NewCommand(genericiooptions.IOStreams{In: strings.NewReader(""), Out: &out, ErrOut: &errOut})
	cmd.SetArgs(append([]string{"--kubeconfig", k.kubeconfig}, args...))
	err := cmd.ExecuteContext(t.Context())
	if err != nil {
		errOut.WriteString("error: " + err.Error())
	}
	t.Logf("kubectl ipkeeper %s → %d\n%s%s", strings.Join(args, " "), cli.ExitCode(err), out.String(), errOut.String())
	return out.String() + errOut.String(), cli.ExitCode(err)
}

func (k *cliCluster) create(t *testing.T, objs ...client.Object) {
	t.Helper()
	for _, o := range objs {
		if err := k.c.Create(t.Context(), o); err != nil {
			t.Fatalf("create %T %s: %v", o, o.GetName(), err)
		}
	}
}

// cliFixture: pool cli-a (10.77.1.1-20, .20 reserved), two running pods with
// their claims and endpoints, the pool's count right: a healthy cluster.
func cliFixture(t *testing.T, k *cliCluster) (pods []*corev1.Pod) {
	t.Helper()
	ctx := t.Context()
	k.create(t, &corev1.Namespace{ObjectMeta: metav1.ObjectMeta{Name: "cli"}})
	pool := &v2beta1.SpiderIPPool{ObjectMeta: metav1.ObjectMeta{Name: "cli-a"},
		Spec: v2beta1.SpiderIPPoolSpec{Subnet: "10.77.0.0/16", IPs: []string{"10.77.1.1-10.77.1.20"}, Gateway: ptr.To("10.77.0.1")}}
	k.create(t, &v2beta1.SpiderReservedIP{ObjectMeta: metav1.ObjectMeta{Name: "cli-r"}, Spec: v2beta1.SpiderReservedIPSpec{IPs: []string{"10.77.1.20"}}}, pool)
	for i, addr := range []string{"10.77.1.1", "10.77.1.2"} {
		pod := &corev1.Pod{
			ObjectMeta: metav1.ObjectMeta{Namespace: "cli", Name: []string{"web-0", "web-1"}[i],
				Annotations: map[string]string{"ipam.spidernet.io/ippool": `{"ipv4":["cli-a"]}`}},
			Spec: corev1.PodSpec{NodeName: "cli-node", Containers: []corev1.Container{{Name: "c", Image: "nginx"}}},
		}
		k.create(t, pod)
		pod.Status = corev1.PodStatus{Phase: corev1.PodRunning, PodIP: addr, PodIPs: []corev1.PodIP{{IP: addr}}}
		if err := k.c.Status().Update(ctx, pod); err != nil {
			t.Fatal(err)
		}
		pods = append(pods, pod)
		k.create(t, cliClaim(addr, "cli-a", pod.Name, pod.UID, "eth0"), cliEndpoint(pod, addr))
	}
	k.setCount(t, 2)
	return pods
}

func cliClaim(addr, pool, pod string, uid types.UID, ifName string) *v1alpha1.IPClaim {
	return &v1alpha1.IPClaim{
		ObjectMeta: metav1.ObjectMeta{Name: addr, Labels: map[string]string{v1alpha1.LabelPool: pool, v1alpha1.LabelNode: "cli-node"}},
		Spec: v1alpha1.IPClaimSpec{Address: addr, Pool: pool, Node: "cli-node",
			Holder: v1alpha1.ClaimHolder{Namespace: "cli", Name: pod, UID: uid, ContainerID: "c-" + pod, Interface: ifName},
			Owner:  v1alpha1.ClaimOwner{APIVersion: "v1", Kind: "Pod", Name: pod, UID: uid}},
	}
}

func cliEndpoint(pod *corev1.Pod, addr string) *v2beta1.SpiderEndpoint {
	return &v2beta1.SpiderEndpoint{
		ObjectMeta: metav1.ObjectMeta{Namespace: pod.Namespace, Name: pod.Name},
		Status: v2beta1.SpiderEndpointStatus{Current: v2beta1.PodIPAllocation{UID: pod.UID, Node: "cli-node",
			IPs: []v2beta1.IPAllocationDetail{{Interface: "eth0", IPv4: ptr.To(addr + "/16"), IPv4Pool: ptr.To("cli-a")}}}},
	}
}

func (k *cliCluster) setCount(t *testing.T, n int64) {
	t.Helper()
	pool := &v2beta1.SpiderIPPool{}
	if err := k.c.Get(t.Context(), client.ObjectKey{Name: "cli-a"}, pool); err != nil {
		t.Fatal(err)
	}
	pool.Status.AllocatedIPCount, pool.Status.TotalIPCount = ptr.To(n), ptr.To(int64(20))
	if err := k.c.Status().Update(t.Context(), pool); err != nil {
		t.Fatal(err)
	}
}

func TestIntegrationKubectlIpkeeper(t *testing.T) {
	k := startCLICluster(t)
	pods := cliFixture(t, k)

	t.Run("pools", func(t *testing.T) {
		out, code := k.run(t, "pools")
		if code != 0 || !strings.Contains(out, "cli-a") || !strings.Contains(out, "[#.........]  11%") || !strings.Contains(out, "Pod cli/web-0,Pod cli/web-1") {
			t.Errorf("pools table (exit %d) lacks the pool, its bar or its workloads", code)
		}
		out, _ = k.run(t, "pools", "-o", "json")
		var rows []cli.PoolUsage
		if err := json.Unmarshal([]byte(out), &rows); err != nil || len(rows) != 1 {
			t.Fatalf("pools -o json: %v: %s", err, out)
		}
		r := rows[0]
		if r.Total.Int64() != 20 || r.Reserved.Int64() != 1 || r.InUse.Int64() != 2 || r.Free.Int64() != 17 || r.Excluded.Int64() != 0 {
			t.Errorf("counts total/reserved/inUse/free/excluded = %v/%v/%v/%v/%v, want 20/1/2/17/0", r.Total, r.Reserved, r.InUse, r.Free, r.Excluded)
		}
		if _, code := k.run(t, "pools", "--subnet", "nope"); code != cli.ExitFailed {
			t.Errorf("pools --subnet nope: exit %d, want %d", code, cli.ExitFailed)
		}
	})

	t.Run("who-has", func(t *testing.T) {
		for addr, want := range map[string]string{"10.77.1.1": "held", "10.77.1.5": "free", "10.77.1.20": "reserved", "10.99.0.1": "outside-pools"} {
			out, code := k.run(t, "who-has", addr, "-o", "json")
			var h cli.Holding
			if err := json.Unmarshal([]byte(out), &h); err != nil || code != 0 {
				t.Fatalf("who-has %s: exit %d: %v", addr, code, err)
			}
			if h.State != want {
				t.Errorf("who-has %s: state %q, want %q", addr, h.State, want)
			}
			if want == "held" && (h.Claim == nil || h.Claim.Pod != "web-0" || h.Holder == nil || !h.Holder.Live) {
				t.Errorf("who-has %s: holder %+v %+v, want web-0, live", addr, h.Claim, h.Holder)
			}
		}
		if out, _ := k.run(t, "who-has", "10.77.1.1"); !strings.Contains(out, "pod:         cli/web-0") || !strings.Contains(out, "holder:      Running on cli-node") {
			t.Errorf("who-has text does not name the live holder")
		}
		if _, code := k.run(t, "who-has", "10.77.1.300"); code != cli.ExitFailed {
			t.Errorf("who-has of a bad address: exit %d", code)
		}
	})

	t.Run("pod", func(t *testing.T) {
		out, code := k.run(t, "pod", "cli/web-0", "-o", "json")
		var ex cli.PodExplanation
		if err := json.Unmarshal([]byte(out), &ex); err != nil || code != 0 || len(ex.Interfaces) != 1 {
			t.Fatalf("pod -o json: exit %d: %v", code, err)
		}
		eth0 := ex.Interfaces[0]
		if len(eth0.Addresses) != 1 || eth0.Addresses[0].Name != "10.77.1.1" || eth0.Rule != "pod annotation ipam.spidernet.io/ippool" ||
			len(eth0.Candidates) != 1 || eth0.Candidates[0].Pool != "cli-a" || eth0.Candidates[0].Free != "17" {
			t.Errorf("pod web-0's eth0: %+v", eth0)
		}
		// A pod naming a pool that does not exist: the rule and the reason.
		k.create(t, &corev1.Pod{ObjectMeta: metav1.ObjectMeta{Namespace: "cli", Name: "lost",
			Annotations: map[string]string{"ipam.spidernet.io/ippool": `{"ipv4":["cli-missing"]}`}},
			Spec: corev1.PodSpec{NodeName: "cli-node", Containers: []corev1.Container{{Name: "c", Image: "nginx"}}}})
		t.Cleanup(func() {
			_ = k.c.Delete(context.Background(), &corev1.Pod{ObjectMeta: metav1.ObjectMeta{Namespace: "cli", Name: "lost"}})
		})
		out, _ = k.run(t, "-n", "cli", "pod", "lost")
		if !strings.Contains(out, "addresses:  none") || !strings.Contains(out, "cli-missing") {
			t.Errorf("pod lost: the text does not say it has no address and why")
		}
	})

	t.Run("check clean", func(t *testing.T) {
		if out, code := k.run(t, "check"); code != 0 || !strings.Contains(out, "no findings") {
			t.Errorf("check on a healthy cluster: exit %d", code)
		}
	})

	faults := []struct {
		name, kind string
		inject     func(t *testing.T) (undo func())
	}{
		{"claim whose pod is gone", "claim-without-holder", func(t *testing.T) func() {
			c := cliClaim("10.77.1.9", "cli-a", "ghost", "ghost-uid", "eth0")
			k.create(t, c)
			k.setCount(t, 3)
			return func() { k.mustDelete(t, c); k.setCount(t, 2) }
		}},
		{"two endpoints naming one address", "endpoint-without-claim", func(t *testing.T) func() {
			ep := cliEndpoint(&corev1.Pod{ObjectMeta: metav1.ObjectMeta{Namespace: "cli", Name: "web-1", UID: pods[1].UID}}, "10.77.1.1")
			ep.Name = "web-copy"
			k.create(t, ep)
			return func() { k.mustDelete(t, ep) }
		}},
		{"claim outside its pool", "claim-outside-pool", func(t *testing.T) func() {
			c := cliClaim("10.77.2.1", "cli-a", "web-1", pods[1].UID, "net1")
			k.create(t, c)
			k.setCount(t, 3)
			return func() { k.mustDelete(t, c); k.setCount(t, 2) }
		}},
		{"a count that disagrees", "pool-count-mismatch", func(t *testing.T) func() {
			k.setCount(t, 5)
			return func() { k.setCount(t, 2) }
		}},
	}
	for _, f := range faults {
		t.Run("check "+f.name, func(t *testing.T) {
			undo := f.inject(t)
			out, code := k.run(t, "check", "--gc-window", "1ms", "-o", "json")
			var res cli.CheckResult
			if err := json.Unmarshal([]byte(strings.SplitN(out, "error:", 2)[0]), &res); err != nil {
				t.Fatalf("check -o json: %v", err)
			}
			if code != cli.ExitFindings || len(res.Findings) == 0 || res.Findings[0].Kind != f.kind {
				t.Errorf("check with %s: exit %d, findings %+v; want exit 1 and a %s finding first", f.name, code, res.Findings, f.kind)
			}
			undo()
			if _, code := k.run(t, "check", "--gc-window", "1ms"); code != 0 {
				t.Errorf("check after undoing %s: exit %d", f.name, code)
			}
		})
	}

	t.Run("release", func(t *testing.T) {
		if out, code := k.run(t, "release", "10.77.1.1"); code != cli.ExitFindings || !strings.Contains(out, "lives") {
			t.Errorf("release of a live pod's address: exit %d", code)
		}
		k.mustExist(t, "10.77.1.1")
		k.create(t, cliClaim("10.77.1.9", "cli-a", "ghost", "ghost-uid", "eth0"))
		if out, code := k.run(t, "release", "10.77.1.9", "--dry-run"); code != 0 || !strings.Contains(out, "would be released") {
			t.Errorf("release --dry-run: exit %d", code)
		}
		k.mustExist(t, "10.77.1.9")
		if out, code := k.run(t, "release", "10.77.1.9"); code != 0 || !strings.Contains(out, "released") {
			t.Errorf("release of a leak: exit %d", code)
		}
		if err := k.c.Get(t.Context(), client.ObjectKey{Name: "10.77.1.9"}, &v1alpha1.IPClaim{}); !apierrors.IsNotFound(err) {
			t.Errorf("the leaked claim is still there: %v", err)
		}
		// Run again (as after an interrupted run): nothing left to do.
		if out, code := k.run(t, "release", "10.77.1.9"); code != 0 || !strings.Contains(out, "not claimed") {
			t.Errorf("release run again: exit %d", code)
		}
	})
}

func (k *cliCluster) mustDelete(t *testing.T, o client.Object) {
	t.Helper()
	if err := k.c.Delete(context.Background(), o); err != nil {
		t.Errorf("delete %s: %v", o.GetName(), err)
	}
}

func (k *cliCluster) mustExist(t *testing.T, claim string) {
	t.Helper()
	if err := k.c.Get(t.Context(), client.ObjectKey{Name: claim}, &v1alpha1.IPClaim{}); err != nil {
		t.Errorf("claim %s: %v; want it kept", claim, err)
	}
}
