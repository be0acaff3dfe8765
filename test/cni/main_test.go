//go:build e2e

// Package cni tests the spiderpool plugin binary as a runtime runs it: built
// fresh, executed by libcni from inside a simulated node's network namespace,
// chained after Debian's macvlan plugin, configuring real pod namespaces.
// On the other end of the plugin's socket runs the real ipkeeper-agent,
// against a real kube-apiserver and etcd started once for the package
// (test/localcluster, no simulated nodes of its own). They need root
// (network namespaces, links) and are skipped without it.
//
// The tests assert what the runtime and the pod see (results, addresses and
// routes in the pod's namespace, CNI error codes and messages, idempotency)
// and what the agent leaves in the API server (the IPClaims of the node).
package cni

import (
	"fmt"
	"os"
	"path/filepath"
	"testing"

	"github.com/ipkeeper/ipkeeper/test/localcluster"
)

const (
	// debianPluginDir holds Debian's containernetworking-plugins (1.1.1:
	// macvlan and friends, CNI specs up to 1.0.0).
	debianPluginDir = "/usr/lib/cni"
	// etcdPath is where localcluster looks for etcd.
	etcdPath = "/usr/bin/etcd"
)

var (
	// pluginDir holds the spiderpool and coordinator plugins and the
	// ipkeeper-agent built for this run.
	pluginDir string
	// skipReason is why every test skips; empty when they can run.
	skipReason string
)

func TestMain(m *testing.M) {
	code, err := run(m)
	if err != nil {
		fmt.Fprintln(os.Stderr, "CNI test setup:", err)
		os.Exit(1)
	}
	os.Exit(code)
}

func run(m *testing.M) (int, error) {
	switch {
	case os.Geteuid() != 0:
		skipReason = "CNI tests need root: they create network namespaces and links"
	case !exists(filepath.Join(debianPluginDir, "macvlan")):
		skipReason = "CNI tests need the macvlan plugin in " + debianPluginDir + " (apt-get install containernetworking-plugins)"
	case !exists(etcdPath):
		skipReason = "CNI tests need etcd at " + etcdPath + " for their API server (apt-get install etcd-server)"
	}
	if skipReason != "" {
		return m.Run(), nil
	}
	tmp, err := os.MkdirTemp("", "ipk-cni-")
	if err != nil {
		return 0, err
	}
	defer os.RemoveAll(tmp)
	pluginDir = filepath.Join(tmp, "bin")
	root, err := localcluster.RepoRoot()
	if err != nil {
		return 0, err
	}
	if err := localcluster.BuildPlugin(root, pluginDir); err != nil {
		return 0, err
	}
	if err := localcluster.GoBuild(root, pluginDir+"/", "./cmd/ipkeeper-agent"); err != nil {
		return 0, err
	}
	down, err := startControlPlane(filepath.Join(tmp, "cluster"))
	if down != nil {
		defer down()
	}
	if err != nil {
		return 0, err
	}
	return m.Run(), nil
}

func requireRoot(t *testing.T) {
	t.Helper()
	if skipReason != "" {
		t.Skip(skipReason)
	}
}

func exists(path string) bool {
	_, err := os.Stat(path)
	return err == nil
}
