//go:build e2e

package chaos

import (
	"context"
	"errors"
	"fmt"
	"math/rand/v2"
	"net/netip"
	"path/filepath"
	"slices"
	"sync"
	"sync/atomic"
	"time"

	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/types"
	"k8s.io/apimachinery/pkg/util/wait"

	"github.com/ipkeeper/ipkeeper/internal/audit"
	"github.com/ipkeeper/ipkeeper/test/ipampath"
	"github.com/ipkeeper/ipkeeper/test/localcluster"
	"github.com/ipkeeper/ipkeeper/test/localcluster/nodesim"
)

// The kubelet stream: besides the workloads, bare pods bound to the nodes
// whose sandboxes the run sets up itself, running the CNI plugin as a
// kubelet and its runtime would (test/ipampath), so that most allocations
// of a long run cost no scheduler, ReplicaSet controller or simulated
// container. Each pod is created, given its addresses by CNI ADD (a failed
// ADD is torn down with DEL and retried with a new sandbox, as a runtime
// does), and ended one of four ways: deleted gracefully (55 %: DEL once its
// grace has passed), force-deleted (20 %: DEL after the pod is gone), its
// sandbox re-created while it lives (10 %: DEL, then ADD of a new sandbox,
// which must give the same addresses back, then deleted gracefully), or
// lost with its node's runtime (15 %: deleted, never a DEL: the collector
// must release it).
//
// The stream writes no pod status: a status write is fanned out to every
// pod watcher of the cluster and was the stream's dearest write. Its pods'
// addresses are checked at each ADD instead, against the live pods of the
// stream (its own record) and of the workloads (the run's pod informer,
// confirmed by a read from the API server).
const (
	// kubeletGraceSeconds is a kubelet pod's grace period.
	kubeletGraceSeconds = 1
	// kubeletRetry bounds how long a sandbox's ADD or DEL is retried.
	kubeletRetry = 90 * time.Second
)

// kubelet is the stream's state.
type kubelet struct {
	r *run
	d *ipampath.Driver

	mu sync.Mutex
	// live maps each address a live kubelet pod holds to that pod.
	live map[netip.Addr]types.UID

	Pods, AddRetries, DelRetries, Restarts, Lost, GaveUp atomic.Int64
	// Mismatches are re-created sandboxes given other addresses than the
	// pod had.
	Mismatches atomic.Int64
}

// startKubelet builds the plugin and returns the stream, or nil when it is
// off (-chaos.kubelet=0).
func (r *run) startKubelet() *kubelet {
	if *flagKubelet <= 0 {
		return nil
	}
	root, err := localcluster.RepoRoot()
	if err != nil {
		r.t.Fatal(err)
	}
	bin := r.t.TempDir()
	if err := localcluster.BuildPlugin(root, bin); err != nil {
		r.t.Fatalf("build the plugin for the kubelet stream: %v", err)
	}
	d, err := ipampath.New(ipampath.Config{Namespace: namespace, Plugin: filepath.Join(bin, "spiderpool"),
		CallTimeout: 20 * time.Second}, r.cs, r.env.Cluster.Nodes())
	if err != nil {
		r.t.Fatal(err)
	}
	return &kubelet{r: r, d: d, live: map[netip.Addr]types.UID{}}
}

// isKubeletPod says whether the run's kubelet stream, not a workload, owns p.
func isKubeletPod(p *corev1.Pod) bool { return p.Annotations[nodesim.UnmanagedAnnotation] == "true" }

// run drives -chaos.kubelet pods at a time per node until ctx ends; a pod
// in flight when it ends is ended before run returns.
func (k *kubelet) run(ctx context.Context) {
	var wg sync.WaitGroup
	for i, n := range k.r.env.Cluster.Nodes() {
		for w := range *flagKubelet {
			wg.Go(func() { k.worker(ctx, n.Name, w, rng(k.r.seed, uint64(3000+i*100+w))) })
		}
	}
	wg.Wait()
}

func (k *kubelet) worker(ctx context.Context, node string, w int, rnd *rand.Rand) {
	for seq := 0; ctx.Err() == nil; seq++ {
		// Calls come from the node's kubelet: none while it is down.
		if k.r.isHeld(localcluster.NodesimProcessName(node)) {
			_ = sleep(ctx, time.Second)
			continue
		}
		// Every step after the pod exists runs to its end, whatever ctx
		// does, so that no pod is left half made.
		if err := k.pod(context.WithoutCancel(ctx), node, fmt.Sprintf("kubelet-%s-%d-%d", node, w, seq), rnd); err != nil {
			k.GaveUp.Add(1)
			k.r.t.Logf("chaos: kubelet pod on %s: %v", node, err)
			_ = sleep(ctx, time.Second)
		}
		k.d.Calls() // the stream keeps no record of its calls
	}
}

// pod is one kubelet pod's life.
func (k *kubelet) pod(ctx context.Context, node, name string, rnd *rand.Rand) error {
	var pod *ipampath.Pod
	if err := retry(ctx, kubeletRetry, func() (err error) {
		if pod, err = k.d.CreatePod(ctx, node, name); apierrors.IsAlreadyExists(err) {
			pod, err = k.adopt(ctx, node, name) // an earlier attempt's create went through
		}
		return err
	}); err != nil {
		return err
	}
	k.Pods.Add(1)
	k.seen(ctx, pod)
	addrs, err := k.add(ctx, pod)
	if err != nil {
		// The runtime gave up on the sandbox; the pod is deleted and the
		// collector releases whatever a failed DEL left.
		return errors.Join(err, retry(ctx, kubeletRetry, func() error { return k.d.DeletePod(ctx, pod) }))
	}
	k.r.count(pod.UID)
	k.hold(ctx, pod, addrs)
	_ = sleep(ctx, time.Duration(rnd.IntN(500))*time.Millisecond)

	switch n := rnd.IntN(100); {
	case n < 10: // the sandbox is re-created while the pod lives
		k.Restarts.Add(1)
		if err := k.del(ctx, pod); err != nil {
			return k.forget(ctx, pod, addrs, err)
		}
		if err := pod.NewSandbox(); err != nil {
			return k.forget(ctx, pod, addrs, err)
		}
		again, err := k.add(ctx, pod)
		if err != nil {
			return k.forget(ctx, pod, addrs, err)
		}
		if !sameAddresses(addrs, again) {
			k.Mismatches.Add(1)
			k.r.t.Errorf("chaos: pod %s's re-created sandbox was given %v, the pod had %v", pod.Key(), again, addrs)
		}
		return k.graceful(ctx, pod, addrs)
	case n < 25: // the node's runtime lost the sandbox: no DEL ever comes
		k.Lost.Add(1)
		return k.forget(ctx, pod, addrs, nil)
	case n < 45: // force-deleted: the kubelet's DEL comes after the pod is gone
		if err := k.forget(ctx, pod, addrs, nil); err != nil {
			return err
		}
		return k.del(ctx, pod)
	default:
		return k.graceful(ctx, pod, addrs)
	}
}

// seen waits, for up to a few seconds, until the run's pod informer has the
// pod: a kubelet sets a sandbox up for a pod its watch delivered, and by
// then the node's agent, whose cache watches the same pods, mostly has it
// too (an ADD for a pod the agent's cache lacks costs it a read of the API
// server). An informer that is behind does not hold the pod back for long.
func (k *kubelet) seen(ctx context.Context, pod *ipampath.Pod) {
	_ = wait.PollUntilContextTimeout(ctx, 20*time.Millisecond, 5*time.Second, true, func(context.Context) (bool, error) {
		obj, ok, err := k.r.podStore.GetByKey(pod.Key())
		return err == nil && ok && obj.(*corev1.Pod).UID == pod.UID, nil
	})
}

// adopt returns the pod an earlier create made, whose answer was lost.
func (k *kubelet) adopt(ctx context.Context, node, name string) (*ipampath.Pod, error) {
	p, err := k.r.cs.CoreV1().Pods(namespace).Get(ctx, name, metav1.GetOptions{})
	if err != nil {
		return nil, fmt.Errorf("get pod %s/%s: %w", namespace, name, err)
	}
	pod := &ipampath.Pod{Namespace: p.Namespace, Name: p.Name, UID: p.UID, Node: node}
	return pod, pod.NewSandbox()
}

// add runs ADD until it succeeds, tearing a failed sandbox down with DEL
// and retrying with a new one, as a runtime does.
func (k *kubelet) add(ctx context.Context, pod *ipampath.Pod) ([]netip.Prefix, error) {
	var addrs []netip.Prefix
	err := retry(ctx, kubeletRetry, func() error {
		var err error
		if addrs, err = k.d.Add(ctx, pod); err == nil {
			return nil
		}
		k.AddRetries.Add(1)
		_ = k.d.Del(ctx, pod)
		return errors.Join(err, pod.NewSandbox())
	})
	return addrs, err
}

// del runs DEL until it succeeds.
func (k *kubelet) del(ctx context.Context, pod *ipampath.Pod) error {
	return retry(ctx, kubeletRetry, func() error {
		err := k.d.Del(ctx, pod)
		if err != nil {
			k.DelRetries.Add(1)
		}
		return err
	})
}

// graceful deletes the pod with its grace period, runs DEL once the grace
// has passed (the containers stopped) and removes the pod, as a kubelet does.
func (k *kubelet) graceful(ctx context.Context, pod *ipampath.Pod, addrs []netip.Prefix) error {
	grace := int64(kubeletGraceSeconds)
	var deadline time.Time
	if err := retry(ctx, kubeletRetry, func() error {
		// A retry after a delete that went through sets no later deadline.
		deadline = time.Now().Add(time.Duration(grace) * time.Second)
		return k.r.cs.CoreV1().Pods(pod.Namespace).Delete(ctx, pod.Name, metav1.DeleteOptions{
			GracePeriodSeconds: &grace, Preconditions: &metav1.Preconditions{UID: &pod.UID}})
	}); err != nil {
		return k.forget(ctx, pod, addrs, err)
	}
	_ = sleep(ctx, time.Until(deadline)+100*time.Millisecond)
	k.release(pod, addrs) // past its grace, the pod holds nothing (audit.Live)
	if err := k.del(ctx, pod); err != nil {
		return errors.Join(err, retry(ctx, kubeletRetry, func() error { return k.d.DeletePod(ctx, pod) }))
	}
	return retry(ctx, kubeletRetry, func() error { return k.d.DeletePod(ctx, pod) })
}

// forget removes the pod at once (grace 0), then stops counting its
// addresses as held; cause, if any, is returned with the delete's error.
func (k *kubelet) forget(ctx context.Context, pod *ipampath.Pod, addrs []netip.Prefix, cause error) error {
	err := retry(ctx, kubeletRetry, func() error { return k.d.DeletePod(ctx, pod) })
	if err == nil {
		k.release(pod, addrs)
	}
	return errors.Join(cause, err)
}

// hold records the pod's addresses, and a duplicate if a live pod already
// holds one of them: a live kubelet pod (the stream's record) or a live
// workload pod (the run's pod informer; a hit is read again from the API
// server, so that an informer behind on a deletion is no finding).
func (k *kubelet) hold(ctx context.Context, pod *ipampath.Pod, addrs []netip.Prefix) {
	k.mu.Lock()
	for _, p := range addrs {
		a := p.Addr()
		if other, ok := k.live[a]; ok && other != pod.UID {
			k.r.duplicate(audit.Finding{Kind: audit.DuplicateAddress, Address: a.String(),
				Object: fmt.Sprintf("Pods uid %s, %s uid %s", other, pod.Key(), pod.UID),
				Detail: "given by CNI ADD to a kubelet pod while another live kubelet pod held it"})
		}
		k.live[a] = pod.UID
	}
	k.mu.Unlock()
	for _, p := range addrs {
		objs, err := k.r.podStore.ByIndex(byAddress, p.Addr().String())
		if err != nil {
			panic(err) // the index is registered before the informer starts
		}
		for _, obj := range objs {
			if w := obj.(*corev1.Pod); !isKubeletPod(w) && audit.Live(w, time.Now()) {
				k.confirm(ctx, pod, p.Addr(), w)
			}
		}
	}
}

// confirm reads workload pod w, which the informer shows holding a, from the
// API server and records a duplicate if it still lives and shows a. An
// outage leaves the informer's word unconfirmed: no finding.
func (k *kubelet) confirm(ctx context.Context, pod *ipampath.Pod, a netip.Addr, w *corev1.Pod) {
	cur, err := k.r.cs.CoreV1().Pods(w.Namespace).Get(ctx, w.Name, metav1.GetOptions{})
	if err != nil || cur.UID != w.UID || !audit.Live(cur, time.Now()) || !slices.Contains(audit.PodAddresses(cur), a) {
		return
	}
	k.r.duplicate(audit.Finding{Kind: audit.DuplicateAddress, Address: a.String(),
		Object: fmt.Sprintf("Pods %s/%s uid %s, %s uid %s", cur.Namespace, cur.Name, cur.UID, pod.Key(), pod.UID),
		Detail: "given by CNI ADD to a kubelet pod while a live workload pod showed it"})
}

func (k *kubelet) release(pod *ipampath.Pod, addrs []netip.Prefix) {
	k.mu.Lock()
	defer k.mu.Unlock()
	for _, p := range addrs {
		if k.live[p.Addr()] == pod.UID {
			delete(k.live, p.Addr())
		}
	}
}

func sameAddresses(a, b []netip.Prefix) bool {
	if len(a) != len(b) {
		return false
	}
	for i := range a {
		if a[i].Addr() != b[i].Addr() {
			return false
		}
	}
	return true
}

// retry calls fn every second until it succeeds or limit passes.
func retry(ctx context.Context, limit time.Duration, fn func() error) error {
	end := time.Now().Add(limit)
	for {
		err := fn()
		if err == nil || time.Now().After(end) {
			return err
		}
		if serr := sleep(ctx, time.Second); serr != nil {
			return errors.Join(err, serr)
		}
	}
}
