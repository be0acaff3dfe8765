package main

import (
	"bytes"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"

	"github.com/ipkeeper/ipkeeper/internal/localcluster"
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
		if b.k8s, err = buildK8s(root); err != nil {
			return b, err
		}
	}
	bin := filepath.Join(dir, "bin")
	b.nodesim = filepath.Join(bin, "ipkeeper-nodesim")
	b.ipkeeper = localcluster.Ipkeeper{
		Agent:      filepath.Join(bin, "ipkeeper-agent"),
		Controller: filepath.Join(bin, "ipkeeper-controller"),
		// The plugin is searched before /usr/lib/cni, so it is alone here.
		PluginDir: filepath.Join(bin, "cni"),
	}
	builds := []struct{ out, pkg string }{
		{bin + "/", "./cmd/ipkeeper-nodesim"},
		{bin + "/", "./cmd/ipkeeper-agent"},
		{bin + "/", "./cmd/ipkeeper-controller"},
		{b.ipkeeper.PluginDir + "/", "./cmd/spiderpool"},
	}
	for _, bld := range builds {
		if err := goBuild(root, bld.out, bld.pkg); err != nil {
			return b, err
		}
	}
	return b, nil
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

// buildK8s runs hack/build-k8s.sh, which prints the binary directory last.
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

func goBuild(root, out, pkg string) error {
	cmd := exec.Command("go", "build", "-o", out, pkg)
	cmd.Dir = root
	var stderr bytes.Buffer
	cmd.Stderr = &stderr
	if err := cmd.Run(); err != nil {
		return fmt.Errorf("build %s: %w: %s", pkg, err, strings.TrimSpace(stderr.String()))
	}
	return nil
}
