// Command ipkeeper-agent is the node agent: it answers the spiderpool CNI
// plugin on a unix socket and records allocations in the API server.
package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"net/http"
	"os"
	"sync/atomic"

	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/fields"
	"k8s.io/apimachinery/pkg/runtime"
	clientgoscheme "k8s.io/client-go/kubernetes/scheme"
	ctrl "sigs.k8s.io/controller-runtime"
	"sigs.k8s.io/controller-runtime/pkg/cache"
	"sigs.k8s.io/controller-runtime/pkg/client"
	"sigs.k8s.io/controller-runtime/pkg/healthz"
	"sigs.k8s.io/controller-runtime/pkg/log/zap"
	"sigs.k8s.io/controller-runtime/pkg/manager"
	"sigs.k8s.io/controller-runtime/pkg/metrics"
	metricsserver "sigs.k8s.io/controller-runtime/pkg/metrics/server"

	"github.com/ipkeeper/ipkeeper/api/ipkeeper/v1alpha1"
	"github.com/ipkeeper/ipkeeper/api/v2beta1"
	"github.com/ipkeeper/ipkeeper/internal/agent"
	"github.com/ipkeeper/ipkeeper/internal/agentapi"
	"github.com/ipkeeper/ipkeeper/internal/ipam"
	"github.com/ipkeeper/ipkeeper/internal/store"
)

type options struct {
	node, socket, metricsAddr, healthAddr string
	enableStatefulSet                     bool
}

func main() {
	var o options
	flag.StringVar(&o.node, "node-name", os.Getenv("NODE_NAME"), "name of the node this agent serves (env NODE_NAME)")
	flag.StringVar(&o.socket, "socket", agentapi.DefaultSocketPath, "unix socket the CNI plugin connects to")
	flag.StringVar(&o.metricsAddr, "metrics-bind-address", ":5711", "address of /metrics; 0 disables it")
	flag.StringVar(&o.healthAddr, "health-probe-bind-address", ":5712", "address of /healthz and /readyz")
	flag.BoolVar(&o.enableStatefulSet, "enable-statefulset", true, "StatefulSet pods keep their addresses across restarts")
	zapOpts := zap.Options{}
	zapOpts.BindFlags(flag.CommandLine)
	flag.Parse()
	ctrl.SetLogger(zap.New(zap.UseFlagOptions(&zapOpts)))
	if err := run(ctrl.SetupSignalHandler(), o); err != nil {
		ctrl.Log.Error(err, "Agent stopped")
		os.Exit(1)
	}
}

func run(ctx context.Context, o options) error {
	if o.node == "" {
		return errors.New("--node-name (or env NODE_NAME) is required")
	}
	scheme := runtime.NewScheme()
	for _, add := range []func(*runtime.Scheme) error{clientgoscheme.AddToScheme, v2beta1.AddToScheme, v1alpha1.AddToScheme} {
		if err := add(scheme); err != nil {
			return err
		}
	}
	mgr, err := ctrl.NewManager(ctrl.GetConfigOrDie(), ctrl.Options{
		Scheme:                 scheme,
		Metrics:                metricsserver.Options{BindAddress: o.metricsAddr},
		HealthProbeBindAddress: o.healthAddr,
		Cache: cache.Options{
			DefaultTransform: cache.TransformStripManagedFields(),
			ByObject: map[client.Object]cache.ByObject{
				&corev1.Pod{}:  {Field: fields.OneTermEqualSelector("spec.nodeName", o.node)},
				&corev1.Node{}: {Field: fields.OneTermEqualSelector("metadata.name", o.node)},
			},
		},
	})
	if err != nil {
		return fmt.Errorf("create manager: %w", err)
	}
	index := ipam.NewIndex(o.node)
	if err := store.Feed(ctx, mgr.GetCache(), index); err != nil {
		return err
	}
	// Start the informers the allocator reads before serving.
	for _, obj := range store.Informers() {
		if _, err := mgr.GetCache().GetInformer(ctx, obj); err != nil {
			return fmt.Errorf("informer for %T: %w", obj, err)
		}
	}
	m := agent.NewMetrics(metrics.Registry)
	alloc := ipam.New(ipam.Config{Node: o.node, EnableStatefulSet: o.enableStatefulSet}, index,
		store.New(mgr.GetClient()), store.NewCluster(mgr.GetCache(), mgr.GetAPIReader(), o.node))
	alloc.Conflicts = m.Conflicts.Inc
	var synced atomic.Bool
	if err := mgr.Add(manager.RunnableFunc(func(ctx context.Context) error {
		synced.Store(mgr.GetCache().WaitForCacheSync(ctx))
		return nil
	})); err != nil {
		return err
	}
	srv := &agent.Server{
		Socket: o.socket, Alloc: alloc, Metrics: m, Ready: synced.Load,
		Events: agent.PodEvents{Recorder: mgr.GetEventRecorder("ipkeeper-agent")},
		Log:    ctrl.Log.WithName("agent").WithValues("node", o.node),
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
	return mgr.Start(ctx)
}
