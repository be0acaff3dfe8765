//go:build e2e

// Package cni tests the spiderpool plugin binary as a runtime runs it: built
// fresh, executed by libcni from inside a simulated node's network namespace,
// chained after Debian's macvlan plugin, configuring real pod namespaces.
// They need root (network namespaces, links) and are skipped without it.
//
// The agent on the other end of the socket comes from startAgent
// (agent_test.go). The tests assert what the runtime and the pod see:
// results, addresses and routes in the pod's namespace, CNI error codes and
// messages, idempotency.
package cni

import (
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"testing"
)

// debianPluginDir holds Debian's containernetworking-plugins (1.1.1: macvlan
// and friends, CNI specs up to 1.0.0).
const debianPluginDir = "/usr/lib/cni"

var (
	// pluginDir holds the spiderpool binary built for this run.
	pluginDir string
	// skipReason is why every test skips; empty when they can run.
	skipReason string
)

func TestMain(m *testing.M) {
	os.Exit(run(m))
}

func run(m *testing.M) int {
	switch {
	case os.Geteuid() != 0:
		skipReason = "CNI tests need root: they create network namespaces and links"
	case !exists(filepath.Join(debianPluginDir, "macvlan")):
		skipReason = "CNI tests need the macvlan plugin in " + debianPluginDir + " (apt-get install containernetworking-plugins)"
	}
	if skipReason != "" {
		return m.Run()
	}
	dir, err := os.MkdirTemp("", "ipkeeper-cni-")
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		return 1
	}
	defer os.RemoveAll(dir)
	build := exec.Command("go", "build", "-o", filepath.Join(dir, "spiderpool"), "github.com/ipkeeper/ipkeeper/cmd/spiderpool")
	build.Stdout, build.Stderr = os.Stderr, os.Stderr
	if err := build.Run(); err != nil {
		fmt.Fprintln(os.Stderr, "build the spiderpool plugin:", err)
		return 1
	}
	pluginDir = dir
	return m.Run()
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
