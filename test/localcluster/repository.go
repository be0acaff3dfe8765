package localcluster

import (
	"bufio"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"
)

// modulePath is the module whose go.mod marks the repository root.
const modulePath = "github.com/ipkeeper/ipkeeper"

// RepoRoot returns the root of the ipkeeper repository that holds the working
// directory: the nearest directory at or above it whose go.mod starts with
// `module github.com/ipkeeper/ipkeeper`. Other modules on the way (the tools
// module under hack/) are passed over. `go test` runs a test in its package's
// directory and `go run` where it was called, so both find it from inside the
// repository.
func RepoRoot() (string, error) {
	wd, err := os.Getwd()
	if err != nil {
		return "", fmt.Errorf("working directory: %w", err)
	}
	for dir := wd; ; dir = filepath.Dir(dir) {
		if isRepoRoot(dir) {
			return dir, nil
		}
		if filepath.Dir(dir) == dir {
			return "", fmt.Errorf("no go.mod of module %s at or above %s: run from inside the ipkeeper repository", modulePath, wd)
		}
	}
}

// isRepoRoot reports whether dir/go.mod's first line declares modulePath.
func isRepoRoot(dir string) bool {
	f, err := os.Open(filepath.Join(dir, "go.mod"))
	if err != nil {
		return false
	}
	defer f.Close()
	line, _ := bufio.NewReader(f).ReadString('\n')
	return strings.TrimSpace(line) == "module "+modulePath
}

// Complete fills what c leaves empty with this repository's parts, and is the
// one place that locates them for every caller (make up, the bench,
// test/framework, the integration and CNI tests):
//
//   - EtcdPath: /usr/bin/etcd (Debian's etcd-server); it must exist;
//   - K8sBinDir: the pinned control plane (K8sBinDir, built once per machine);
//   - CRDDirs: config/crd/bases of the repository;
//   - NodesimPath, when Nodes > 0: ipkeeper-nodesim built into StateDir/bin;
//   - with RealNodes: MultusDir (hack/build-multus.sh, built once per
//     machine) and, unless CRDDirs is set, only Multus's CRD (the chart brings
//     ipkeeper's), and RegistryPath (local-registry built into StateDir/bin).
//     Images are the caller's (BuildImages).
//
// Callers set what they want instead (a node count, Ipkeeper.Apply, explicit
// paths) before or after; Up then starts the cluster.
func (c *Config) Complete() error {
	if c.EtcdPath == "" {
		c.EtcdPath = defaultEtcd
	}
	if _, err := os.Stat(c.EtcdPath); err != nil {
		if c.EtcdPath == defaultEtcd {
			return errors.New("etcd is not installed: run hack/local-cluster/packages.sh")
		}
		return fmt.Errorf("etcd: %w", err)
	}
	if c.K8sBinDir != "" && c.CRDDirs != nil && (c.Nodes == 0 || c.NodesimPath != "" || c.RealNodes) &&
		(!c.RealNodes || c.MultusDir != "" && c.RegistryPath != "") {
		return nil // nothing to find in the repository
	}
	root, err := RepoRoot()
	if err != nil {
		return err
	}
	if c.K8sBinDir == "" {
		if c.K8sBinDir, err = K8sBinDir(root); err != nil {
			return err
		}
	}
	if c.CRDDirs == nil && c.RealNodes {
		// ipkeeper's chart installs its own CRDs; the cluster provides what
		// Multus would.
		c.CRDDirs = []string{filepath.Join(root, NADCRD)}
	}
	if c.CRDDirs == nil {
		c.CRDDirs = []string{filepath.Join(root, "config", "crd", "bases")}
	}
	if c.RealNodes && c.MultusDir == "" {
		if c.MultusDir, err = MultusDir(root); err != nil {
			return err
		}
	}
	if c.RealNodes && c.RegistryPath == "" {
		bin := filepath.Join(c.StateDir, "bin", "local-registry")
		if err := BuildLocalRegistry(root, bin); err != nil {
			return err
		}
		c.RegistryPath = bin
	}
	if c.Nodes > 0 && !c.RealNodes && c.NodesimPath == "" {
		bin := filepath.Join(c.StateDir, "bin", "ipkeeper-nodesim")
		if err := GoBuild(root, bin, NodesimPackage); err != nil {
			return err
		}
		c.NodesimPath = bin
	}
	return nil
}

// NADCRD is Multus's NetworkAttachmentDefinition CRD, relative to the
// repository root.
const NADCRD = "config/crd/bases/k8s.cni.cncf.io_network-attachment-definitions.yaml"

// NodesimPackage is the node simulator's main package, relative to the
// repository root.
const NodesimPackage = "./test/localcluster/cmd/ipkeeper-nodesim"
