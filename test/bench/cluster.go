package main

import (
	"context"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"time"

	"k8s.io/client-go/dynamic"
	"k8s.io/client-go/kubernetes"

	"github.com/ipkeeper/ipkeeper/test/localcluster"
)

// The two IPAM modes, run in this order.
const (
	modeIpkeeper  = "ipkeeper"
	modeHostLocal = "host-local"
)

// env is one running cluster and the clients the bench drives it with.
type env struct {
	mode    string
	cluster *localcluster.Cluster
	cs      kubernetes.Interface
	dyn     dynamic.Interface
	nodes   []localcluster.Node
}

// The bench client is not the bottleneck it measures.
const (
	clientQPS   = 500
	clientBurst = 1000
)

// startCluster starts a fresh cluster in stateDir with the mode's IPAM as
// the nodes' default network. The returned env is non-nil whenever something
// was started, so that the caller can always take it down.
func startCluster(ctx context.Context, mode, stateDir string, b binaries, nodes int, progress func(string)) (*env, error) {
	cfg := b.cluster
	cfg.StateDir, cfg.Nodes, cfg.Progress = stateDir, nodes, progress
	switch {
	case mode == modeHostLocal:
		cfg.DefaultNetwork, cfg.Chart = localcluster.HostLocalNetwork, nil
	case !cfg.RealNodes: // real nodes: b.cluster installs ipkeeper's chart
		if err := b.ipkeeper.Apply(&cfg); err != nil {
			return nil, err
		}
	}
	c, err := localcluster.Up(ctx, cfg)
	if c == nil {
		return nil, err
	}
	e := &env{mode: mode, cluster: c, nodes: c.Nodes()}
	if err != nil {
		return e, err
	}
	if mode == modeIpkeeper {
		progress("the default pool (real nodes: created by the chart's controller; simulated: applied once the webhooks serve)")
		if err := c.CreateDefaultPool(ctx); err != nil {
			return e, err
		}
	}
	return e, e.connect()
}

func (e *env) connect() error {
	rc, err := e.cluster.RESTConfig()
	if err != nil {
		return err
	}
	rc.QPS, rc.Burst = clientQPS, clientBurst
	rc.UserAgent = "ipkeeper-bench"
	if e.cs, err = kubernetes.NewForConfig(rc); err != nil {
		return fmt.Errorf("build clientset: %w", err)
	}
	if e.dyn, err = dynamic.NewForConfig(rc); err != nil {
		return fmt.Errorf("build dynamic client: %w", err)
	}
	return nil
}

// down removes the cluster; with keepLogs its logs are first copied to
// logDir. It runs on its own context so that an interrupted run still
// cleans up.
func (e *env) down(keepLogs bool, logDir string) error {
	var errs []error
	if keepLogs {
		errs = append(errs, copyDir(filepath.Join(e.cluster.StateDir(), "logs"), logDir))
	}
	ctx, cancel := context.WithTimeout(context.Background(), 3*time.Minute)
	defer cancel()
	// Down is safe to repeat; a netlink dump interrupted by other clusters'
	// link changes (netlink.ErrDumpInterrupted) makes one attempt fail.
	var err error
	for attempt := range downAttempts {
		if err = e.cluster.Down(ctx); err == nil {
			break
		}
		if attempt < downAttempts-1 {
			fmt.Printf("[%-10s] take down failed (%v); trying again\n", e.mode, err)
			time.Sleep(time.Second)
		}
	}
	return errors.Join(append(errs, err)...)
}

const downAttempts = 3

// copyDir copies the regular files of src into dst.
func copyDir(src, dst string) error {
	entries, err := os.ReadDir(src)
	if err != nil {
		return fmt.Errorf("read %s: %w", src, err)
	}
	if err := os.MkdirAll(dst, 0o755); err != nil {
		return fmt.Errorf("create %s: %w", dst, err)
	}
	for _, en := range entries {
		if !en.Type().IsRegular() {
			continue
		}
		data, err := os.ReadFile(filepath.Join(src, en.Name()))
		if err != nil {
			return fmt.Errorf("read log: %w", err)
		}
		if err := os.WriteFile(filepath.Join(dst, en.Name()), data, 0o644); err != nil {
			return fmt.Errorf("write log copy: %w", err)
		}
	}
	return nil
}
