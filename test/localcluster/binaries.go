package localcluster

import (
	"bytes"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"strings"
)

// K8sBinDir returns the directory of the pinned control plane binaries:
// $IPKEEPER_K8S_BIN_DIR when set, else what hack/build-k8s.sh prints last
// (it builds them once per machine, printing progress on stderr, and then
// answers from its cache).
func K8sBinDir(root string) (string, error) {
	if dir := os.Getenv("IPKEEPER_K8S_BIN_DIR"); dir != "" {
		return dir, nil
	}
	return lastLineOf(filepath.Join(root, "hack", "build-k8s.sh"))
}

// Helm returns the pinned helm binary: $IPKEEPER_HELM when set, else what
// hack/build-helm.sh prints last (built once per machine, then cached).
func Helm(root string) (string, error) {
	if p := os.Getenv("IPKEEPER_HELM"); p != "" {
		return p, nil
	}
	return lastLineOf(filepath.Join(root, "hack", "build-helm.sh"))
}

// lastLineOf runs a hack/build-*.sh script, passing its progress through on
// stderr, and returns the last line it prints: the path it built or cached.
func lastLineOf(script string) (string, error) {
	cmd := exec.Command(script)
	cmd.Stderr = os.Stderr
	out, err := cmd.Output()
	if err != nil {
		return "", fmt.Errorf("hack/%s: %w", filepath.Base(script), err)
	}
	lines := strings.Split(strings.TrimSpace(string(out)), "\n")
	return lines[len(lines)-1], nil
}

// MultusDir returns the directory of the pinned Multus thin plugin: what
// hack/build-multus.sh prints last (built once per machine, then cached).
func MultusDir(root string) (string, error) {
	return lastLineOf(filepath.Join(root, "hack", "build-multus.sh"))
}

// BuildImages runs `make images` for this machine's architecture with the
// given tag, writing into dir, and returns the docker-archives: ipkeeper's
// agent and controller and the pause and nginx stand-ins.
func BuildImages(root, dir, version string) ([]string, error) {
	cmd := exec.Command("make", "images", "IMAGE_PLATFORMS=linux/"+runtime.GOARCH, "BIN="+dir, "VERSION="+version)
	cmd.Dir = root
	var out bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &out
	if err := cmd.Run(); err != nil {
		return nil, fmt.Errorf("make images: %w: %s", err, strings.TrimSpace(out.String()))
	}
	images, err := filepath.Glob(filepath.Join(dir, "images", "*-"+version+"-"+runtime.GOARCH+".tar"))
	if err != nil || len(images) == 0 {
		return nil, fmt.Errorf("make images wrote no archives into %s/images: %s", dir, strings.TrimSpace(out.String()))
	}
	return images, nil
}

// BuildLocalRegistry builds hack/tools/images' local-registry (its own
// module) into out.
func BuildLocalRegistry(root, out string) error {
	return goBuild(filepath.Join(root, "hack", "tools", "images"), nil, out, "./cmd/local-registry")
}

// GoBuild builds the packages (paths relative to the repository root) into
// out, a file for one package or a directory ending in "/" for several.
func GoBuild(root, out string, pkgs ...string) error {
	return goBuild(root, nil, out, pkgs...)
}

// BuildPlugin builds the spiderpool and coordinator CNI plugins into dir as
// they ship: statically linked (CGO_ENABLED=0), since it is copied onto hosts
// whose C library is not known, and it then starts without the dynamic
// loader, which matters for a process started for every pod.
func BuildPlugin(root, dir string) error {
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return err
	}
	// The coordinator too: a network rendered with enableCoordinator chains it.
	return goBuild(root, []string{"CGO_ENABLED=0"}, dir+"/", "./cmd/spiderpool", "./cmd/coordinator")
}

func goBuild(root string, env []string, out string, pkgs ...string) error {
	cmd := exec.Command("go", append([]string{"build", "-o", out}, pkgs...)...)
	cmd.Dir = root
	cmd.Env = append(os.Environ(), env...)
	var stderr bytes.Buffer
	cmd.Stderr = &stderr
	if err := cmd.Run(); err != nil {
		return fmt.Errorf("build %s: %w: %s", strings.Join(pkgs, " "), err, strings.TrimSpace(stderr.String()))
	}
	return nil
}

// BuildIpkeeper builds the agent and the controller into dir and the
// spiderpool and coordinator plugins alone into dir/cni (searched before
// /usr/lib/cni).
func BuildIpkeeper(root, dir string) (Ipkeeper, error) {
	ik := Ipkeeper{
		Agent: filepath.Join(dir, "ipkeeper-agent"), Controller: filepath.Join(dir, "ipkeeper-controller"),
		PluginDir: filepath.Join(dir, "cni"),
	}
	if err := GoBuild(root, dir+"/", "./cmd/ipkeeper-agent", "./cmd/ipkeeper-controller"); err != nil {
		return ik, err
	}
	return ik, BuildPlugin(root, ik.PluginDir)
}
