package main

import (
	"path/filepath"

	"github.com/ipkeeper/ipkeeper/test/localcluster"
)

// binaries are the programs both clusters run.
type binaries struct {
	// cluster holds the parts every cluster of the run shares (control
	// plane, etcd, CRDs, node simulator or, for real nodes, Multus, the
	// images and ipkeeper's chart); each mode sets its own state dir.
	cluster  localcluster.Config
	ipkeeper localcluster.Ipkeeper // agent, controller, and the plugin alone in its directory
}

// realNodeImageTag tags the images the bench builds for real nodes.
const realNodeImageTag = "bench"

// buildBinaries locates the control plane (building it once per machine;
// k8sBinDir overrides it) and builds the node simulator and ipkeeper's
// binaries (for real nodes: the images and the local registry) into
// dir/bin, once for all clusters.
func buildBinaries(dir, k8sBinDir string, nodes int, realNodes bool, maxPods int) (binaries, error) {
	b := binaries{cluster: localcluster.Config{StateDir: dir, Nodes: nodes, K8sBinDir: k8sBinDir, RealNodes: realNodes, MaxPods: maxPods}}
	if err := b.cluster.Complete(); err != nil {
		return b, err
	}
	root, err := localcluster.RepoRoot()
	if err != nil {
		return b, err
	}
	if realNodes {
		if err := b.cluster.UseRealNodes(root, filepath.Join(dir, "bin"), realNodeImageTag, true); err != nil {
			return b, err
		}
		// The agents' ADD histograms are read from their /metrics.
		b.cluster.Chart.Set = append(b.cluster.Chart.Set, "spiderpoolAgent.prometheus.enabled=true")
		return b, nil
	}
	b.ipkeeper, err = localcluster.BuildIpkeeper(root, filepath.Join(dir, "bin"))
	return b, err
}
