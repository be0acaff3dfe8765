// Command ipkeeper-controller runs everything off the pod-start path:
// admission webhooks, pool and subnet status, automatic pools, IP garbage
// collection and SpiderMultusConfig rendering. Replicas elect a leader for
// the reconcilers; every replica serves the webhooks.
package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"os"
	"strings"
	"time"

	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/runtime"
	clientgoscheme "k8s.io/client-go/kubernetes/scheme"
	"k8s.io/utils/clock"
	ctrl "sigs.k8s.io/controller-runtime"
	"sigs.k8s.io/controller-runtime/pkg/cache"
	"sigs.k8s.io/controller-runtime/pkg/client"
	"sigs.k8s.io/controller-runtime/pkg/healthz"
	"sigs.k8s.io/controller-runtime/pkg/log/zap"
	"sigs.k8s.io/controller-runtime/pkg/metrics"
	metricsserver "sigs.k8s.io/controller-runtime/pkg/metrics/server"
	"sigs.k8s.io/controller-runtime/pkg/webhook"

	"github.com/ipkeeper/ipkeeper/api/ipkeeper/v1alpha1"
	nadv1 "github.com/ipkeeper/ipkeeper/api/nad/v1"
	"github.com/ipkeeper/ipkeeper/api/v2beta1"
	"github.com/ipkeeper/ipkeeper/internal/buildinfo"
	"github.com/ipkeeper/ipkeeper/internal/config"
	"github.com/ipkeeper/ipkeeper/internal/controller"
	"github.com/ipkeeper/ipkeeper/internal/controller/autopool"
	"github.com/ipkeeper/ipkeeper/internal/controller/coordinator"
	"github.com/ipkeeper/ipkeeper/internal/controller/defaultpool"
	"github.com/ipkeeper/ipkeeper/internal/controller/gc"
	"github.com/ipkeeper/ipkeeper/internal/controller/multusconfig"
	"github.com/ipkeeper/ipkeeper/internal/controller/spiderpoolimport"
	"github.com/ipkeeper/ipkeeper/internal/controller/status"
	"github.com/ipkeeper/ipkeeper/internal/spiderpool"
	ipkwebhook "github.com/ipkeeper/ipkeeper/internal/webhook"
)

type options struct {
	metricsAddr, healthAddr       string
	pprofAddr                     string
	leaderElect                   bool
	leaderElectionNamespace       string
	webhookPort                   int
	webhookHost                   string
	webhookURL, webhookService    string
	webhookSecret                 string
	webhookHosts                  string
	webhookCertDir, webhookCAFile string
	configPath                    string
	webhookRegister               bool
	importSpiderpool              bool
}

func main() {
	var o options
	flag.StringVar(&o.metricsAddr, "metrics-bind-address", ":5721", "address of /metrics; 0 disables it")
	flag.StringVar(&o.healthAddr, "health-probe-bind-address", ":5722", "address of /healthz and /readyz")
	flag.StringVar(&o.pprofAddr, "pprof-bind-address", "0", "address of Go's /debug/pprof (profiling); 0 disables it")
	flag.BoolVar(&o.leaderElect, "leader-elect", true, "elect a leader among replicas (Lease) before reconciling")
	flag.StringVar(&o.leaderElectionNamespace, "leader-election-namespace", "kube-system", "namespace of the leader-election Lease")
	flag.IntVar(&o.webhookPort, "webhook-port", 9443, "port the webhook server listens on")
	flag.StringVar(&o.webhookHost, "webhook-bind-host", "", "address the webhook server binds to; empty means all")
	flag.StringVar(&o.webhookURL, "webhook-url", "", "base URL the API server calls the webhooks at, e.g. https://127.0.0.1:9443 (local cluster)")
	flag.StringVar(&o.webhookService, "webhook-service", "kube-system/ipkeeper-controller:443", "namespace/name:port of the webhook Service, used when --webhook-url is empty")
	flag.StringVar(&o.webhookSecret, "webhook-cert-secret", "kube-system/ipkeeper-webhook-certs", "namespace/name of the Secret holding the self-managed CA and certificate")
	flag.StringVar(&o.webhookHosts, "webhook-cert-hosts", "127.0.0.1,localhost,ipkeeper-controller.kube-system.svc", "names and addresses the self-managed certificate is valid for")
	flag.StringVar(&o.webhookCertDir, "webhook-cert-dir", "", "serve provided certificates (tls.crt, tls.key) from this directory instead of self-managed ones")
	flag.StringVar(&o.webhookCAFile, "webhook-ca-file", "", "CA bundle of provided certificates, patched into the webhook configurations")
	flag.BoolVar(&o.webhookRegister, "webhook-register", true, "create and update the webhook configurations; false only writes their CA bundle (the chart owns them)")
	flag.StringVar(&o.configPath, "config", "", "configuration file shared with the agents (conf.yml of the chart's ConfigMap); empty means the defaults")
	flag.BoolVar(&o.importSpiderpool, "import-spiderpool", true, "before reconciling, import the allocations Spiderpool recorded (pool status.allocatedIPs, SpiderEndpoints) as IPClaims; "+
		"a no-op once done or when no pool has such records. false skips it: pools that have such records then stay closed to new pods")
	zapOpts := zap.Options{}
	zapOpts.BindFlags(flag.CommandLine)
	flag.Parse()
	ctrl.SetLogger(zap.New(zap.UseFlagOptions(&zapOpts)))
	if err := run(ctrl.SetupSignalHandler(), o); err != nil {
		if errors.As(err, new(*spiderpoolimport.ConflictError)) {
			err = fmt.Errorf("%w; fix them (docs/install.md, Moving from Spiderpool) and restart the controller, "+
				"or start it with --import-spiderpool=false, which leaves the pools awaiting their import closed to new pods", err)
		}
		ctrl.Log.Error(err, "Controller stopped")
		os.Exit(1)
	}
}

func newScheme() (*runtime.Scheme, error) {
	scheme := runtime.NewScheme()
	for _, add := range []func(*runtime.Scheme) error{clientgoscheme.AddToScheme, v2beta1.AddToScheme, v1alpha1.AddToScheme, nadv1.AddToScheme} {
		if err := add(scheme); err != nil {
			return nil, err
		}
	}
	return scheme, nil
}

func run(ctx context.Context, o options) error {
	scheme, err := newScheme()
	if err != nil {
		return err
	}
	cfg := ctrl.GetConfigOrDie()
	direct, err := client.New(cfg, client.Options{Scheme: scheme})
	if err != nil {
		return err
	}
	tlsOpts, tlsRunnable, err := ipkwebhook.Serving(ctx, direct, ipkwebhook.ServingOptions{
		URL: o.webhookURL, Service: o.webhookService, CertSecret: o.webhookSecret,
		CertHosts: strings.Split(o.webhookHosts, ","), CertDir: o.webhookCertDir, CAFile: o.webhookCAFile, CABundleOnly: !o.webhookRegister,
	})
	if err != nil {
		return fmt.Errorf("serve the webhooks: %w", err)
	}
	mgr, err := ctrl.NewManager(cfg, ctrl.Options{
		Scheme:                 scheme,
		Metrics:                metricsserver.Options{BindAddress: o.metricsAddr},
		HealthProbeBindAddress: o.healthAddr,
		PprofBindAddress:       o.pprofAddr,
		// The controller caches every claim, endpoint and pod of the cluster;
		// none of it needs managed fields, and of a pod the collector needs
		// metadata and phase only.
		Cache: cache.Options{
			DefaultTransform: cache.TransformStripManagedFields(),
			ByObject:         map[client.Object]cache.ByObject{&corev1.Pod{}: {Transform: gc.CachedPod}},
		},
		LeaderElection:          o.leaderElect,
		LeaderElectionID:        "ipkeeper-controller",
		LeaderElectionNamespace: o.leaderElectionNamespace,
		WebhookServer: webhook.NewServer(webhook.Options{
			Host: o.webhookHost, Port: o.webhookPort, CertDir: o.webhookCertDir, TLSOpts: tlsOpts,
		}),
	})
	if err != nil {
		return fmt.Errorf("create manager: %w", err)
	}
	if tlsRunnable != nil {
		if err := mgr.Add(tlsRunnable); err != nil {
			return err
		}
	}
	conf, err := config.Load(o.configPath)
	if err != nil {
		return err
	}
	if err := setup(ctx, mgr, conf, o.importSpiderpool); err != nil {
		return err
	}
	if err := mgr.AddHealthzCheck("ping", healthz.Ping); err != nil {
		return err
	}
	if err := mgr.AddReadyzCheck("webhook", mgr.GetWebhookServer().StartedChecker()); err != nil {
		return err
	}
	return mgr.Start(ctx)
}

// setup registers the indexes, the webhooks, and the reconcilers the
// configuration turns on; with importSpiderpool, the reconcilers start once
// Spiderpool's allocations are imported.
func setup(ctx context.Context, mgr ctrl.Manager, conf config.Config, importSpiderpool bool) error {
	if err := controller.AddIndexes(ctx, mgr.GetFieldIndexer()); err != nil {
		return err
	}
	if err := ipkwebhook.Setup(mgr, &ipkwebhook.MultusConfigs{Validate: multusconfig.Validate}); err != nil {
		return err
	}
	// Pool and subnet gauges read the cache at scrape time, exported by the
	// leader only: one series per pool cluster-wide.
	if err := metrics.Registry.Register(&status.Collector{Reader: mgr.GetClient(), Elected: mgr.Elected(), Subnets: conf.EnableSpiderSubnet}); err != nil {
		return fmt.Errorf("register pool metrics: %w", err)
	}
	if err := metrics.Registry.Register(buildinfo.Collector()); err != nil {
		return fmt.Errorf("register build info: %w", err)
	}
	if len(conf.ClusterDefaultPools) > 0 {
		if err := mgr.Add(&defaultpool.Creator{Client: mgr.GetClient(), Pools: conf.ClusterDefaultPools}); err != nil {
			return err
		}
	}
	reconcilers := []interface{ SetupWithManager(ctrl.Manager) error }{
		&status.Pools{Client: mgr.GetClient(), Batch: 500 * time.Millisecond},
		&multusconfig.Reconciler{Client: mgr.GetClient(), Recorder: mgr.GetEventRecorder("ipkeeper-multusconfig")},
		&coordinator.Reconciler{Client: mgr.GetClient()},
	}
	if conf.EnableSpiderSubnet {
		reconcilers = append(reconcilers, &status.Subnets{Client: mgr.GetClient()})
	}
	if conf.EnableAutoPoolForApplication {
		reconcilers = append(reconcilers, &autopool.Reconciler{Client: mgr.GetClient(), APIReader: mgr.GetAPIReader(),
			Recorder:    mgr.GetEventRecorder("ipkeeper-autopool"),
			DefaultSize: spiderpool.PoolSize{N: uint64(conf.ClusterSubnetDefaultFlexibleIPNumber), Relative: true}})
	}
	if conf.GC.Enabled {
		reconcilers = append(reconcilers, &gc.Reconciler{Client: mgr.GetClient(), APIReader: mgr.GetAPIReader(), Clock: clock.RealClock{},
			EnableStatefulSet: conf.EnableStatefulSet, TerminatingMargin: 30 * time.Second,
			ScanInterval: time.Duration(conf.GC.ScanIntervalSeconds) * time.Second})
	}
	reconcile := func() error {
		for _, r := range reconcilers {
			if err := r.SetupWithManager(mgr); err != nil {
				return fmt.Errorf("set up %T: %w", r, err)
			}
		}
		return nil
	}
	if !importSpiderpool {
		return reconcile()
	}
	// The import runs on the leader, and only then the reconcilers: an
	// automatic pool is not shrunk, nor a claim collected, before the claims
	// of every pod Spiderpool gave an address exist. Webhooks serve meanwhile.
	return mgr.Add(&spiderpoolimport.Importer{Reader: mgr.GetAPIReader(), Client: mgr.GetClient(),
		EnableStatefulSet: conf.EnableStatefulSet, Then: reconcile})
}
