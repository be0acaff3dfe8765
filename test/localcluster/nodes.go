package localcluster

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"syscall"

	"github.com/ipkeeper/ipkeeper/test/localcluster/nsmount"
)

// Paths of a node's private view; each is a bind mount of a directory under
// the node's state directory inside the node's mount namespace.
const (
	NodeConfDir = "/etc/cni/net.d"
	NodeRunDir  = "/run/spidernet" // /var/run/spidernet on Debian
	NodeLibDir  = "/var/lib/cni"
	// DefaultConflist is the node's default network configuration file.
	DefaultConflist = "10-default.conflist"
)

// Binds are the bind mounts that give a node's processes its own view.
func (n Node) Binds() []nsmount.Bind {
	return []nsmount.Bind{
		{Source: n.ConfDir(), Target: NodeConfDir},
		{Source: n.RunDir(), Target: NodeRunDir},
		{Source: n.LibDir(), Target: NodeLibDir},
	}
}

// startNode creates the node's namespace and directories, writes its default
// network, and starts its simulator and extra processes.
func (c *Cluster) startNode(ctx context.Context, n Node) error {
	if c.st.RealNodes {
		return c.startRealNode(ctx, n)
	}
	for _, dir := range []string{n.ConfDir(), n.RunDir(), n.LibDir(), n.SimDir()} {
		if err := os.MkdirAll(dir, 0o755); err != nil {
			return fmt.Errorf("create %s: %w", dir, err)
		}
	}
	conf, err := c.cfg.DefaultNetwork(n)
	if err != nil {
		return fmt.Errorf("render default network: %w", err)
	}
	if err := os.WriteFile(filepath.Join(n.ConfDir(), DefaultConflist), conf, 0o644); err != nil {
		return fmt.Errorf("write default network: %w", err)
	}
	if err := c.createNodeNetwork(n); err != nil {
		return err
	}
	if _, err := c.spawn(c.nodesimProcess(n), tierNode, syscall.CLONE_NEWNS); err != nil {
		return err
	}
	if c.cfg.NodeProcesses == nil {
		return nil
	}
	for _, p := range c.cfg.NodeProcesses(n) {
		if err := c.StartNodeProcess(ctx, n.Name, p); err != nil {
			return err
		}
	}
	return nil
}

// nodeProcessName is the process that is the node: its kubelet or simulator.
func (c *Cluster) nodeProcessName(node string) string {
	if c.st.RealNodes {
		return KubeletProcessName(node)
	}
	return NodesimProcessName(node)
}

// NodesimProcessName is the process name of a node's simulator.
func NodesimProcessName(node string) string { return "nodesim-" + node }

func (c *Cluster) nodesimProcess(n Node) Process {
	argv := []string{c.st.NodesimPath, "run",
		"--kubeconfig=" + c.Kubeconfig(),
		"--node=" + n.Name,
		"--node-ip=" + n.Address.Addr().String(),
		"--node-netns=" + n.NetNSPath,
		"--state-dir=" + n.SimDir(),
		"--netns-dir=" + netnsDir,
		"--netns-prefix=" + n.NetNS + "-",
		"--cni-bin-dir=" + strings.Join(c.st.CNIBinDirs, ":"),
		"--cni-conf-dir=" + NodeConfDir,
		"--cni-cache-dir=" + NodeLibDir,
	}
	for _, b := range n.Binds() {
		argv = append(argv, "--bind="+b.String())
	}
	return Process{Name: NodesimProcessName(n.Name), Argv: argv}
}

// StartNodeProcess starts a long-running process for one node, as the
// ipkeeper agent is started. It runs detached (pid file and log under the
// state dir, stopped by Down) through the node simulator binary's `exec`
// mode, which puts it in a fresh mount namespace with exactly the node's bind
// mounts, so it sees the same /etc/cni/net.d, /run/spidernet and /var/lib/cni
// as the node's simulator and the CNI plugins it runs; it stays in the root
// network namespace (where 127.0.0.1 is the API server) unless InNodeNetNS is
// set. p.Name is suffixed with "-<node>".
func (c *Cluster) StartNodeProcess(_ context.Context, node string, p Process) error {
	n, ok := c.node(node)
	if !ok {
		return fmt.Errorf("no node %q", node)
	}
	if len(p.Argv) == 0 {
		return fmt.Errorf("process %s has no command", p.Name)
	}
	argv := []string{c.st.NodesimPath, "exec"}
	for _, b := range n.Binds() {
		argv = append(argv, "--bind="+b.String())
	}
	if p.InNodeNetNS {
		argv = append(argv, "--netns="+n.NetNSPath)
	}
	argv = append(append(argv, "--"), p.Argv...)
	wrapped := Process{Name: p.Name + "-" + n.Name, Argv: argv, Env: p.Env}
	_, err := c.spawn(wrapped, tierNode, syscall.CLONE_NEWNS)
	return err
}

// StartProcess starts a cluster-wide long-running process (for example the
// ipkeeper controller) detached, in the host's namespaces, stopped by Down
// before the control plane.
func (c *Cluster) StartProcess(_ context.Context, p Process) error {
	if len(p.Argv) == 0 {
		return fmt.Errorf("process %s has no command", p.Name)
	}
	_, err := c.spawn(p, tierExtra, 0)
	return err
}

func (c *Cluster) startClusterProcesses(ctx context.Context) error {
	for _, p := range c.cfg.ClusterProcesses {
		if err := c.StartProcess(ctx, p); err != nil {
			return err
		}
	}
	return nil
}

// RestartNodesim starts a node's simulator again after it was stopped with
// StopProcess(NodesimProcessName(node)).
func (c *Cluster) RestartNodesim(_ context.Context, node string) error {
	n, ok := c.node(node)
	if !ok {
		return fmt.Errorf("no node %q", node)
	}
	_, err := c.spawn(c.nodesimProcess(n), tierNode, syscall.CLONE_NEWNS)
	return err
}

func (c *Cluster) node(name string) (Node, bool) {
	for _, n := range c.st.Nodes {
		if n.Name == name {
			return n, true
		}
	}
	return Node{}, false
}
