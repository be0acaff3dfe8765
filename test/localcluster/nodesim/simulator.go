package nodesim

import (
	"context"
	"fmt"
	"sync"
	"time"

	"github.com/containernetworking/plugins/pkg/ns"
	"github.com/go-logr/logr"
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/types"
	"k8s.io/client-go/dynamic"
	"k8s.io/client-go/informers"
	"k8s.io/client-go/kubernetes"
	"k8s.io/client-go/kubernetes/scheme"
	typedcorev1 "k8s.io/client-go/kubernetes/typed/core/v1"
	corelisters "k8s.io/client-go/listers/core/v1"
	"k8s.io/client-go/tools/cache"
	"k8s.io/client-go/tools/clientcmd"
	"k8s.io/client-go/tools/record"
	"k8s.io/client-go/util/workqueue"

	"github.com/ipkeeper/ipkeeper/test/localcluster/nsmount"
)

// Retry backoff of a pod whose sandbox failed, as the kubelet's.
const (
	backoffBase = time.Second
	backoffMax  = 30 * time.Second
	cniTimeout  = 2 * time.Minute
)

// Simulator is one running node simulator.
type Simulator struct {
	cfg      Config
	log      logr.Logger
	cs       kubernetes.Interface
	store    *store
	cni      *cniRunner
	resolver *resolver
	recorder record.EventRecorder
	pods     corelisters.PodLister
	queue    workqueue.TypedRateLimitingInterface[string]
	nodeUID  types.UID
}

// Run simulates the node until ctx ends. Sandboxes are left in place on
// return, as a stopped kubelet leaves its pods; a later Run adopts them.
func Run(ctx context.Context, cfg Config, log logr.Logger) error {
	cfg.setDefaults()
	if err := cfg.validate(); err != nil {
		return err
	}
	if len(cfg.Binds) > 0 {
		if err := nsmount.ApplyBinds(cfg.Binds); err != nil {
			return err
		}
	}
	s, closeFn, err := newSimulator(ctx, cfg, log)
	if err != nil {
		return err
	}
	defer closeFn()
	return s.run(ctx)
}

func newSimulator(ctx context.Context, cfg Config, log logr.Logger) (*Simulator, func(), error) {
	rc, err := clientcmd.BuildConfigFromFlags("", cfg.Kubeconfig)
	if err != nil {
		return nil, nil, fmt.Errorf("load kubeconfig: %w", err)
	}
	rc.QPS, rc.Burst = 50, 100 // the kubelet's defaults
	rc.UserAgent = "ipkeeper-nodesim/" + cfg.Node
	cs, err := kubernetes.NewForConfig(rc)
	if err != nil {
		return nil, nil, fmt.Errorf("build clientset: %w", err)
	}
	dyn, err := dynamic.NewForConfig(rc)
	if err != nil {
		return nil, nil, fmt.Errorf("build dynamic client: %w", err)
	}
	nodeNS, err := ns.GetNS(cfg.NodeNetNS)
	if err != nil {
		return nil, nil, fmt.Errorf("open node netns: %w", err)
	}
	st, err := openStore(cfg.StateDir)
	if err != nil {
		nodeNS.Close()
		return nil, nil, err
	}
	bc := record.NewBroadcaster(record.WithContext(ctx))
	bc.StartRecordingToSink(&typedcorev1.EventSinkImpl{Interface: cs.CoreV1().Events("")})
	s := &Simulator{
		cfg: cfg, log: log, cs: cs, store: st,
		cni:      newCNIRunner(cfg.CNIBinDirs, cfg.CNICacheDir, nodeNS),
		resolver: &resolver{dyn: dyn, confDir: cfg.CNIConfDir},
		recorder: bc.NewRecorder(scheme.Scheme, corev1.EventSource{Component: "kubelet", Host: cfg.Node}),
		queue: workqueue.NewTypedRateLimitingQueueWithConfig(
			workqueue.NewTypedItemExponentialFailureRateLimiter[string](backoffBase, backoffMax),
			workqueue.TypedRateLimitingQueueConfig[string]{Name: "pods"}),
	}
	return s, func() { bc.Shutdown(); nodeNS.Close() }, nil
}

func (s *Simulator) run(ctx context.Context) error {
	if err := s.registerNode(ctx); err != nil {
		return err
	}
	s.log.Info("node registered", "sandboxes", len(s.store.keys()))
	var wg sync.WaitGroup
	wg.Go(func() { s.heartbeat(ctx) })
	factory := informers.NewSharedInformerFactoryWithOptions(s.cs, 0,
		informers.WithTweakListOptions(func(o *metav1.ListOptions) { o.FieldSelector = "spec.nodeName=" + s.cfg.Node }))
	inf := factory.Core().V1().Pods()
	if _, err := inf.Informer().AddEventHandler(cache.ResourceEventHandlerFuncs{
		AddFunc:    s.enqueue,
		UpdateFunc: func(_, obj any) { s.enqueue(obj) },
		DeleteFunc: s.enqueue,
	}); err != nil {
		return fmt.Errorf("watch pods: %w", err)
	}
	s.pods = inf.Lister()
	factory.Start(ctx.Done())
	if !cache.WaitForCacheSync(ctx.Done(), inf.Informer().HasSynced) {
		return ctx.Err()
	}
	for _, key := range s.store.keys() { // adopt or clean up what a previous run left
		s.queue.Add(key)
	}
	for range s.cfg.Workers {
		wg.Go(func() { s.work(ctx) })
	}
	<-ctx.Done()
	s.queue.ShutDown()
	factory.Shutdown()
	wg.Wait()
	s.log.Info("node simulator stopped")
	return nil
}

// UnmanagedAnnotation on a pod set to "true" makes the simulator leave the
// pod alone: no sandbox, no status, no deletion completed. Drivers that run
// the CNI plugin themselves (test/ipampath) bind such pods to a node that
// stays Ready.
const UnmanagedAnnotation = "nodesim.ipkeeper.io/unmanaged"

func (s *Simulator) enqueue(obj any) {
	if pod, ok := obj.(*corev1.Pod); ok && pod.Annotations[UnmanagedAnnotation] == "true" {
		return
	}
	key, err := cache.DeletionHandlingMetaNamespaceKeyFunc(obj)
	if err != nil {
		s.log.Error(err, "cannot key pod")
		return
	}
	s.queue.Add(key)
}

// work processes pod keys until the queue shuts down. The queue never hands
// one key to two workers at once, so each pod is handled serially while
// different pods proceed in parallel.
func (s *Simulator) work(ctx context.Context) {
	for {
		key, shutdown := s.queue.Get()
		if shutdown {
			return
		}
		// A sandbox operation is not interrupted by shutdown: a half-made
		// sandbox would be worse than a slower stop.
		opCtx, cancel := context.WithTimeout(context.WithoutCancel(ctx), cniTimeout)
		err := s.reconcile(opCtx, key)
		cancel()
		if err != nil {
			s.log.Info("pod sync failed, will retry", "pod", key, "retries", s.queue.NumRequeues(key), "error", err.Error())
			s.queue.AddRateLimited(key)
		} else {
			s.queue.Forget(key)
		}
		s.queue.Done(key)
	}
}
