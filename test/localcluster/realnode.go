package localcluster

import (
	"context"
	"errors"
	"fmt"
	"net/netip"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"time"

	"golang.org/x/sys/unix"
	"k8s.io/apimachinery/pkg/util/wait"
)

// HostAddress is the host's address on the underlay bridge of a cluster with
// real nodes: the API server binds and advertises it, and real nodes reach it
// over their ens192. The host does not forward, so nothing sent to it goes
// further.
var HostAddress = netip.MustParsePrefix("10.6.0.1/16")

// SandboxImage is what a real node's containerd runs as the sandbox, and the
// smallest image a pod can run; hack/tools/images builds it (test/images/pause).
const SandboxImage = "registry.k8s.io/pause:3.10"

// A real node's view of the host: each target is a bind mount, inside the
// node's own mount namespace, of a directory or file under the node's state
// directory. These are the paths the kubelet, containerd, CNI plugins and the
// chart's hostPath volumes hard-code, so two nodes never share one.
const (
	nodeCNIBinDir     = "/opt/cni/bin"
	nodeKubeDir       = "/etc/kubernetes"
	nodeKubeletDir    = "/var/lib/kubelet"
	nodeContainerdDir = "/var/lib/containerd"
	nodeContainerdRun = "/run/containerd"
	nodeLogDir        = "/var/log"
	nodeNetNSDir      = "/run/netns"
	nodeResolvConf    = "/etc/resolv.conf"
	containerdSocket  = nodeContainerdRun + "/containerd.sock"
)

// kernelDefaults are the sysctls the kubelet sets unless they already hold
// these values. They are machine-wide, so a real node reads them from files
// bound over /proc/sys inside its mount namespace instead: the kubelet finds
// them as it wants and the host keeps its own.
var kernelDefaults = map[string]string{
	"vm/overcommit_memory":      "1",
	"vm/panic_on_oom":           "0",
	"kernel/panic":              "10",
	"kernel/panic_on_oops":      "1",
	"kernel/keys/root_maxkeys":  "1000000",
	"kernel/keys/root_maxbytes": "25000000",
}

// realBinds are the bind mounts that make a real node's view, in the order
// they are made.
func (n Node) realBinds() []nodeBind {
	binds := []nodeBind{
		{Source: n.ConfDir(), Target: NodeConfDir},
		{Source: n.RunDir(), Target: NodeRunDir},
		{Source: n.LibDir(), Target: NodeLibDir},
		{Source: n.CNIBinDir(), Target: nodeCNIBinDir},
		{Source: n.KubeDir(), Target: nodeKubeDir},
		{Source: filepath.Join(n.Dir, "var-lib-kubelet"), Target: nodeKubeletDir},
		{Source: filepath.Join(n.Dir, "var-lib-containerd"), Target: nodeContainerdDir},
		{Source: n.ContainerdRunDir(), Target: nodeContainerdRun},
		{Source: n.LogDir(), Target: nodeLogDir},
		{Source: filepath.Join(n.Dir, "run-netns"), Target: nodeNetNSDir},
		{Source: filepath.Join(n.Dir, "resolv.conf"), Target: nodeResolvConf, File: true},
	}
	for _, key := range sortedKeys(kernelDefaults) {
		binds = append(binds, nodeBind{Source: filepath.Join(n.Dir, "sysctl", strings.ReplaceAll(key, "/", ".")),
			Target: "/proc/sys/" + key, File: true})
	}
	return binds
}

// nodeBind is one bind mount of a real node's view.
type nodeBind struct {
	Source, Target string
	// File is a file bound over a file; else a directory over a directory.
	File bool
}

// CNIBinDir is the node's /opt/cni/bin, as seen from the host.
func (n Node) CNIBinDir() string { return filepath.Join(n.Dir, "opt-cni-bin") }

// KubeDir is the node's /etc/kubernetes (configurations, kubeconfigs,
// certificates), as seen from the host.
func (n Node) KubeDir() string { return filepath.Join(n.Dir, "etc-kubernetes") }

// ContainerdRunDir is the node's /run/containerd, as seen from the host.
func (n Node) ContainerdRunDir() string { return filepath.Join(n.Dir, "run-containerd") }

// ContainerdSocket is the node's containerd socket, as seen from the host.
func (n Node) ContainerdSocket() string {
	return filepath.Join(n.ContainerdRunDir(), "containerd.sock")
}

// LogDir is the node's /var/log, as seen from the host.
func (n Node) LogDir() string { return filepath.Join(n.Dir, "var-log") }

// mountNSPin is the file that keeps the node's mount namespace alive, in a
// directory that is its own private mount (a pin cannot live on a shared one).
func (n Node) mountNSPin() string { return filepath.Join(n.Dir, "ns", "mnt") }

// Cgroup is the node's cgroup, in every hierarchy: the kubelet's cgroupRoot
// (pods under <cgroup>/kubepods) and, in <cgroup>/system, the kubelet,
// containerd, its shims and kube-proxy. Named after the netns, so that two
// clusters never share one.
func (n Node) Cgroup() string { return "/" + n.NetNS }

// startRealNode makes the node's network and mount namespaces and cgroup,
// writes its configuration, and starts containerd (importing the images),
// the kubelet and kube-proxy inside it.
func (c *Cluster) startRealNode(ctx context.Context, n Node) error {
	if err := c.writeNodeFiles(n); err != nil {
		return err
	}
	if err := c.createNodeNetwork(n); err != nil {
		return err
	}
	if err := c.createMountNS(n); err != nil {
		return err
	}
	if err := createCgroup(n.Cgroup()); err != nil {
		return err
	}
	if err := c.startContainerd(ctx, n); err != nil {
		return err
	}
	if err := c.importImages(ctx, n); err != nil {
		return err
	}
	if _, err := c.spawn(c.inNode(n, KubeletProcessName(n.Name), c.bin("kubelet"),
		"--config="+nodeKubeDir+"/kubelet.yaml", "--kubeconfig="+nodeKubeDir+"/kubelet.kubeconfig",
		"--node-ip="+n.Address.Addr().String(), "--hostname-override="+n.Name, "--v=1"), tierNode, 0); err != nil {
		return err
	}
	_, err := c.spawn(c.inNode(n, "kube-proxy-"+n.Name, c.bin("kube-proxy"),
		"--config="+nodeKubeDir+"/kube-proxy.yaml", "--v=1"), tierNode, 0)
	return err
}

// KubeletProcessName is the process name of a real node's kubelet.
func KubeletProcessName(node string) string { return "kubelet-" + node }

// inNode wraps argv so that it runs in the node: in its cgroup, then its
// network and mount namespaces (nsenter, not `ip netns exec`, which would
// remount /sys and hide the cgroup hierarchies).
func (c *Cluster) inNode(n Node, name string, argv ...string) Process {
	script := `for f in /sys/fs/cgroup/*` + n.Cgroup() + `/system/cgroup.procs; do echo $$ > "$f"; done; ` +
		`exec nsenter --mount="$0" --net="$1" -- "${@:2}"`
	return Process{Name: name, Argv: append([]string{"/bin/bash", "-c", script, n.mountNSPin(), n.NetNSPath}, argv...)}
}

func (c *Cluster) startContainerd(ctx context.Context, n Node) error {
	info, err := c.spawn(c.inNode(n, "containerd-"+n.Name, "containerd", "--config="+nodeKubeDir+"/containerd.toml"), tierNode, 0)
	if err != nil {
		return err
	}
	return c.waitFor(ctx, info, func(ctx context.Context) (bool, error) {
		return exec.CommandContext(ctx, "ctr", "--address", n.ContainerdSocket(), "version").Run() == nil, nil
	})
}

// ImportImages loads docker-archives into every real node's containerd (an
// upgrade's new images, say).
func (c *Cluster) ImportImages(ctx context.Context, archives []string) error {
	if !c.st.RealNodes {
		return errors.New("only real nodes run images")
	}
	for _, n := range c.st.Nodes {
		if err := importArchives(ctx, n, archives); err != nil {
			return err
		}
	}
	return nil
}

// importImages loads the configured docker-archives into the node's
// containerd, where the kubelet finds them (namespace k8s.io).
func (c *Cluster) importImages(ctx context.Context, n Node) error {
	return importArchives(ctx, n, c.cfg.Images)
}

func importArchives(ctx context.Context, n Node, archives []string) error {
	for _, img := range archives {
		cmd := exec.CommandContext(ctx, "ctr", "--address", n.ContainerdSocket(), "-n", "k8s.io", "images", "import", img)
		if out, err := cmd.CombinedOutput(); err != nil {
			return fmt.Errorf("import %s into %s: %w: %s", filepath.Base(img), n.Name, err, strings.TrimSpace(string(out)))
		}
	}
	return nil
}

// createMountNS makes the node's mount namespace, pinned under its state
// directory: every mount private to it, the node's view bound over the host
// paths, and then / made shared inside it (pods with mountPropagation need
// that).
func (c *Cluster) createMountNS(n Node) error {
	pinDir := filepath.Dir(n.mountNSPin())
	if err := os.MkdirAll(pinDir, 0o755); err != nil {
		return err
	}
	if err := unix.Mount(pinDir, pinDir, "", unix.MS_BIND, ""); err != nil {
		return fmt.Errorf("bind %s: %w", pinDir, err)
	}
	if err := unix.Mount("", pinDir, "", unix.MS_PRIVATE, ""); err != nil {
		return fmt.Errorf("make %s private: %w", pinDir, err)
	}
	if err := os.WriteFile(n.mountNSPin(), nil, 0o444); err != nil {
		return err
	}
	var script strings.Builder
	script.WriteString("set -e\n")
	for _, b := range n.realBinds() {
		if !b.File {
			if err := c.ensureHostDir(b.Target); err != nil {
				return err
			}
		}
		fmt.Fprintf(&script, "mount --bind %q %q\n", b.Source, b.Target)
	}
	script.WriteString("mount --make-rshared /\n")
	// unshare makes every mount of the new namespace private by default, so
	// the binds stay out of the host's view (and /run/netns, shared on the
	// host, is cut off before it is covered).
	cmd := exec.Command("unshare", "--mount="+n.mountNSPin(), "--", "/bin/sh", "-c", script.String())
	if out, err := cmd.CombinedOutput(); err != nil {
		return fmt.Errorf("mount namespace of %s: %w: %s", n.Name, err, strings.TrimSpace(string(out)))
	}
	return nil
}

// ensureHostDir creates a bind target missing on the host (/opt/cni/bin, say),
// recording what it made so that Down removes it again.
func (c *Cluster) ensureHostDir(dir string) error {
	var missing []string
	for d := dir; d != "/"; d = filepath.Dir(d) {
		if _, err := os.Stat(d); err == nil {
			break
		}
		missing = append(missing, d)
	}
	for i := len(missing) - 1; i >= 0; i-- {
		if err := os.Mkdir(missing[i], 0o755); err != nil && !errors.Is(err, os.ErrExist) {
			return fmt.Errorf("create %s: %w", missing[i], err)
		}
		c.st.HostDirs = append(c.st.HostDirs, missing[i])
	}
	if len(missing) == 0 {
		return nil
	}
	return c.saveState()
}

// removeHostDirs removes the directories ensureHostDir made, if empty (a
// directory something else has since filled stays).
func (c *Cluster) removeHostDirs() error {
	for i := len(c.st.HostDirs) - 1; i >= 0; i-- {
		_ = unix.Rmdir(c.st.HostDirs[i])
	}
	c.st.HostDirs = nil
	return nil
}

// createCgroup makes cg and cg/system in every cgroup hierarchy; cpuset
// needs its CPUs and memory nodes copied from the root before it takes tasks.
func createCgroup(cg string) error {
	roots, err := cgroupRoots()
	if err != nil {
		return err
	}
	for _, root := range roots {
		for _, dir := range []string{root + cg, root + cg + "/system"} {
			if err := os.MkdirAll(dir, 0o755); err != nil {
				return fmt.Errorf("create cgroup %s: %w", dir, err)
			}
			for _, f := range []string{"cpuset.cpus", "cpuset.mems"} {
				v, err := os.ReadFile(filepath.Join(root, f))
				if err != nil {
					continue // not the cpuset hierarchy
				}
				if err := os.WriteFile(filepath.Join(dir, f), v, 0o644); err != nil {
					return fmt.Errorf("set %s of %s: %w", f, dir, err)
				}
			}
		}
	}
	return nil
}

// cgroupRoots are the mounted cgroup hierarchies.
func cgroupRoots() ([]string, error) {
	dirs, err := filepath.Glob("/sys/fs/cgroup/*/cgroup.procs")
	if err != nil {
		return nil, err
	}
	for i, d := range dirs {
		dirs[i] = filepath.Dir(d)
	}
	return dirs, nil
}

// removeCgroup kills every process left in cg (containers, shims) and removes
// cg with its children, deepest first, in every hierarchy; it returns once
// the processes are gone.
func removeCgroup(ctx context.Context, cg string) error {
	roots, err := cgroupRoots()
	if err != nil {
		return err
	}
	err = wait.PollUntilContextTimeout(ctx, 100*time.Millisecond, stopGrace, true, func(context.Context) (bool, error) {
		pids := 0
		for _, root := range roots {
			for _, p := range cgroupPIDs(root + cg) {
				_ = unix.Kill(p, unix.SIGKILL)
				pids++
			}
		}
		return pids == 0, nil
	})
	if err != nil {
		return fmt.Errorf("processes left in cgroup %s: %w", cg, err)
	}
	var errs []error
	for _, root := range roots {
		var dirs []string
		_ = filepath.WalkDir(root+cg, func(path string, d os.DirEntry, err error) error {
			if err == nil && d.IsDir() {
				dirs = append(dirs, path)
			}
			return nil
		})
		for i := len(dirs) - 1; i >= 0; i-- {
			if err := unix.Rmdir(dirs[i]); err != nil && !errors.Is(err, unix.ENOENT) {
				errs = append(errs, fmt.Errorf("remove cgroup %s: %w", dirs[i], err))
			}
		}
	}
	return errors.Join(errs...)
}

// cgroupPIDs lists the processes of dir and its descendants.
func cgroupPIDs(dir string) []int {
	var pids []int
	_ = filepath.WalkDir(dir, func(path string, d os.DirEntry, err error) error {
		if err != nil || d.IsDir() || d.Name() != "cgroup.procs" {
			return nil
		}
		data, _ := os.ReadFile(path)
		for _, f := range strings.Fields(string(data)) {
			var p int
			if _, err := fmt.Sscan(f, &p); err == nil {
				pids = append(pids, p)
			}
		}
		return nil
	})
	return pids
}
