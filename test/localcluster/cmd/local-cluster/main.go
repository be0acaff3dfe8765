// Command local-cluster starts, stops and shows ipkeeper's local cluster (see
// test/localcluster). It is run by hack/local-cluster/up.sh and down.sh,
// which install packages and build the binaries first.
//
//	local-cluster up --state-dir D [--nodes 2] [--ipam host-local] [--k8s-bin-dir K] [--nodesim N] [--crd-dir C]…
//	local-cluster up --real-nodes --state-dir D [--nodes 2] --image A… [--helm H --chart C --image-tag T] [--multus-dir M]
//	local-cluster down --state-dir D
//	local-cluster status --state-dir D
package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"os"
	"os/signal"
	"path/filepath"
	"strconv"
	"syscall"
	"time"

	"github.com/ipkeeper/ipkeeper/test/localcluster"
)

func main() {
	if len(os.Args) < 2 {
		fmt.Fprintln(os.Stderr, "usage: local-cluster up|down|status [flags]")
		os.Exit(2)
	}
	ctx, stop := signal.NotifyContext(context.Background(), syscall.SIGINT, syscall.SIGTERM)
	defer stop()
	var err error
	switch os.Args[1] {
	case "up":
		err = up(ctx, os.Args[2:])
	case "down":
		err = down(ctx, os.Args[2:])
	case "status":
		err = status(ctx, os.Args[2:])
	default:
		err = fmt.Errorf("unknown command %q", os.Args[1])
	}
	if err != nil {
		fmt.Fprintln(os.Stderr, "local-cluster:", err)
		os.Exit(1)
	}
}

// multiFlag collects a repeated string flag.
type multiFlag []string

func (m *multiFlag) String() string     { return fmt.Sprint(*m) }
func (m *multiFlag) Set(v string) error { *m = append(*m, v); return nil }

// startedAt reads UP_STARTED_AT (Unix seconds, set by up.sh) so that elapsed
// times continue those of the script.
func startedAt() time.Time {
	f, err := strconv.ParseFloat(os.Getenv("UP_STARTED_AT"), 64)
	if err != nil {
		return time.Now()
	}
	return time.Unix(0, int64(f*1e9))
}

func progress(line string) { fmt.Println(">> " + line) }

func stateDirFlag(fs *flag.FlagSet) *string {
	return fs.String("state-dir", ".local", "state directory of the cluster")
}

func absDir(dir string) (string, error) {
	abs, err := filepath.Abs(dir)
	if err != nil {
		return "", fmt.Errorf("resolve %s: %w", dir, err)
	}
	return abs, nil
}

func up(ctx context.Context, args []string) error {
	var cfg localcluster.Config
	var crdDirs multiFlag
	fs := flag.NewFlagSet("up", flag.ContinueOnError)
	state := stateDirFlag(fs)
	fs.IntVar(&cfg.Nodes, "nodes", 2, "number of simulated nodes")
	ipam := fs.String("ipam", "spiderpool", "default network of the nodes: spiderpool (ipkeeper) or host-local")
	var ik localcluster.Ipkeeper
	fs.StringVar(&ik.Agent, "agent", "", "ipkeeper-agent binary (IPAM=spiderpool)")
	fs.StringVar(&ik.Controller, "controller", "", "ipkeeper-controller binary (IPAM=spiderpool)")
	fs.StringVar(&ik.PluginDir, "plugin-dir", "", "directory holding the spiderpool CNI plugin (IPAM=spiderpool)")
	fs.StringVar(&cfg.K8sBinDir, "k8s-bin-dir", "", "directory of the Kubernetes binaries (default: hack/build-k8s.sh)")
	fs.StringVar(&cfg.NodesimPath, "nodesim", "", "ipkeeper-nodesim binary (default: built into the state directory)")
	fs.StringVar(&cfg.EtcdPath, "etcd", "", "etcd binary (default /usr/bin/etcd)")
	fs.Var(&crdDirs, "crd-dir", "directory of CRD manifests to apply (repeatable; default: the repository's config/crd/bases)")
	var real realNodeFlags
	fs.BoolVar(&cfg.RealNodes, "real-nodes", false, "real nodes (kubelet, containerd, kube-proxy, Multus) with ipkeeper installed by its chart, instead of simulated ones")
	fs.StringVar(&cfg.MultusDir, "multus-dir", "", "directory of the Multus thin plugin (real nodes; default: hack/build-multus.sh)")
	fs.Var(&real.images, "image", "docker-archive to import into every real node (repeatable; from make images)")
	fs.StringVar(&real.helm, "helm", "", "helm binary (real nodes with IPAM=spiderpool)")
	fs.StringVar(&real.chart, "chart", "", "ipkeeper's chart directory (real nodes with IPAM=spiderpool)")
	fs.StringVar(&real.tag, "image-tag", "", "tag of ipkeeper's images in --image (real nodes with IPAM=spiderpool)")
	if err := fs.Parse(args); err != nil {
		return err
	}
	cfg.Images = real.images
	var err error
	if cfg.StateDir, err = absDir(*state); err != nil {
		return err
	}
	cfg.CRDDirs, cfg.Progress, cfg.Started = crdDirs, progress, startedAt()
	if cfg.RealNodes {
		err = real.apply(&cfg, *ipam)
	} else {
		err = applyIPAM(&cfg, *ipam, ik)
	}
	if err != nil {
		return err
	}
	if localcluster.Exists(cfg.StateDir) {
		done, err := reuse(ctx, cfg)
		if done || err != nil {
			return err
		}
	}
	// After reuse: a running cluster is left as is, without locating or
	// building anything.
	if err := cfg.Complete(); err != nil {
		return err
	}
	c, err := localcluster.Up(ctx, cfg)
	if err == nil && *ipam == "spiderpool" {
		if c.RealNodes() {
			progress("wait for the default pool " + localcluster.DefaultPoolName + " (the chart's controller creates it)")
		} else {
			progress("create the default pool " + localcluster.DefaultPoolName)
		}
		err = c.CreateDefaultPool(ctx)
	}
	if err != nil {
		return failedUp(ctx, c, err)
	}
	printNextSteps(c, "cluster is up")
	return nil
}

// applyIPAM selects the nodes' default network.
func applyIPAM(cfg *localcluster.Config, ipam string, ik localcluster.Ipkeeper) error {
	switch ipam {
	case "host-local":
		cfg.DefaultNetwork = localcluster.HostLocalNetwork
		return nil
	case "spiderpool":
		if ik.Agent == "" || ik.Controller == "" || ik.PluginDir == "" {
			return fmt.Errorf("IPAM=spiderpool needs --agent, --controller and --plugin-dir")
		}
		return ik.Apply(cfg)
	default:
		return fmt.Errorf("unknown IPAM %q (supported: spiderpool, host-local)", ipam)
	}
}

// realNodeFlags are what real nodes need besides the cluster's flags.
type realNodeFlags struct {
	images           multiFlag
	helm, chart, tag string
}

// apply selects the real nodes' default network; with IPAM=spiderpool
// ipkeeper comes from its chart.
func (r realNodeFlags) apply(cfg *localcluster.Config, ipam string) error {
	switch ipam {
	case "host-local":
		cfg.DefaultNetwork = localcluster.HostLocalNetwork
		return nil
	case "spiderpool":
		if r.helm == "" || r.chart == "" || r.tag == "" {
			return fmt.Errorf("real nodes with IPAM=spiderpool need --helm, --chart and --image-tag")
		}
		cfg.DefaultNetwork = localcluster.IpkeeperNetwork
		cfg.Chart = localcluster.IpkeeperChart(r.helm, r.chart, r.tag)
		return nil
	default:
		return fmt.Errorf("unknown IPAM %q (supported: spiderpool, host-local)", ipam)
	}
}

// reuse keeps a healthy running cluster (make up twice is harmless) and
// removes a broken one so that a fresh one can start.
func reuse(ctx context.Context, cfg localcluster.Config) (bool, error) {
	c, err := localcluster.Load(cfg.StateDir)
	if err != nil {
		return false, err
	}
	hctx, cancel := context.WithTimeout(ctx, 10*time.Second)
	defer cancel()
	herr := c.Healthy(hctx)
	if herr == nil {
		if len(c.Nodes()) != cfg.Nodes {
			progress(fmt.Sprintf("note: the running cluster has %d nodes; run make down first to change that", len(c.Nodes())))
		}
		printNextSteps(c, "cluster already running")
		return true, nil
	}
	progress(fmt.Sprintf("existing cluster is not healthy (%v); removing it", herr))
	c.SetProgress(progress)
	return false, c.Down(ctx)
}

func failedUp(ctx context.Context, c *localcluster.Cluster, cause error) error {
	if c == nil {
		return cause
	}
	fmt.Fprintf(os.Stderr, "local-cluster: %v\n", cause)
	if os.Getenv("KEEP_ON_FAILURE") != "" {
		fmt.Fprintf(os.Stderr, "local-cluster: left as is (KEEP_ON_FAILURE); logs in %s/logs\n", c.StateDir())
		return errors.New("cluster start failed")
	}
	fmt.Fprintln(os.Stderr, "local-cluster: removing the partial cluster (set KEEP_ON_FAILURE=1 to keep it and its logs)")
	return errors.Join(errors.New("cluster start failed"), c.Down(ctx))
}

func printNextSteps(c *localcluster.Cluster, headline string) {
	kind := "simulated"
	if c.RealNodes() {
		kind = "real"
	}
	fmt.Printf(`
%s: %d %s node(s), API server %s, prefix %s
To use it:

  export KUBECONFIG=%s
  export PATH=%s:$PATH   # kubectl %s; /usr/bin/kubectl may be another build
  kubectl get nodes -o wide

Logs: %s/logs   Stop: make down
`, headline, len(c.Nodes()), kind, c.Server(), c.Prefix(), c.Kubeconfig(), filepath.Dir(c.Kubectl()),
		filepath.Base(filepath.Dir(c.Kubectl())), c.StateDir())
	if c.RealNodes() {
		fmt.Print(`Pods run containers. The image nginx is a local stand-in (/webserver get URL is its
client), served by the cluster's own registry; nothing is pulled from outside:

  kubectl run web --image=nginx && kubectl get pod web -o wide
  kubectl exec web -- /webserver get http://<another pod's IP>/
`)
	}
}

func down(ctx context.Context, args []string) error {
	fs := flag.NewFlagSet("down", flag.ContinueOnError)
	state := stateDirFlag(fs)
	if err := fs.Parse(args); err != nil {
		return err
	}
	dir, err := absDir(*state)
	if err != nil {
		return err
	}
	if !localcluster.Exists(dir) {
		progress("no cluster in " + dir + "; nothing to do")
		return nil
	}
	c, err := localcluster.Load(dir)
	if err != nil {
		return err
	}
	c.SetProgress(progress)
	if err := c.Down(ctx); err != nil {
		return err
	}
	progress("cluster " + c.Prefix() + " removed")
	return nil
}

func status(ctx context.Context, args []string) error {
	fs := flag.NewFlagSet("status", flag.ContinueOnError)
	state := stateDirFlag(fs)
	if err := fs.Parse(args); err != nil {
		return err
	}
	dir, err := absDir(*state)
	if err != nil {
		return err
	}
	c, err := localcluster.Load(dir)
	if err != nil {
		return err
	}
	procs, err := c.Processes()
	if err != nil {
		return err
	}
	for _, p := range procs {
		fmt.Printf("%-28s pid %-8d alive=%v\n", p.Name, p.PID, p.Alive())
	}
	hctx, cancel := context.WithTimeout(ctx, 10*time.Second)
	defer cancel()
	if err := c.Healthy(hctx); err != nil {
		return fmt.Errorf("cluster %s is not healthy: %w", c.Prefix(), err)
	}
	fmt.Printf("cluster %s is healthy; KUBECONFIG=%s\n", c.Prefix(), c.Kubeconfig())
	return nil
}
