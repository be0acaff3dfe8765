//go:build e2e

package chaos

import (
	"context"
	"fmt"
	"sort"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/go-logr/logr"
	appsv1 "k8s.io/api/apps/v1"
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/apimachinery/pkg/types"
	"k8s.io/client-go/informers"
	"k8s.io/client-go/kubernetes"
	clientgoscheme "k8s.io/client-go/kubernetes/scheme"
	"k8s.io/client-go/tools/cache"
	"sigs.k8s.io/controller-runtime/pkg/client"
	ctrllog "sigs.k8s.io/controller-runtime/pkg/log"

	"github.com/ipkeeper/ipkeeper/api/ipkeeper/v1alpha1"
	"github.com/ipkeeper/ipkeeper/api/v2beta1"
	"github.com/ipkeeper/ipkeeper/internal/audit"
	"github.com/ipkeeper/ipkeeper/test/framework"
)

// run is one chaos run: the cluster, its clients and the counts.
type run struct {
	t     *testing.T
	env   *framework.Env
	cs    kubernetes.Interface
	cl    client.Client
	seed  int64
	limit time.Duration
	begin time.Time
	// commit is the tree the run started on (the report is written an hour
	// later).
	commit string

	// allocated holds every pod UID seen with an address.
	mu        sync.Mutex
	allocated map[types.UID]bool
	inflight  int             // pods pending or terminating, from the last watch event
	podStore  cache.Indexer   // the pod informer's, indexed by address (byAddress)
	held      map[string]bool // processes a fault holds down

	counts counts
	// dups are the distinct duplicates seen by the sampler, by address and pods.
	dups map[string]audit.Finding
	// final are the findings of the last audit after the quiet period.
	final       []audit.Finding
	deployments []appsv1.Deployment
	churnEnd    atomic.Pointer[time.Time]
	quietTime   time.Duration
	settledErr  error
	// kubelet is the stream of pods whose CNI calls the run makes; nil when off.
	kubelet *kubelet
}

// counts are the run's figures, reported at the end.
type counts struct {
	Samples, SamplesPaused, Duplicates atomic.Int64
	Kills                              sync.Map // kind → *atomic.Int64
	Exits                              sync.Map // process → *atomic.Int64, exited on its own
	FaultErrors                        sync.Map // kind → *atomic.Int64, not undone in time
	Actions                            sync.Map // action → *atomic.Int64
	ActionErrors                       sync.Map // action → *atomic.Int64
}

func inc(m *sync.Map, key string) {
	v, _ := m.LoadOrStore(key, new(atomic.Int64))
	v.(*atomic.Int64).Add(1)
}

func snapshot(m *sync.Map) map[string]int64 {
	out := map[string]int64{}
	m.Range(func(k, v any) bool {
		out[k.(string)] = v.(*atomic.Int64).Load()
		return true
	})
	return out
}

func sortedKeys(m map[string]int64) []string {
	var ks []string
	for k := range m {
		ks = append(ks, k)
	}
	sort.Strings(ks)
	return ks
}

func newRun(t *testing.T, env *framework.Env, seed int64, limit time.Duration) *run {
	rc := *env.Config
	rc.QPS, rc.Burst = 200, 400
	rc.UserAgent = "ipkeeper-chaos"
	cs, err := kubernetes.NewForConfig(&rc)
	if err != nil {
		t.Fatalf("clientset: %v", err)
	}
	scheme := runtime.NewScheme()
	for _, add := range []func(*runtime.Scheme) error{clientgoscheme.AddToScheme, v1alpha1.AddToScheme, v2beta1.AddToScheme} {
		if err := add(scheme); err != nil {
			t.Fatalf("scheme: %v", err)
		}
	}
	ctrllog.SetLogger(logr.Discard()) // the client's own warnings are the API server's, logged by the run
	cl, err := client.New(&rc, client.Options{Scheme: scheme})
	if err != nil {
		t.Fatalf("client: %v", err)
	}
	return &run{t: t, env: env, cs: cs, cl: cl, seed: seed, limit: limit, begin: time.Now(), commit: commit(),
		allocated: map[types.UID]bool{}, held: map[string]bool{}, dups: map[string]audit.Finding{}}
}

func (r *run) allocations() int {
	r.mu.Lock()
	defer r.mu.Unlock()
	return len(r.allocated)
}

func (r *run) inFlight() int {
	r.mu.Lock()
	defer r.mu.Unlock()
	return r.inflight
}

// watchPods counts allocations (pod UIDs seen with an address) and the pods
// in flight from a pod informer, until ctx ends.
func (r *run) watchPods(ctx context.Context) {
	f := informers.NewSharedInformerFactoryWithOptions(r.cs, 0, informers.WithNamespace(namespace))
	inf := f.Core().V1().Pods().Informer()
	if err := inf.AddIndexers(cache.Indexers{byAddress: addressIndex}); err != nil {
		r.t.Fatalf("pod informer: %v", err)
	}
	see := func(obj any) {
		p, ok := obj.(*corev1.Pod)
		if !ok || len(audit.PodAddresses(p)) == 0 {
			return
		}
		r.count(p.UID)
	}
	_, _ = inf.AddEventHandler(cache.ResourceEventHandlerFuncs{
		AddFunc:    see,
		UpdateFunc: func(_, obj any) { see(obj) },
	})
	r.podStore = inf.GetIndexer()
	f.Start(ctx.Done())
	cache.WaitForCacheSync(ctx.Done(), inf.HasSynced)
}

// byAddress indexes the run's pods by the addresses their status shows.
const byAddress = "address"

func addressIndex(obj any) ([]string, error) {
	p, ok := obj.(*corev1.Pod)
	if !ok {
		return nil, nil
	}
	var out []string
	for _, a := range audit.PodAddresses(p) {
		out = append(out, a.String())
	}
	return out, nil
}

// count records an allocation: pod incarnation uid was given an address.
func (r *run) count(uid types.UID) {
	r.mu.Lock()
	r.allocated[uid] = true
	r.mu.Unlock()
}

// countInFlight recomputes the workloads' pods pending or terminating from
// the informer's store.
func (r *run) countInFlight() {
	n := 0
	for _, obj := range r.podStore.List() {
		p := obj.(*corev1.Pod)
		if isKubeletPod(p) {
			continue // the kubelet stream bounds its own
		}
		if p.DeletionTimestamp != nil || p.Status.Phase == corev1.PodPending {
			n++
		}
	}
	r.mu.Lock()
	r.inflight = n
	r.mu.Unlock()
}

// sample lists the pods (one consistent snapshot) every interval until ctx
// ends and records any address that two live pods show. A failed list (the
// API server or etcd down) is a paused sample.
func (r *run) sample(ctx context.Context, interval time.Duration) {
	tick := time.NewTicker(interval)
	defer tick.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case <-tick.C:
		}
		lctx, cancel := context.WithTimeout(ctx, 5*time.Second)
		pods, err := r.cs.CoreV1().Pods(namespace).List(lctx, metav1.ListOptions{})
		cancel()
		if err != nil {
			r.counts.SamplesPaused.Add(1)
			continue
		}
		r.counts.Samples.Add(1)
		r.countInFlight()
		for _, f := range audit.Duplicates(pods.Items, time.Now()) {
			r.duplicate(f)
		}
	}
}

// duplicate records a duplicate address, once per address and pods.
func (r *run) duplicate(f audit.Finding) {
	key := f.Address + " " + f.Object
	r.mu.Lock()
	defer r.mu.Unlock()
	if _, seen := r.dups[key]; !seen {
		r.dups[key] = f
		r.counts.Duplicates.Add(1)
		r.t.Logf("chaos: DUPLICATE %s", f)
	}
}

// progress prints a line every interval until ctx ends.
func (r *run) progress(ctx context.Context, interval time.Duration) {
	tick := time.NewTicker(interval)
	defer tick.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case <-tick.C:
			r.t.Logf("chaos: %s", r.line())
		}
	}
}

func (r *run) line() string {
	el := time.Since(r.begin)
	n := r.allocations()
	churn := el // the rate is of the churn: after it only the settling goes on
	if end := r.churnEnd.Load(); end != nil {
		churn = end.Sub(r.begin)
	}
	kills := snapshot(&r.counts.Kills)
	var ks string
	for _, k := range sortedKeys(kills) {
		ks += fmt.Sprintf(" %s=%d", k, kills[k])
	}
	kubelet := ""
	if r.kubelet != nil {
		kubelet = fmt.Sprintf(" (kubelet stream: %d pods)", r.kubelet.Pods.Load())
	}
	return fmt.Sprintf("[%s] %d allocations (%.1f/s)%s, %d pods in flight, samples %d (paused %d), duplicates %d, kills:%s",
		el.Round(time.Second), n, float64(n)/churn.Seconds(), kubelet, r.inFlight(), r.counts.Samples.Load(), r.counts.SamplesPaused.Load(),
		r.counts.Duplicates.Load(), ks)
}
