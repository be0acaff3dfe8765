package main

import (
	"bytes"
	"context"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"strings"
	"syscall"
	"testing"
	"time"
)

// repoRoot is the project module's directory, three levels above this one.
func repoRoot(t *testing.T) string {
	t.Helper()
	root, err := filepath.Abs("../../..")
	if err != nil {
		t.Fatal(err)
	}
	if _, err := os.Stat(filepath.Join(root, "cmd", "ipkeeper-cni-installer")); err != nil {
		t.Fatalf("not the project's root: %v", err)
	}
	return root
}

// containerd is a throwaway containerd: its own root, state and socket under
// a temporary directory, and its own mount namespace with a tmpfs on /run, so
// that neither its mounts nor its shims' sockets reach the host.
type containerd struct {
	dir, sock string
}

func startContainerd(t *testing.T) *containerd {
	t.Helper()
	for _, cmd := range []string{"containerd", "ctr", "unshare"} {
		if _, err := exec.LookPath(cmd); err != nil {
			t.Skipf("no %s: %v", cmd, err)
		}
	}
	dir := t.TempDir()
	c := &containerd{dir: dir, sock: filepath.Join(dir, "containerd.sock")}
	config := fmt.Sprintf(`version = 2
root = %[1]q
state = %[2]q
disabled_plugins = ["io.containerd.grpc.v1.cri"]
[grpc]
  address = %[3]q
[plugins."io.containerd.internal.v1.opt"]
  path = %[4]q
`, filepath.Join(dir, "root"), filepath.Join(dir, "state"), c.sock, filepath.Join(dir, "opt"))
	configFile := filepath.Join(dir, "config.toml")
	if err := os.WriteFile(configFile, []byte(config), 0o600); err != nil {
		t.Fatal(err)
	}
	var log bytes.Buffer
	cmd := exec.Command("unshare", "--mount", "--propagation", "private", "--",
		"sh", "-c", `mount -t tmpfs tmpfs /run && exec containerd --config "$0"`, configFile)
	cmd.Stdout, cmd.Stderr = &log, &log
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	done := make(chan error, 1)
	go func() { done <- cmd.Wait() }()
	t.Cleanup(func() {
		_ = cmd.Process.Signal(syscall.SIGTERM)
		var err error
		select {
		case err = <-done:
		case <-time.After(10 * time.Second):
			_ = cmd.Process.Kill()
			err = <-done
		}
		if err != nil {
			t.Logf("containerd: %v", err)
		}
		if t.Failed() {
			t.Logf("containerd log:\n%s", log.String())
		}
	})
	deadline := time.Now().Add(30 * time.Second)
	for {
		if _, err := c.ctr(t.Context(), "version"); err == nil {
			return c
		}
		select {
		case err := <-done:
			t.Fatalf("containerd exited: %v\n%s", err, log.String())
		case <-time.After(100 * time.Millisecond):
		}
		if time.Now().After(deadline) {
			t.Fatalf("containerd not answering on %s after 30s:\n%s", c.sock, log.String())
		}
	}
}

func (c *containerd) ctr(ctx context.Context, args ...string) (string, error) {
	ctx, cancel := context.WithTimeout(ctx, 2*time.Minute)
	defer cancel()
	args = append([]string{"-a", c.sock, "-n", "k8s.io"}, args...)
	out, err := exec.CommandContext(ctx, "ctr", args...).CombinedOutput()
	if err != nil {
		return string(out), fmt.Errorf("ctr %s: %w: %s", strings.Join(args, " "), err, out)
	}
	return string(out), nil
}

// The docker-archives load with `ctr -n k8s.io images import` (what a node of
// the local cluster does), and the agent image's installer, run from the
// imported image, puts the plugin into a host directory.
func TestContainerdImport(t *testing.T) {
	if os.Geteuid() != 0 {
		t.Skip("needs root to run containerd")
	}
	c := startContainerd(t)
	host := Platform{OS: "linux", Arch: runtime.GOARCH}
	other := Platform{OS: "linux", Arch: "arm64"}
	if host.Arch == "arm64" {
		other.Arch = "amd64"
	}
	bin := t.TempDir()
	fakeBinaries(t, bin)
	// The installer is real: the test runs it in a container.
	if err := os.Remove(filepath.Join(host.binDir(bin), "ipkeeper-cni-installer")); err != nil {
		t.Fatal(err)
	}
	build := exec.Command("go", "build", "-trimpath", "-o", host.binDir(bin)+"/", "./cmd/ipkeeper-cni-installer")
	build.Dir = repoRoot(t)
	build.Env = append(os.Environ(), "CGO_ENABLED=0")
	if out, err := build.CombinedOutput(); err != nil {
		t.Fatalf("build the installer: %v\n%s", err, out)
	}
	// Both archives of an image carry the same name, so the one imported last
	// is the one that name runs: the host's.
	written, err := Build(images, []Platform{other, host}, bin, t.TempDir(), testMeta)
	if err != nil {
		t.Fatal(err)
	}

	for _, w := range written {
		for _, b := range w.Platforms {
			args := []string{"images", "import", "--platform", b.Platform.String()}
			if b.Platform != host {
				args = append(args, "--no-unpack") // nothing on this machine runs it
			}
			if _, err := c.ctr(t.Context(), append(args, b.Tarball)...); err != nil {
				t.Fatal(err)
			}
		}
	}
	list, err := c.ctr(t.Context(), "images", "ls", "-q")
	if err != nil {
		t.Fatal(err)
	}
	for _, w := range written {
		if !strings.Contains(list, w.Ref+"\n") {
			t.Errorf("%s not among the imported images:\n%s", w.Ref, list)
		}
	}

	if _, err := exec.LookPath("runc"); err != nil {
		t.Skipf("no runc to run the installer: %v", err)
	}
	cniBin := t.TempDir()
	var agent string
	for _, s := range images {
		if s.Name == "ipkeeper-agent" {
			agent = testMeta.Ref(s)
		}
	}
	// The container's output goes to a file, which the shim writes: ctr's
	// own fifos would be under the host's /run.
	logFile := filepath.Join(c.dir, "installer.log")
	_, err = c.ctr(t.Context(), "run", "--rm", "--log-uri", "file://"+logFile, "--cgroup", "", "--runc-root", filepath.Join(c.dir, "runc"),
		"--mount", "type=bind,src="+cniBin+",dst=/host/opt/cni/bin,options=rbind:rw",
		agent, "install-"+host.Arch, "/ipkeeper-cni-installer")
	out, _ := os.ReadFile(logFile)
	if err != nil {
		t.Fatalf("%v\ninstaller: %s", err, out)
	}
	t.Logf("installer: %s", out)
	got, err := os.ReadFile(filepath.Join(cniBin, "spiderpool"))
	if err != nil {
		t.Fatal(err)
	}
	want, err := os.ReadFile(filepath.Join(host.binDir(bin), "spiderpool"))
	if err != nil {
		t.Fatal(err)
	}
	if !bytes.Equal(got, want) {
		t.Error("the installer in the agent image did not install its spiderpool")
	}
}
