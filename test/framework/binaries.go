package framework

import (
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"runtime"
	"sync"

	"github.com/ipkeeper/ipkeeper/test/localcluster"
)

type binarySet struct {
	root    string // repository root
	k8s     string // directory of the control plane binaries
	nodesim string // ipkeeper-nodesim given by IPKEEPER_NODESIM, else built per cluster
}

var (
	buildOnce sync.Once
	builtSet  binarySet
	errBuild  error
)

// binaries locates what a fresh cluster runs, once per process: the control
// plane from hack/build-k8s.sh (cached per machine; override with
// IPKEEPER_K8S_BIN_DIR) and etcd.
func binaries() (binarySet, error) {
	buildOnce.Do(func() { builtSet, errBuild = locate() })
	return builtSet, errBuild
}

func locate() (binarySet, error) {
	root, err := repoRoot()
	if err != nil {
		return binarySet{}, err
	}
	set := binarySet{root: root, nodesim: os.Getenv("IPKEEPER_NODESIM")}
	if _, err := os.Stat("/usr/bin/etcd"); err != nil {
		return binarySet{}, errors.New("etcd is not installed: run hack/local-cluster/packages.sh")
	}
	if set.k8s, err = localcluster.K8sBinDir(root); err != nil {
		return binarySet{}, err
	}
	return set, nil
}

// repoRoot is two levels above this source file.
func repoRoot() (string, error) {
	_, file, _, ok := runtime.Caller(0)
	if !ok {
		return "", errors.New("cannot locate the repository")
	}
	root := filepath.Dir(filepath.Dir(filepath.Dir(file)))
	if _, err := os.Stat(filepath.Join(root, "go.mod")); err != nil {
		return "", fmt.Errorf("repository root %s: %w", root, err)
	}
	return root, nil
}

// buildNodesim builds ipkeeper-nodesim into dir (a cluster's state dir, so
// that the teardown removes it); with a warm build cache this takes a second.
func buildNodesim(root, dir string) (string, error) {
	bin := filepath.Join(dir, "bin", "ipkeeper-nodesim")
	return bin, localcluster.GoBuild(root, bin, "./test/localcluster/cmd/ipkeeper-nodesim")
}
