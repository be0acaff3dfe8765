//go:build integration

// Package integration runs ipkeeper's agent against a real kube-apiserver and
// etcd (started by test/localcluster, no nodes): many agents on one pool,
// agents killed mid-flight. Run with `make test-integration`.
package integration

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"sync"
	"testing"
	"time"

	"github.com/go-logr/logr"
	"k8s.io/apimachinery/pkg/runtime"
	clientgoscheme "k8s.io/client-go/kubernetes/scheme"
	"k8s.io/client-go/tools/clientcmd"
	"k8s.io/utils/ptr"
	ctrl "sigs.k8s.io/controller-runtime"
	"sigs.k8s.io/controller-runtime/pkg/client"
	"sigs.k8s.io/controller-runtime/pkg/config"
	metricsserver "sigs.k8s.io/controller-runtime/pkg/metrics/server"

	"github.com/ipkeeper/ipkeeper/api/ipkeeper/v1alpha1"
	nadv1 "github.com/ipkeeper/ipkeeper/api/nad/v1"
	"github.com/ipkeeper/ipkeeper/api/v2beta1"
	"github.com/ipkeeper/ipkeeper/internal/controller"
	"github.com/ipkeeper/ipkeeper/test/localcluster"
)

var env struct {
	kubeconfig string
	agentBin   string
	// controllerBin is the ipkeeper-controller binary.
	controllerBin string
	client        client.Client
}

func TestMain(m *testing.M) {
	code, err := run(m)
	if err != nil {
		fmt.Fprintln(os.Stderr, "integration setup:", err)
		os.Exit(1)
	}
	os.Exit(code)
}

func run(m *testing.M) (int, error) {
	// The tests need no particular working directory: every path they use is
	// absolute (binaries and state under tmp, the CRDs from RepoRoot).
	root, err := localcluster.RepoRoot()
	if err != nil {
		return 0, err
	}
	tmp, err := os.MkdirTemp("", "ipk-integration-")
	if err != nil {
		return 0, err
	}
	defer os.RemoveAll(tmp)
	ik, err := localcluster.BuildIpkeeper(root, filepath.Join(tmp, "bin"))
	if err != nil {
		return 0, err
	}
	env.agentBin, env.controllerBin = ik.Agent, ik.Controller
	cpCfg := localcluster.Config{StateDir: filepath.Join(tmp, "cluster")}
	if err := cpCfg.Complete(); err != nil {
		return 0, err
	}
	ctx, cancel := context.WithTimeout(context.Background(), 3*time.Minute)
	defer cancel()
	c, err := localcluster.Up(ctx, cpCfg)
	if c != nil {
		defer func() {
			if err := c.Down(context.Background()); err != nil {
				fmt.Fprintln(os.Stderr, "stop control plane:", err)
			}
		}()
	}
	if err != nil {
		return 0, fmt.Errorf("start control plane: %w", err)
	}
	env.kubeconfig = c.Kubeconfig()
	cfg, err := c.RESTConfig()
	if err != nil {
		return 0, err
	}
	cfg.QPS, cfg.Burst = 500, 1000
	scheme := runtime.NewScheme()
	_ = clientgoscheme.AddToScheme(scheme)
	_ = v2beta1.AddToScheme(scheme)
	_ = v1alpha1.AddToScheme(scheme)
	_ = nadv1.AddToScheme(scheme)
	if env.client, err = client.New(cfg, client.Options{Scheme: scheme}); err != nil {
		return 0, err
	}
	return m.Run(), nil
}

// runManager starts a controller-runtime manager on the test cluster with the
// claim indexes and whatever setup registers, logging through log, until the
// test ends or the returned stop is called (which waits for it to end).
// Several managers may run one after another in this process.
func runManager(t *testing.T, log logr.Logger, setup func(ctrl.Manager) error) (stop func()) {
	t.Helper()
	cfg, err := clientcmd.BuildConfigFromFlags("", env.kubeconfig)
	if err != nil {
		t.Fatal(err)
	}
	cfg.QPS, cfg.Burst = 200, 400
	// Informers log through the root logger after a manager stops.
	rootLoggerOnce.Do(func() { ctrl.SetLogger(logr.Discard()) })
	mgr, err := ctrl.NewManager(cfg, ctrl.Options{
		Scheme:                 env.client.Scheme(),
		Logger:                 log,
		Metrics:                metricsserver.Options{BindAddress: "0"},
		HealthProbeBindAddress: "0",
		Controller:             config.Controller{SkipNameValidation: ptr.To(true)},
	})
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	if err := controller.AddIndexes(ctx, mgr.GetFieldIndexer()); err != nil {
		t.Fatal(err)
	}
	if err := setup(mgr); err != nil {
		t.Fatal(err)
	}
	done := make(chan error, 1)
	go func() { done <- mgr.Start(ctx) }()
	stop = sync.OnceFunc(func() {
		cancel()
		if err := <-done; err != nil {
			t.Errorf("manager: %v", err)
		}
	})
	t.Cleanup(stop)
	return stop
}

var rootLoggerOnce sync.Once
