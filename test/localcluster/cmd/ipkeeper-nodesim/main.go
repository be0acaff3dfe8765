// Command ipkeeper-nodesim is the local cluster's node simulator (see
// test/localcluster/nodesim). `ipkeeper-nodesim run` simulates one node;
// `ipkeeper-nodesim exec --bind src:dst … [--netns path] -- cmd args…` runs a
// command with a node's view of the file system (used to start per-node
// processes such as the ipkeeper agent). Both expect to be started in a fresh
// mount namespace, as test/localcluster does.
package main

import (
	"context"
	"flag"
	"fmt"
	"log/slog"
	"os"
	"os/signal"
	"strings"
	"syscall"

	"github.com/go-logr/logr"

	"github.com/ipkeeper/ipkeeper/test/localcluster/nodesim"
	"github.com/ipkeeper/ipkeeper/test/localcluster/nsmount"
)

func main() {
	if len(os.Args) < 2 {
		fmt.Fprintln(os.Stderr, "usage: ipkeeper-nodesim run|exec [flags]")
		os.Exit(2)
	}
	var err error
	switch os.Args[1] {
	case "run":
		err = run(os.Args[2:])
	case "exec":
		err = execCmd(os.Args[2:])
	default:
		err = fmt.Errorf("unknown command %q", os.Args[1])
	}
	if err != nil {
		fmt.Fprintln(os.Stderr, "ipkeeper-nodesim:", err)
		os.Exit(1)
	}
}

// bindFlags collects repeated --bind source:target flags.
type bindFlags []nsmount.Bind

func (b *bindFlags) String() string { return fmt.Sprint(*b) }

func (b *bindFlags) Set(v string) error {
	bind, err := nsmount.ParseBind(v)
	if err != nil {
		return err
	}
	*b = append(*b, bind)
	return nil
}

func run(args []string) error {
	var cfg nodesim.Config
	var binds bindFlags
	var binDirs string
	fs := flag.NewFlagSet("run", flag.ContinueOnError)
	fs.StringVar(&cfg.Kubeconfig, "kubeconfig", "", "admin kubeconfig")
	fs.StringVar(&cfg.Node, "node", "", "node name")
	fs.StringVar(&cfg.NodeIP, "node-ip", "", "node underlay address")
	fs.StringVar(&cfg.NodeNetNS, "node-netns", "", "path of the node's network namespace")
	fs.StringVar(&cfg.StateDir, "state-dir", "", "directory of sandbox records")
	fs.StringVar(&cfg.NetNSDir, "netns-dir", nsmount.DefaultDir, "directory of pinned sandbox namespaces")
	fs.StringVar(&cfg.NetNSPrefix, "netns-prefix", "", "prefix of sandbox namespace names")
	fs.StringVar(&binDirs, "cni-bin-dir", "/usr/lib/cni", "colon-separated CNI plugin directories")
	fs.StringVar(&cfg.CNIConfDir, "cni-conf-dir", "/etc/cni/net.d", "CNI configuration directory")
	fs.StringVar(&cfg.CNICacheDir, "cni-cache-dir", "/var/lib/cni", "libcni result cache directory")
	fs.IntVar(&cfg.Workers, "workers", nodesim.DefaultWorkers, "concurrent sandbox operations")
	fs.IntVar(&cfg.MaxPods, "max-pods", nodesim.DefaultMaxPods, "pod capacity of the node")
	fs.Var(&binds, "bind", "source:target bind mount of the node view (repeatable)")
	if err := fs.Parse(args); err != nil {
		return err
	}
	cfg.CNIBinDirs = strings.Split(binDirs, ":")
	cfg.Binds = binds
	log := logr.FromSlogHandler(slog.NewTextHandler(os.Stderr, nil)).WithValues("node", cfg.Node)
	ctx, stop := signal.NotifyContext(context.Background(), syscall.SIGTERM, syscall.SIGINT)
	defer stop()
	return nodesim.Run(ctx, cfg, log)
}

func execCmd(args []string) error {
	var binds bindFlags
	var netns string
	fs := flag.NewFlagSet("exec", flag.ContinueOnError)
	fs.Var(&binds, "bind", "source:target bind mount of the node view (repeatable)")
	fs.StringVar(&netns, "netns", "", "network namespace to enter (default: stay in the current one)")
	if err := fs.Parse(args); err != nil {
		return err
	}
	return nodesim.ExecInNodeView(binds, netns, fs.Args())
}
