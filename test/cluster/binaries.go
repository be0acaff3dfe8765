package cluster

import (
	"bytes"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"strings"
	"sync"

	"github.com/ipkeeper/ipkeeper/internal/localcluster"
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
	set := binarySet{root: root, k8s: os.Getenv("IPKEEPER_K8S_BIN_DIR"), nodesim: os.Getenv("IPKEEPER_NODESIM")}
	if _, err := os.Stat("/usr/bin/etcd"); err != nil {
		return binarySet{}, errors.New("etcd is not installed: run hack/local-cluster/packages.sh")
	}
	if set.k8s == "" {
		if set.k8s, err = buildK8s(root); err != nil {
			return binarySet{}, err
		}
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

func buildK8s(root string) (string, error) {
	cmd := exec.Command(filepath.Join(root, "hack", "build-k8s.sh"))
	cmd.Stderr = os.Stderr
	out, err := cmd.Output()
	if err != nil {
		return "", fmt.Errorf("hack/build-k8s.sh: %w", err)
	}
	lines := strings.Split(strings.TrimSpace(string(out)), "\n")
	return lines[len(lines)-1], nil
}

// buildNodesim builds ipkeeper-nodesim into dir (a cluster's state dir, so
// that the teardown removes it); with a warm build cache this takes a second.
func buildNodesim(root, dir string) (string, error) {
	bin := filepath.Join(dir, "bin", "ipkeeper-nodesim")
	cmd := exec.Command("go", "build", "-o", bin, "./cmd/ipkeeper-nodesim")
	cmd.Dir = root
	var stderr bytes.Buffer
	cmd.Stderr = &stderr
	if err := cmd.Run(); err != nil {
		return "", fmt.Errorf("build ipkeeper-nodesim: %w: %s", err, stderr.String())
	}
	return bin, nil
}

// buildIpkeeper builds the agent, the controller and the spiderpool plugin
// into dir/bin.
func buildIpkeeper(root, dir string) (localcluster.Ipkeeper, error) {
	bin := filepath.Join(dir, "bin")
	ik := localcluster.Ipkeeper{
		Agent: filepath.Join(bin, "ipkeeper-agent"), Controller: filepath.Join(bin, "ipkeeper-controller"),
		PluginDir: filepath.Join(bin, "cni"),
	}
	for out, pkg := range map[string]string{ik.Agent: "./cmd/ipkeeper-agent", ik.Controller: "./cmd/ipkeeper-controller", filepath.Join(ik.PluginDir, "spiderpool"): "./cmd/spiderpool"} {
		cmd := exec.Command("go", "build", "-o", out, pkg)
		cmd.Dir = root
		var stderr bytes.Buffer
		cmd.Stderr = &stderr
		if err := cmd.Run(); err != nil {
			return ik, fmt.Errorf("build %s: %w: %s", pkg, err, stderr.String())
		}
	}
	return ik, nil
}
