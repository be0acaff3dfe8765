// Package framework is the tests' shared framework: it gives e2e tests a
// Kubernetes cluster, a fresh local cluster (test/localcluster; Nodes: 0 for
// the control plane only) torn down when the test or package ends, or the
// cluster named by KUBECONFIG when — and only when — that kubeconfig's current
// context is ipkeeper-local, so a developer's real cluster is never touched.
//
// This package is for tests only. It may import test/localcluster,
// test/localcluster/nodesim (for its record types), client-go and the
// standard library; no production code may import it.
package framework

import (
	"context"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/client-go/kubernetes"
	"k8s.io/client-go/rest"

	"github.com/ipkeeper/ipkeeper/test/localcluster"
)

// Options selects the cluster a test needs.
type Options struct {
	// Nodes is the number of simulated nodes; 0 means control plane only.
	Nodes int
	// Fresh always starts a new cluster, even when KUBECONFIG names one.
	Fresh bool
	// Ipkeeper runs ipkeeper as the nodes' IPAM (IPAM=spiderpool of make
	// up): an agent per node, the controller, and the default pool.
	Ipkeeper bool
	// RealNodes starts real nodes (kubelet, containerd, kube-proxy, Multus;
	// see localcluster.Config.RealNodes), always a fresh cluster; with
	// Ipkeeper, ipkeeper is installed by its chart from `make images`.
	RealNodes bool
	// Configure adjusts the configuration of a fresh cluster (IPAM mode,
	// extra per-node processes …) before it starts.
	Configure func(*localcluster.Config)
}

// Env is a running cluster as a test sees it.
type Env struct {
	Config      *rest.Config
	Client      kubernetes.Interface
	KubectlPath string
	Kubeconfig  string
	Nodes       []string
	// Cluster is the local cluster (also when reused, loaded from the
	// kubeconfig's directory); nil only for a reused cluster whose state
	// directory cannot be read.
	Cluster *localcluster.Cluster
	// Reused is true when the cluster came from KUBECONFIG.
	Reused bool
}

// Start returns a cluster for one test and registers its teardown with
// t.Cleanup. A test that needs nodes is skipped when not run as root.
func Start(t testing.TB, opts Options) *Env {
	t.Helper()
	if reason := skipReason(opts); reason != "" {
		t.Skip(reason)
	}
	env, stop, err := start(opts, t.Logf)
	if stop != nil {
		t.Cleanup(func() {
			if err := stop(); err != nil {
				t.Errorf("tear down local cluster: %v", err)
			}
		})
	}
	if err != nil {
		t.Fatalf("start local cluster: %v", err)
	}
	return env
}

func skipReason(opts Options) string {
	if opts.Nodes > 0 && os.Geteuid() != 0 {
		return "simulated nodes need root (network namespaces, bind mounts): run the test as root"
	}
	if opts.RealNodes {
		for _, bin := range []string{"containerd", "runc", "ctr", "iptables"} {
			if _, err := exec.LookPath(bin); err != nil {
				return "real nodes need " + bin + ": run REAL_NODES=1 hack/local-cluster/packages.sh"
			}
		}
	}
	return ""
}

// start returns the cluster and, for a fresh one, the function that removes it.
func start(opts Options, logf func(string, ...any)) (*Env, func() error, error) {
	if kc, ok := reusable(opts, logf); ok {
		env, err := reuse(kc, opts)
		if err == nil {
			logf("reusing the local cluster of KUBECONFIG=%s", kc)
			return env, nil, nil
		}
		logf("not reusing KUBECONFIG=%s: %v", kc, err)
	}
	return startFresh(opts, logf)
}

// reusable reports whether KUBECONFIG names a single local cluster file.
func reusable(opts Options, logf func(string, ...any)) (string, bool) {
	kc := os.Getenv("KUBECONFIG")
	if opts.Fresh || opts.RealNodes || kc == "" || strings.Contains(kc, string(os.PathListSeparator)) {
		return "", false
	}
	name, err := localcluster.CurrentContext(kc)
	if err != nil || name != localcluster.ContextName {
		logf("KUBECONFIG=%s has current context %q, not %q: starting a fresh cluster", kc, name, localcluster.ContextName)
		return "", false
	}
	return kc, true
}

func reuse(kubeconfig string, opts Options) (*Env, error) {
	cfg, err := localcluster.RESTConfigFrom(kubeconfig)
	if err != nil {
		return nil, err
	}
	env, err := newEnv(cfg, kubeconfig)
	if err != nil {
		return nil, err
	}
	if len(env.Nodes) < opts.Nodes {
		return nil, fmt.Errorf("it has %d nodes, the test needs %d", len(env.Nodes), opts.Nodes)
	}
	env.Reused = true
	if c, err := localcluster.Load(filepath.Dir(kubeconfig)); err == nil {
		env.Cluster = c
		env.KubectlPath = c.Kubectl()
	}
	return env, nil
}

func newEnv(cfg *rest.Config, kubeconfig string) (*Env, error) {
	cs, err := kubernetes.NewForConfig(cfg)
	if err != nil {
		return nil, fmt.Errorf("build clientset: %w", err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	nodes, err := cs.CoreV1().Nodes().List(ctx, metav1.ListOptions{})
	if err != nil {
		return nil, fmt.Errorf("list nodes: %w", err)
	}
	env := &Env{Config: cfg, Client: cs, Kubeconfig: kubeconfig, KubectlPath: "kubectl"}
	for _, n := range nodes.Items {
		env.Nodes = append(env.Nodes, n.Name)
	}
	return env, nil
}

func startFresh(opts Options, logf func(string, ...any)) (*Env, func() error, error) {
	cfg, err := freshConfig(opts, logf)
	if err != nil {
		return nil, nil, err
	}
	timeout := 5 * time.Minute
	if opts.RealNodes {
		timeout = 10 * time.Minute // helm install --wait included
	}
	ctx, cancel := context.WithTimeout(context.Background(), timeout)
	defer cancel()
	c, upErr := localcluster.Up(ctx, cfg)
	var stop func() error
	if c != nil {
		stop = func() error { return teardown(c, cfg.StateDir) }
	}
	if upErr == nil && opts.Ipkeeper {
		upErr = c.CreateDefaultPool(ctx)
	}
	if upErr != nil {
		return nil, stop, upErr
	}
	rc, err := c.RESTConfig()
	if err != nil {
		return nil, stop, err
	}
	env, err := newEnv(rc, c.Kubeconfig())
	if err != nil {
		return nil, stop, err
	}
	env.Cluster, env.KubectlPath = c, c.Kubectl()
	return env, stop, nil
}

func freshConfig(opts Options, logf func(string, ...any)) (localcluster.Config, error) {
	state, err := os.MkdirTemp("", "ipkeeper-cluster-")
	if err != nil {
		return localcluster.Config{}, fmt.Errorf("create state dir: %w", err)
	}
	cfg := localcluster.Config{
		StateDir:    state,
		Nodes:       opts.Nodes,
		RealNodes:   opts.RealNodes,
		NodesimPath: os.Getenv("IPKEEPER_NODESIM"), // empty: Complete builds it into the state dir
		Progress:    func(line string) { logf("local cluster: %s", line) },
	}
	if err := cfg.Complete(); err != nil {
		return localcluster.Config{}, errors.Join(err, os.RemoveAll(state))
	}
	if opts.RealNodes {
		root, err := localcluster.RepoRoot()
		if err == nil {
			err = cfg.UseRealNodes(root, filepath.Join(cfg.StateDir, "bin"), realNodeImageTag, opts.Ipkeeper)
		}
		if err != nil {
			return localcluster.Config{}, errors.Join(err, os.RemoveAll(state))
		}
	} else if opts.Ipkeeper {
		if err := applyIpkeeper(&cfg); err != nil {
			return localcluster.Config{}, errors.Join(err, os.RemoveAll(state))
		}
	}
	if opts.Configure != nil {
		opts.Configure(&cfg)
	}
	return cfg, nil
}

// applyIpkeeper builds ipkeeper into the cluster's state dir and makes it
// the nodes' IPAM.
func applyIpkeeper(cfg *localcluster.Config) error {
	root, err := localcluster.RepoRoot()
	if err != nil {
		return err
	}
	ik, err := localcluster.BuildIpkeeper(root, filepath.Join(cfg.StateDir, "bin"))
	if err != nil {
		return err
	}
	return ik.Apply(cfg)
}

// realNodeImageTag tags the images a test builds for real nodes.
const realNodeImageTag = "e2e"

// teardown removes a fresh cluster; KEEP_CLUSTER=1 keeps it for debugging.
func teardown(c *localcluster.Cluster, stateDir string) error {
	if os.Getenv("KEEP_CLUSTER") != "" {
		fmt.Fprintf(os.Stderr, "keeping local cluster %s (KEEP_CLUSTER): KUBECONFIG=%s\n", c.Prefix(), c.Kubeconfig())
		return nil
	}
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	if err := c.Down(ctx); err != nil {
		return err
	}
	return os.RemoveAll(stateDir)
}
