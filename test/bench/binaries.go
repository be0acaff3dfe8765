package main

import (
	"path/filepath"

	"github.com/ipkeeper/ipkeeper/test/localcluster"
)

// binaries are the programs both clusters run.
type binaries struct {
	// cluster holds the parts every cluster of the run shares (control
	// plane, etcd, CRDs, node simulator); each mode sets its own state dir.
	cluster  localcluster.Config
	ipkeeper localcluster.Ipkeeper // agent, controller, and the plugin alone in its directory
}

// buildBinaries locates the control plane (building it once per machine;
// k8sBinDir overrides it) and builds the node simulator and ipkeeper's
// binaries into dir/bin, once for all clusters.
func buildBinaries(dir, k8sBinDir string, nodes int) (binaries, error) {
	b := binaries{cluster: localcluster.Config{StateDir: dir, Nodes: nodes, K8sBinDir: k8sBinDir}}
	if err := b.cluster.Complete(); err != nil {
		return b, err
	}
	root, err := localcluster.RepoRoot()
	if err != nil {
		return b, err
	}
	b.ipkeeper, err = localcluster.BuildIpkeeper(root, filepath.Join(dir, "bin"))
	return b, err
}
