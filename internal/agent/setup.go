package agent

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"sync/atomic"
	"time"

	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/fields"
	"k8s.io/apimachinery/pkg/labels"
	"k8s.io/apimachinery/pkg/runtime"
	clientgoscheme "k8s.io/client-go/kubernetes/scheme"
	toolscache "k8s.io/client-go/tools/cache"
	ctrl "sigs.k8s.io/controller-runtime"
	"sigs.k8s.io/controller-runtime/pkg/cache"
	"sigs.k8s.io/controller-runtime/pkg/client"
	"sigs.k8s.io/controller-runtime/pkg/healthz"
	"sigs.k8s.io/controller-runtime/pkg/manager"
	"sigs.k8s.io/controller-runtime/pkg/metrics"
	metricsserver "sigs.k8s.io/controller-runtime/pkg/metrics/server"

	"github.com/ipkeeper/ipkeeper/api/ipkeeper/v1alpha1"
	"github.com/ipkeeper/ipkeeper/api/v2beta1"
	"github.com/ipkeeper/ipkeeper/internal/agentapi"
	"github.com/ipkeeper/ipkeeper/internal/config"
	"github.com/ipkeeper/ipkeeper/internal/ipam"
	"github.com/ipkeeper/ipkeeper/internal/spiderpool"
	"github.com/ipkeeper/ipkeeper/internal/store"
)

// Options configure one node's agent.
type Options struct {
	// Node is the node this agent serves.
	Node string
	// Socket is the unix socket the plugin connects to.
	Socket string
	// MetricsAddr and HealthAddr are the addresses of /metrics and of
	// /healthz and /readyz; "0" disables one.
	MetricsAddr, HealthAddr string
	// PprofAddr is the address of Go's /debug/pprof; "0" or empty disables it.
	PprofAddr string
	// Config is the configuration shared with the controller.
	Config config.Config
}

// ManagerOptions are the manager options an agent runs with: its scheme,
// its metrics and probe addresses, and caches that hold only its own node
// and the pods bound to it.
func ManagerOptions(o Options) (ctrl.Options, error) {
	if o.Node == "" {
		return ctrl.Options{}, errors.New("the node name is required")
	}
	scheme := runtime.NewScheme()
	for _, add := range []func(*runtime.Scheme) error{clientgoscheme.AddToScheme, v2beta1.AddToScheme, v1alpha1.AddToScheme} {
		if err := add(scheme); err != nil {
			return ctrl.Options{}, err
		}
	}
	return ctrl.Options{
		Scheme:                 scheme,
		Metrics:                metricsserver.Options{BindAddress: o.MetricsAddr},
		HealthProbeBindAddress: o.HealthAddr,
		PprofBindAddress:       o.PprofAddr,
		Cache: cache.Options{
			DefaultTransform: cache.TransformStripManagedFields(),
			ByObject: map[client.Object]cache.ByObject{
				&corev1.Pod{}:  {Field: fields.OneTermEqualSelector("spec.nodeName", o.Node)},
				&corev1.Node{}: {Field: fields.OneTermEqualSelector("metadata.name", o.Node)},
				// Other nodes' claims come from a metadata watch (store.ClaimRefs).
				&v1alpha1.IPClaim{}: {Label: labels.SelectorFromSet(labels.Set{v1alpha1.LabelNode: o.Node})},
			},
		},
	}, nil
}

// allocatorConfig is what the allocator takes of the agent's options.
func allocatorConfig(o Options) ipam.Config {
	c := o.Config
	return ipam.Config{
		Node: o.Node, EnableStatefulSet: c.EnableStatefulSet, EnableIPv4: c.EnableIPv4, EnableIPv6: c.EnableIPv6,
		DisableAutoPools: !c.EnableSpiderSubnet || !c.EnableAutoPoolForApplication,
		AutoPoolWait:     time.Duration(c.AutoPoolWaitSeconds) * time.Second,
		Multus:           spiderpool.Multus{Namespace: c.MultusNamespace, ClusterNetwork: c.ClusterNetwork},
	}
}

// detection is what the agent asks the plugin to check; nil when nothing.
func detection(c config.Config) *agentapi.Detection {
	if !c.EnableIPConflictDetection && !c.EnableGatewayDetection {
		return nil
	}
	return &agentapi.Detection{
		IPConflict: c.EnableIPConflictDetection, IPConflictTimeoutMs: c.IPConflictDetectionTimeoutMs,
		Gateway: c.EnableGatewayDetection, GatewayTimeoutMs: c.GatewayDetectionTimeoutMs,
	}
}

// Setup wires an agent into a manager made with ManagerOptions: the index
// fed by informers, the allocator over the API server, the socket server,
// and the health checks. Start the manager to run it.
func Setup(ctx context.Context, mgr ctrl.Manager, o Options) error {
	index := ipam.NewIndex(o.Node)
	if err := store.Feed(ctx, mgr.GetCache(), index); err != nil {
		return err
	}
	refs, err := store.ClaimRefs(mgr.GetConfig(), index)
	if err != nil {
		return err
	}
	if err := mgr.Add(manager.RunnableFunc(func(ctx context.Context) error {
		refs.RunWithContext(ctx)
		return nil
	})); err != nil {
		return err
	}
	// Start the informers the allocator reads before serving.
	for _, obj := range store.Informers() {
		if _, err := mgr.GetCache().GetInformer(ctx, obj); err != nil {
			return fmt.Errorf("informer for %T: %w", obj, err)
		}
	}
	m := NewMetrics(metrics.Registry)
	alloc := ipam.New(allocatorConfig(o), index,
		store.New(mgr.GetClient(), mgr.GetAPIReader()), store.NewCluster(mgr.GetCache(), mgr.GetAPIReader(), o.Node))
	alloc.Conflicts = m.Conflicts.Inc
	var synced atomic.Bool
	if err := mgr.Add(manager.RunnableFunc(func(ctx context.Context) error {
		synced.Store(mgr.GetCache().WaitForCacheSync(ctx) && toolscache.WaitForCacheSync(ctx.Done(), refs.HasSynced))
		return nil
	})); err != nil {
		return err
	}
	srv := &Server{
		Socket: o.Socket, Alloc: alloc, Metrics: m, Ready: synced.Load, Detection: detection(o.Config),
		Coordinator: Coordinators{Reader: mgr.GetCache()},
		Events:      PodEvents{Recorder: mgr.GetEventRecorder("ipkeeper-agent")},
		Log:         ctrl.Log.WithName("agent").WithValues("node", o.Node),
	}
	if err := mgr.Add(srv); err != nil {
		return err
	}
	if err := mgr.AddHealthzCheck("ping", healthz.Ping); err != nil {
		return err
	}
	if err := mgr.AddReadyzCheck("caches", func(_ *http.Request) error {
		if !synced.Load() {
			return errors.New("caches not synced")
		}
		return nil
	}); err != nil {
		return err
	}
	return mgr.AddReadyzCheck("socket", func(_ *http.Request) error { return srv.Serving() })
}
