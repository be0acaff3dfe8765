// Package localcluster starts and stops ipkeeper's local Kubernetes cluster on
// one machine: etcd and a real control plane (kube-apiserver,
// kube-controller-manager, kube-scheduler) on 127.0.0.1 with generated
// certificates, a Linux bridge as the underlay, one network namespace per
// simulated node joined to it by a veth named ens192, and one node simulator
// process per node (see test/localcluster/nodesim). Every host object it makes
// carries a per-cluster prefix, so several clusters can run side by side, and
// Down removes all of them.
//
// It is the harness's one bootstrap: (*Config).Complete finds the parts of a
// cluster in the repository (RepoRoot, K8sBinDir, etcd, the CRDs, the node
// simulator) for make up, the bench, test/framework and the integration and
// CNI tests; it also builds ipkeeper's binaries (GoBuild, BuildIpkeeper).
//
// This package is test and development harness: no product code (cmd/,
// internal/, api/) may import it. It may import the standard library,
// client-go, apimachinery, apiextensions-apiserver, netlink,
// containernetworking/plugins/pkg/ns and test/localcluster/nsmount. It must
// not import the node simulator or any ipkeeper component: those run as
// separate processes.
package localcluster

import (
	"errors"
	"fmt"
	"net/netip"
	"path/filepath"
	"time"
)

// Process is a long-running command the cluster starts and stops.
type Process struct {
	// Name is unique within the cluster; it names the pid and log files.
	Name string
	// Argv is the command and its arguments.
	Argv []string
	// Env is added to the environment of the calling process.
	Env []string
	// InNodeNetNS runs a per-node process inside the node's network namespace
	// instead of the root one (where 127.0.0.1 reaches the API server).
	InNodeNetNS bool
}

// Config describes a cluster to start.
type Config struct {
	// StateDir holds certificates, data, logs and pid files; absolute.
	StateDir string
	// Prefix is the short tag of every host object (netns, links); empty picks
	// a fresh random one. At most 6 characters.
	Prefix string
	// Nodes is the number of nodes (node1 … nodeN); 0 starts the control
	// plane only.
	Nodes int
	// RealNodes makes every node a real one instead of a simulator: a
	// kubelet, containerd + runc and kube-proxy in the node's own network and
	// mount namespaces and cgroup, Multus as its CNI delegating to
	// DefaultNetwork. Pods run containers. Opt-in while its e2e matures; one
	// cluster with real nodes per machine (the API server binds HostAddress).
	RealNodes bool
	// MultusDir holds the Multus thin plugin (multus); required with
	// RealNodes.
	MultusDir string
	// Images are docker-archives imported into every real node's containerd;
	// they must include the pause image (registry.k8s.io/pause:3.10).
	Images []string
	// RegistryPath is the local-registry binary (hack/tools/images): with
	// real nodes it serves Images on HostAddress, and every node's containerd
	// names it the mirror of docker.io, registry.k8s.io and ghcr.io, so that
	// pods pulled Always (an untagged image: nginx) start. Empty: no
	// registry, only imported images run.
	RegistryPath string
	// Chart, when set, is installed with helm once real nodes are Ready.
	Chart *Chart
	// MaxPods is every real node's kubelet maxPods; 0 keeps the kubelet's
	// default (110).
	MaxPods int
	// K8sBinDir holds kube-apiserver, kube-controller-manager, kube-scheduler
	// and kubectl (and, for real nodes, kubelet and kube-proxy).
	K8sBinDir string
	// EtcdPath is the etcd binary; empty means /usr/bin/etcd.
	EtcdPath string
	// NodesimPath is the ipkeeper-nodesim binary; required when Nodes > 0.
	NodesimPath string
	// CNIBinDirs are searched for CNI plugins; empty means /usr/lib/cni.
	CNIBinDirs []string
	// CRDDirs are directories whose *.yaml files (or single .yaml files) are
	// applied as CRDs.
	CRDDirs []string
	// DefaultNetwork renders the node's /etc/cni/net.d/10-default.conflist;
	// nil means HostLocalNetwork (macvlan on ens192 with host-local IPAM).
	DefaultNetwork func(n Node) ([]byte, error)
	// ClusterProcesses are started once the control plane and the CRDs are
	// ready and before the nodes (for example the ipkeeper controller); they
	// run in the host's namespaces and find the admin kubeconfig at
	// KubeconfigPath(StateDir).
	ClusterProcesses []Process
	// NodeProcesses lists extra processes to start per node after its
	// simulator (for example the ipkeeper agent). They see the node's view of
	// /etc/cni/net.d, /run/spidernet and /var/lib/cni.
	NodeProcesses func(n Node) []Process
	// APIServerArgs replace kube-apiserver's flags of the same name or are
	// added (--profiling=true for the bench's profiles, say).
	APIServerArgs []string
	// ControllerManagerArgs are appended to kube-controller-manager's flags.
	ControllerManagerArgs []string
	// Progress receives one line per step; nil discards them.
	Progress func(line string)
	// Started is when the caller began (for elapsed times in progress
	// lines); zero means when Up is called.
	Started time.Time
}

const (
	maxNodes       = 50
	maxPrefixLen   = 6
	defaultEtcd    = "/usr/bin/etcd"
	defaultCNIBins = "/usr/lib/cni"
)

func (c *Config) setDefaults() {
	if c.EtcdPath == "" {
		c.EtcdPath = defaultEtcd
	}
	if len(c.CNIBinDirs) == 0 {
		c.CNIBinDirs = []string{defaultCNIBins}
	}
	if c.DefaultNetwork == nil {
		c.DefaultNetwork = HostLocalNetwork
	}
	if c.Progress == nil {
		c.Progress = func(string) {}
	}
}

func (c *Config) validate() error {
	switch {
	case !filepath.IsAbs(c.StateDir):
		return fmt.Errorf("state dir %q is not absolute", c.StateDir)
	case c.Nodes < 0 || c.Nodes > maxNodes:
		return fmt.Errorf("nodes %d out of range 0..%d", c.Nodes, maxNodes)
	case len(c.Prefix) > maxPrefixLen:
		return fmt.Errorf("prefix %q longer than %d characters", c.Prefix, maxPrefixLen)
	case c.K8sBinDir == "":
		return errors.New("no Kubernetes binary directory")
	case c.Nodes > 0 && !c.RealNodes && c.NodesimPath == "":
		return errors.New("nodes requested but no node simulator binary")
	case c.RealNodes && c.MultusDir == "":
		return errors.New("real nodes requested but no Multus directory")
	case c.RealNodes && (len(c.ClusterProcesses) > 0 || c.NodeProcesses != nil):
		return errors.New("real nodes run what the cluster needs as pods: no cluster or node processes")
	case c.Chart != nil && !c.RealNodes:
		return errors.New("a chart is installed only on real nodes")
	}
	return nil
}

// Node is one node and the host objects that make it.
type Node struct {
	Name      string       `json:"name"`      // node1 …
	Index     int          `json:"index"`     // 1 …
	NetNS     string       `json:"netns"`     // name under /run/netns
	NetNSPath string       `json:"netnsPath"` // /run/netns/<prefix>-nodeN
	HostVeth  string       `json:"hostVeth"`  // root-side veth, on the bridge
	Address   netip.Prefix `json:"address"`   // ens192's address, 10.6.0.(10+N)/16
	PodRange  netip.Prefix `json:"podRange"`  // host-local range, 10.6.(200+N).0/24
	Dir       string       `json:"dir"`       // node state directory
}

// Underlay addressing: one /16 L2 segment shared by nodes and pods.
var underlay = netip.MustParsePrefix("10.6.0.0/16")

// UnderlayInterface is the node-side name of each node's veth.
const UnderlayInterface = "ens192"

func newNode(prefix, stateDir string, i int) Node {
	name := fmt.Sprintf("node%d", i)
	return Node{
		Name:      name,
		Index:     i,
		NetNS:     prefix + "-" + name,
		NetNSPath: filepath.Join(netnsDir, prefix+"-"+name),
		HostVeth:  fmt.Sprintf("%sv%d", prefix, i),
		Address:   netip.PrefixFrom(netip.AddrFrom4([4]byte{10, 6, 0, byte(10 + i)}), 16),
		PodRange:  netip.PrefixFrom(netip.AddrFrom4([4]byte{10, 6, byte(200 + i), 0}), 24),
		Dir:       filepath.Join(stateDir, "nodes", name),
	}
}

// ConfDir is the node's /etc/cni/net.d, as seen from the host.
func (n Node) ConfDir() string { return filepath.Join(n.Dir, "etc-cni-net.d") }

// RunDir is the node's /run/spidernet, as seen from the host.
func (n Node) RunDir() string { return filepath.Join(n.Dir, "run-spidernet") }

// LibDir is the node's /var/lib/cni, as seen from the host.
func (n Node) LibDir() string { return filepath.Join(n.Dir, "var-lib-cni") }

// SimDir is the node simulator's own state (sandbox records).
func (n Node) SimDir() string { return filepath.Join(n.Dir, "sim") }
