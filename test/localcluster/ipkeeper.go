package localcluster

import (
	"context"
	"encoding/json"
	"fmt"
	"net/netip"
	"os/exec"
	"path/filepath"
	"strings"
	"time"

	"k8s.io/apimachinery/pkg/util/wait"
)

// IpkeeperNetworkName is the name of the default network in IPAM=spiderpool.
const IpkeeperNetworkName = "macvlan-ipkeeper"

// DefaultPool is the pool with spec.default=true that IPAM=spiderpool
// creates, so that a pod naming no pool gets an address. It stays clear of
// the nodes' own addresses (10.6.0.x), the host-local ranges (10.6.200+.x)
// and the seeds' pools (10.6.168.x).
const DefaultPool = `apiVersion: spiderpool.spidernet.io/v2beta1
kind: SpiderIPPool
metadata:
  name: ` + DefaultPoolName + `
spec:
  subnet: ` + defaultPoolSubnet + `
  ips:
  - ` + defaultPoolRange + `
  default: true
`

// DefaultPool's name, subnet and addresses.
const (
	DefaultPoolName   = "default-v4"
	defaultPoolSubnet = "10.6.0.0/16"
	defaultPoolRange  = "10.6.10.1-10.6.19.254"
)

// Ipkeeper describes the ipkeeper binaries of IPAM=spiderpool.
type Ipkeeper struct {
	// Agent and Controller are the ipkeeper-agent and ipkeeper-controller binaries.
	Agent, Controller string
	// PluginDir holds the spiderpool CNI plugin.
	PluginDir string
}

// Apply makes cfg run ipkeeper: the nodes' default network is macvlan on
// ens192 with the spiderpool IPAM, one agent per node (its socket in the
// node's /run/spidernet, metrics on a free port), and the controller with its
// webhooks on a free port of 127.0.0.1.
func (ik Ipkeeper) Apply(cfg *Config) error {
	ports, err := freePorts(4 + 2*maxNodes)
	if err != nil {
		return err
	}
	kubeconfig := "KUBECONFIG=" + KubeconfigPath(cfg.StateDir)
	cfg.DefaultNetwork = ipkeeperNetwork
	cfg.CNIBinDirs = append([]string{ik.PluginDir}, cfg.CNIBinDirs...)
	if len(cfg.CNIBinDirs) == 1 {
		cfg.CNIBinDirs = append(cfg.CNIBinDirs, defaultCNIBins)
	}
	webhook := ports[0]
	cfg.ClusterProcesses = append(cfg.ClusterProcesses, Process{
		Name: "ipkeeper-controller",
		Argv: []string{ik.Controller,
			"--webhook-url", fmt.Sprintf("https://127.0.0.1:%d", webhook), "--webhook-port", fmt.Sprint(webhook),
			"--webhook-bind-host", "127.0.0.1",
			"--metrics-bind-address", fmt.Sprintf("127.0.0.1:%d", ports[1]),
			"--health-probe-bind-address", fmt.Sprintf("127.0.0.1:%d", ports[2]),
			"--pprof-bind-address", fmt.Sprintf("127.0.0.1:%d", ports[3+2*maxNodes])},
		Env: []string{kubeconfig},
	})
	cfg.NodeProcesses = func(n Node) []Process {
		return []Process{{
			Name: "ipkeeper-agent-" + n.Name,
			Argv: []string{ik.Agent, "--node-name", n.Name,
				"--metrics-bind-address", fmt.Sprintf("127.0.0.1:%d", ports[3+n.Index-1]),
				"--health-probe-bind-address", "0",
				"--pprof-bind-address", fmt.Sprintf("127.0.0.1:%d", ports[3+maxNodes+n.Index-1])},
			Env: []string{kubeconfig},
		}}
	}
	return nil
}

// ChartAgentMetricsPort is the port of the agent's /metrics on its node when
// the chart runs it (its default value, which IpkeeperChart keeps).
const ChartAgentMetricsPort = 5711

// AgentMetricsAddress returns where the agent of node serves /metrics: on
// real nodes, the node's underlay address (the chart's agent uses the host
// network).
func (c *Cluster) AgentMetricsAddress(node string) (string, error) {
	if c.st.RealNodes && c.cfg.Chart != nil {
		n, ok := c.node(node)
		if !ok {
			return "", fmt.Errorf("no node %s", node)
		}
		return netip.AddrPortFrom(n.Address.Addr(), ChartAgentMetricsPort).String(), nil
	}
	if c.cfg.NodeProcesses == nil {
		return "", fmt.Errorf("cluster runs no agents")
	}
	if a, ok := argValue(c.cfg.NodeProcesses(mustNode(c, node)), "", "--metrics-bind-address"); ok {
		return a, nil
	}
	return "", fmt.Errorf("no agent on node %s", node)
}

// AgentPprofAddress returns where the agent of node serves Go's
// /debug/pprof (simulated nodes).
func (c *Cluster) AgentPprofAddress(node string) (string, error) {
	if c.cfg.NodeProcesses == nil {
		return "", fmt.Errorf("cluster runs no agents")
	}
	if a, ok := argValue(c.cfg.NodeProcesses(mustNode(c, node)), "", "--pprof-bind-address"); ok {
		return a, nil
	}
	return "", fmt.Errorf("no agent profiling on node %s", node)
}

// ControllerPprofAddress returns where the ipkeeper controller serves Go's
// /debug/pprof (simulated nodes).
func (c *Cluster) ControllerPprofAddress() (string, error) {
	if a, ok := argValue(c.cfg.ClusterProcesses, "ipkeeper-controller", "--pprof-bind-address"); ok {
		return a, nil
	}
	return "", fmt.Errorf("no controller profiling")
}

// argValue returns the value of flag in the argv of the first of procs
// named name (any, when name is empty) that has it.
func argValue(procs []Process, name, flag string) (string, bool) {
	for _, p := range procs {
		if name != "" && p.Name != name {
			continue
		}
		for i, a := range p.Argv {
			if a == flag && i+1 < len(p.Argv) {
				return p.Argv[i+1], true
			}
		}
	}
	return "", false
}

// ControllerMetricsAddress returns where the ipkeeper controller serves
// /metrics, from its argv (simulated nodes; on real nodes the chart runs it
// in a pod).
func (c *Cluster) ControllerMetricsAddress() (string, error) {
	if a, ok := argValue(c.cfg.ClusterProcesses, "ipkeeper-controller", "--metrics-bind-address"); ok {
		return a, nil
	}
	return "", fmt.Errorf("cluster runs no ipkeeper controller process")
}

func mustNode(c *Cluster, name string) Node {
	n, _ := c.node(name)
	return n
}

func ipkeeperNetwork(Node) ([]byte, error) {
	conf := map[string]any{
		"cniVersion": "1.0.0",
		"name":       IpkeeperNetworkName,
		"plugins": []any{map[string]any{
			"type": "macvlan", "master": UnderlayInterface, "mode": "bridge",
			"ipam": map[string]any{"type": "spiderpool"},
		}},
	}
	data, err := json.MarshalIndent(conf, "", "  ")
	if err != nil {
		return nil, fmt.Errorf("encode conflist: %w", err)
	}
	return data, nil
}

// CreateDefaultPool makes sure DefaultPool exists: on real nodes the
// chart's controller creates it from the chart's clusterDefaultPool values
// (IpkeeperChart), as a user's install would, and this waits for it; on
// simulated nodes it is applied once the controller's webhooks serve.
func (c *Cluster) CreateDefaultPool(ctx context.Context) error {
	args := []string{"--kubeconfig", c.Kubeconfig(), "apply", "-f", "-"}
	if c.st.RealNodes && c.cfg.Chart != nil {
		args = []string{"--kubeconfig", c.Kubeconfig(), "get", "spiderippool", DefaultPoolName, "-o", "name"}
	}
	var last string
	err := wait.PollUntilContextTimeout(ctx, 500*time.Millisecond, 2*time.Minute, true, func(ctx context.Context) (bool, error) {
		cmd := exec.CommandContext(ctx, c.Kubectl(), args...)
		cmd.Stdin = strings.NewReader(DefaultPool)
		out, err := cmd.CombinedOutput()
		last = strings.TrimSpace(string(out))
		return err == nil, nil
	})
	if err != nil {
		return fmt.Errorf("the default pool %s (see the controller's log in %s): %s", DefaultPoolName, c.logDir(), last)
	}
	return nil
}

// IpkeeperNetwork renders the nodes' default network of IPAM=spiderpool:
// macvlan on ens192 with the spiderpool IPAM.
func IpkeeperNetwork(n Node) ([]byte, error) { return ipkeeperNetwork(n) }

// UseRealNodes makes the cluster of real nodes running what `make images`
// builds into binDir (tagged tag) and, with ipkeeper, ipkeeper installed by
// its chart as the nodes' IPAM.
func (c *Config) UseRealNodes(root, binDir, tag string, ipkeeper bool) error {
	c.RealNodes = true
	var err error
	if c.Images, err = BuildImages(root, binDir, tag); err != nil {
		return err
	}
	if !ipkeeper {
		return nil
	}
	helm, err := Helm(root)
	if err != nil {
		return err
	}
	c.DefaultNetwork = IpkeeperNetwork
	c.Chart = IpkeeperChart(helm, filepath.Join(root, "charts", "ipkeeper"), tag)
	return nil
}

// IpkeeperChart is ipkeeper's chart at chartPath installed as a user
// installs it, with the images `make images` tagged tag (imported into the
// real nodes, so never pulled), one controller replica, and DefaultPool as
// the chart's default pool (the controller creates it; CreateDefaultPool
// waits for it), so that both kinds of cluster get the same one.
func IpkeeperChart(helm, chartPath, tag string) *Chart {
	return &Chart{
		Helm: helm, Release: "ipkeeper", Path: chartPath, Namespace: "kube-system",
		Set: []string{
			"spiderpoolAgent.image.registry=ghcr.io", "spiderpoolAgent.image.repository=ipkeeper/ipkeeper-agent",
			"spiderpoolAgent.image.tag=" + tag, "spiderpoolAgent.image.pullPolicy=IfNotPresent",
			"spiderpoolController.image.registry=ghcr.io", "spiderpoolController.image.repository=ipkeeper/ipkeeper-controller",
			"spiderpoolController.image.tag=" + tag, "spiderpoolController.image.pullPolicy=IfNotPresent",
			"spiderpoolController.replicas=1", "spiderpoolController.podDisruptionBudget.enabled=false",
			// DefaultPool, created by the controller as a user's install would.
			"clusterDefaultPool.installIPv4IPPool=true", "clusterDefaultPool.ipv4IPPoolName=" + DefaultPoolName,
			"clusterDefaultPool.ipv4Subnet=" + defaultPoolSubnet, "clusterDefaultPool.ipv4IPRanges={" + defaultPoolRange + "}",
		},
	}
}
