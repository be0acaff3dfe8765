package main

import (
	"errors"
	"flag"
	"fmt"
	"os"
	"slices"
	"strings"
	"time"
)

// config is what one invocation measures.
type config struct {
	nodes, deployments, replicas int
	modes                        []string // modeIpkeeper, modeHostLocal, in this order
	rounds                       int      // runs of every mode, order alternating
	phaseTimeout                 time.Duration
	progressEvery                time.Duration
	out                          string // results directory; empty writes nothing
	k8sBinDir                    string // empty: hack/build-k8s.sh
	workDir                      string // state dirs and binaries; empty: a temp dir
	keepLogs                     bool   // keep the clusters' logs even when all went well
	realNodes                    bool   // kubelet + containerd nodes, ipkeeper from its chart
	maxPods                      int    // real nodes' kubelet maxPods; 0: the kubelet's default
	ipamPath                     bool   // the IPAM-path run (test/ipampath) instead of the scale run
	ipamPods, concurrency        int    // its pods and plugin calls in flight per node
	profileDir                   string // CPU profiles of the first round's phases (IPAM path: ipkeeper only)
	whole16                      bool   // with ipamPath: the pool is a whole /16 (65,534 addresses), one pod per address
	args                         []string
}

func (c config) pods() int { return c.deployments * c.replicas }

func parseFlags(args []string) (config, error) {
	cfg := config{args: args}
	fs := flag.NewFlagSet("bench", flag.ContinueOnError)
	fs.IntVar(&cfg.nodes, "nodes", 10, "nodes (simulated unless -real-nodes)")
	fs.BoolVar(&cfg.realNodes, "real-nodes", false, "real nodes (kubelet, containerd, Multus; pods run the pause image), ipkeeper installed by its chart; host-local on the same kind of nodes")
	fs.IntVar(&cfg.maxPods, "max-pods", 0, "with -real-nodes, every kubelet's maxPods (0: the kubelet's default, 110)")
	fs.BoolVar(&cfg.ipamPath, "ipam-path", false, "the IPAM-path run: the IPAM plugin called directly as a kubelet would for bare pods, ipkeeper against host-local on one cluster (make bench-ipam)")
	fs.IntVar(&cfg.ipamPods, "pods", 1000, "with -ipam-path, the pods (and the pool's addresses)")
	fs.IntVar(&cfg.concurrency, "concurrency", 5, "with -ipam-path, plugin calls in flight per node")
	fs.StringVar(&cfg.profileDir, "profile", "", "write Go CPU profiles (API server, every agent, the controller) of the first round's phases into this directory: the scale run's create, recreate and delete of both modes (DIR/<mode>/<phase>-<process>.pprof), the IPAM path's ipkeeper ADD and DEL")
	fs.BoolVar(&cfg.whole16, "whole-16", false, "with -ipam-path, a pool of a whole /16 ("+fmt.Sprint(whole16Size)+" addresses, 10.7.0.0/16) filled to the last address by as many pods and emptied again; ipkeeper only")
	fs.IntVar(&cfg.deployments, "deployments", 100, "Deployments")
	fs.IntVar(&cfg.replicas, "replicas", 10, "replicas per Deployment")
	modes := fs.String("modes", modeIpkeeper+","+modeHostLocal, "IPAM modes to run, in order")
	fs.IntVar(&cfg.rounds, "rounds", 1, "runs of every mode; even rounds run the modes in reverse order (ABBA), and the ratios are of the summed phase times")
	fs.DurationVar(&cfg.phaseTimeout, "phase-timeout", 10*time.Minute, "limit of each phase")
	fs.DurationVar(&cfg.progressEvery, "progress", 5*time.Second, "interval of the progress lines")
	fs.StringVar(&cfg.out, "out", "test/bench/results", "directory of latest.json and the dated copy; empty writes nothing")
	fs.StringVar(&cfg.k8sBinDir, "k8s-bin-dir", os.Getenv("IPKEEPER_K8S_BIN_DIR"), "Kubernetes binaries; empty runs hack/build-k8s.sh")
	fs.StringVar(&cfg.workDir, "work-dir", "", "directory for binaries, state and logs; empty uses a temporary one, removed at the end")
	fs.BoolVar(&cfg.keepLogs, "keep-logs", false, "keep the clusters' logs (they are always kept after a failure)")
	if err := fs.Parse(args); err != nil {
		return cfg, err
	}
	if fs.NArg() > 0 {
		return cfg, fmt.Errorf("unexpected arguments %q", fs.Args())
	}
	cfg.modes = strings.Split(*modes, ",")
	return cfg, cfg.validate()
}

// maxPods keeps the pool inside 10.6.100.1–10.6.199.254, clear of the
// host-local ranges (10.6.200+N.0/24).
const maxPods = 100 * 256

func (c config) validate() error {
	if c.ipamPath {
		return c.validateIPAMPath()
	}
	if c.whole16 {
		return errors.New("-whole-16 needs -ipam-path")
	}
	switch {
	case c.nodes < 1:
		return errors.New("-nodes must be at least 1")
	case c.rounds < 1:
		return fmt.Errorf("-rounds must be at least 1, not %d", c.rounds)
	case c.deployments < 1 || c.replicas < 1:
		return errors.New("-deployments and -replicas must be at least 1")
	case c.pods() > maxPods:
		return fmt.Errorf("%d pods do not fit the bench pool (at most %d)", c.pods(), maxPods)
	case c.realNodes && c.pods() > c.nodes*(c.kubeletMaxPods()-realNodeSystemPods):
		return fmt.Errorf("%d pods do not fit %d real nodes of %d pods each (%d of them ipkeeper's and the system's): raise -max-pods", c.pods(), c.nodes, c.kubeletMaxPods(), realNodeSystemPods)
	case slices.Contains(c.modes, modeHostLocal) && c.pods() > c.nodes*hostLocalPerNode:
		return fmt.Errorf("%d pods do not fit %d nodes' host-local ranges (%d each)", c.pods(), c.nodes, hostLocalPerNode)
	}
	for _, m := range c.modes {
		if m != modeIpkeeper && m != modeHostLocal {
			return fmt.Errorf("unknown mode %q (supported: %s, %s)", m, modeIpkeeper, modeHostLocal)
		}
	}
	return nil
}

// realNodeSystemPods is what a real node keeps for pods other than the
// workload's: ipkeeper's agent and, on one node, its controller.
const realNodeSystemPods = 2

// kubeletMaxPods is the pods a real node's kubelet admits.
func (c config) kubeletMaxPods() int {
	if c.maxPods > 0 {
		return c.maxPods
	}
	return 110 // the kubelet's default
}

// hostLocalPerNode is half a node's host-local /24, so that during
// re-create the old and the new pods of a node both fit.
const hostLocalPerNode = 254 / 2

func (c config) validateIPAMPath() error {
	switch {
	case c.nodes < 1 || c.rounds < 1:
		return errors.New("-nodes and -rounds must be at least 1")
	case c.whole16 && (c.ipamPods != whole16Size || slices.Contains(c.modes, modeHostLocal)):
		return fmt.Errorf("-whole-16 takes -pods %d -modes %s", whole16Size, modeIpkeeper)
	case !c.whole16 && c.ipamPods > maxPods:
		return fmt.Errorf("%d pods do not fit the bench pool (at most %d)", c.ipamPods, maxPods)
	case c.ipamPods < 1 || c.concurrency < 1:
		return fmt.Errorf("-pods must be 1 to %d and -concurrency at least 1", maxPods)
	case c.realNodes:
		return errors.New("-ipam-path runs on simulated nodes")
	case slices.Contains(c.modes, modeHostLocal) && c.ipamPods > c.nodes*253:
		return fmt.Errorf("%d pods do not fit %d nodes' host-local ranges (253 each)", c.ipamPods, c.nodes)
	}
	for _, m := range c.modes {
		if m != modeIpkeeper && m != modeHostLocal {
			return fmt.Errorf("unknown mode %q (supported: %s, %s)", m, modeIpkeeper, modeHostLocal)
		}
	}
	return nil
}
