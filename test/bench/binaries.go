package main

import (
	"errors"
	"fmt"
	"os"
	"path/filepath"

	"github.com/ipkeeper/ipkeeper/test/localcluster"
)

// binaries are the programs both clusters run.
type binaries struct {
	root     string // repository root
	k8s      string // kube-apiserver, kube-controller-manager, kube-scheduler, kubectl
	nodesim  string
	ipkeeper localcluster.Ipkeeper // agent, controller, and the plugin alone in its directory
}

// buildBinaries locates the control plane (building it once per machine)
// and builds ipkeeper's binaries into dir/bin.
func buildBinaries(dir, k8sBinDir string) (binaries, error) {
	root, err := repoRoot()
	if err != nil {
		return binaries{}, err
	}
	if _, err := os.Stat("/usr/bin/etcd"); err != nil {
		return binaries{}, errors.New("etcd is not installed: run hack/local-cluster/packages.sh")
	}
	b := binaries{root: root, k8s: k8sBinDir}
	if b.k8s == "" {
		if b.k8s, err = localcluster.K8sBinDir(root); err != nil {
			return b, err
		}
	}
	bin := filepath.Join(dir, "bin")
	b.nodesim = filepath.Join(bin, "ipkeeper-nodesim")
	if err := localcluster.GoBuild(root, b.nodesim, "./test/localcluster/cmd/ipkeeper-nodesim"); err != nil {
		return b, err
	}
	b.ipkeeper, err = localcluster.BuildIpkeeper(root, bin)
	return b, err
}

// repoRoot is the nearest directory above the working directory holding go.mod.
func repoRoot() (string, error) {
	dir, err := os.Getwd()
	if err != nil {
		return "", fmt.Errorf("working directory: %w", err)
	}
	for {
		if _, err := os.Stat(filepath.Join(dir, "go.mod")); err == nil {
			return dir, nil
		}
		parent := filepath.Dir(dir)
		if parent == dir {
			return "", errors.New("run bench inside the repository (no go.mod above the working directory)")
		}
		dir = parent
	}
}
