package localcluster

import (
	"context"
	"crypto/rand"
	"encoding/json"
	"errors"
	"fmt"
	mrand "math/rand/v2"
	"net"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"time"

	"k8s.io/client-go/kubernetes"
	"k8s.io/client-go/rest"
)

// Cluster is a local cluster described by its state directory.
type Cluster struct {
	cfg   Config
	st    state
	begin time.Time
}

// state is what Down and later commands need to know; kept in cluster.json.
type state struct {
	Prefix        string `json:"prefix"`
	EtcdPort      int    `json:"etcdPort"`
	EtcdPeerPort  int    `json:"etcdPeerPort"`
	APIServerPort int    `json:"apiServerPort"`
	K8sBinDir     string `json:"k8sBinDir"`
	NodesimPath   string `json:"nodesimPath"`
	RealNodes     bool   `json:"realNodes,omitempty"`
	MultusDir     string `json:"multusDir,omitempty"`
	// APIServerAddress is where the API server listens; empty is 127.0.0.1.
	APIServerAddress string `json:"apiServerAddress,omitempty"`
	// RegistryPort is the local registry's port on HostAddress; 0 is none.
	RegistryPort int `json:"registryPort,omitempty"`
	// HostDirs are directories made on the host for real nodes' views.
	HostDirs   []string  `json:"hostDirs,omitempty"`
	CNIBinDirs []string  `json:"cniBinDirs"`
	Nodes      []Node    `json:"nodes"`
	Created    time.Time `json:"created"`
}

// stateFiles are the entries of the state directory the cluster creates; Down
// removes exactly these, so other files (built binaries) survive.
var stateFiles = []string{"cluster.json", "kubeconfig", "pki", "etcd", "logs", "run", "nodes", "helm"}

const netnsDir = "/run/netns"

func (c *Cluster) statePath() string { return filepath.Join(c.cfg.StateDir, "cluster.json") }
func (c *Cluster) logDir() string    { return filepath.Join(c.cfg.StateDir, "logs") }
func (c *Cluster) runDir() string    { return filepath.Join(c.cfg.StateDir, "run") }
func (c *Cluster) pki() pki          { return pki{dir: filepath.Join(c.cfg.StateDir, "pki")} }

// Kubeconfig is the path of the admin kubeconfig (context ipkeeper-local).
func (c *Cluster) Kubeconfig() string { return KubeconfigPath(c.cfg.StateDir) }

// KubeconfigPath is where a cluster with this state directory writes its
// admin kubeconfig.
func KubeconfigPath(stateDir string) string { return filepath.Join(stateDir, "kubeconfig") }

// StateDir is the cluster's state directory.
func (c *Cluster) StateDir() string { return c.cfg.StateDir }

// Prefix is the tag carried by every host object of this cluster.
func (c *Cluster) Prefix() string { return c.st.Prefix }

// Nodes returns the nodes.
func (c *Cluster) Nodes() []Node { return append([]Node(nil), c.st.Nodes...) }

// Kubectl is the path of the kubectl binary matching the control plane.
func (c *Cluster) Kubectl() string { return filepath.Join(c.st.K8sBinDir, "kubectl") }

// Server is the API server's URL.
func (c *Cluster) Server() string {
	addr := c.st.APIServerAddress
	if addr == "" {
		addr = "127.0.0.1"
	}
	return fmt.Sprintf("https://%s:%d", addr, c.st.APIServerPort)
}

// RealNodes reports whether the nodes are real (kubelet, containerd).
func (c *Cluster) RealNodes() bool { return c.st.RealNodes }

// RESTConfig returns an admin client configuration.
func (c *Cluster) RESTConfig() (*rest.Config, error) { return RESTConfigFrom(c.Kubeconfig()) }

// Clientset returns an admin clientset.
func (c *Cluster) Clientset() (kubernetes.Interface, error) {
	cfg, err := c.RESTConfig()
	if err != nil {
		return nil, err
	}
	cs, err := kubernetes.NewForConfig(cfg)
	if err != nil {
		return nil, fmt.Errorf("build clientset: %w", err)
	}
	return cs, nil
}

// Load reads the cluster recorded in stateDir. It returns an error wrapping
// os.ErrNotExist when there is none.
func Load(stateDir string) (*Cluster, error) {
	c := &Cluster{cfg: Config{StateDir: stateDir}, begin: time.Now()}
	c.cfg.setDefaults()
	data, err := os.ReadFile(c.statePath())
	if err != nil {
		return nil, fmt.Errorf("read cluster state: %w", err)
	}
	if err := json.Unmarshal(data, &c.st); err != nil {
		return nil, fmt.Errorf("decode cluster state: %w", err)
	}
	c.cfg.Prefix, c.cfg.Nodes = c.st.Prefix, len(c.st.Nodes)
	c.cfg.K8sBinDir, c.cfg.NodesimPath, c.cfg.CNIBinDirs = c.st.K8sBinDir, c.st.NodesimPath, c.st.CNIBinDirs
	c.cfg.RealNodes, c.cfg.MultusDir = c.st.RealNodes, c.st.MultusDir
	return c, nil
}

// Exists reports whether stateDir records a cluster.
func Exists(stateDir string) bool {
	_, err := os.Stat(filepath.Join(stateDir, "cluster.json"))
	return err == nil
}

func (c *Cluster) saveState() error {
	data, err := json.MarshalIndent(c.st, "", "  ")
	if err != nil {
		return fmt.Errorf("encode cluster state: %w", err)
	}
	if err := os.WriteFile(c.statePath(), data, 0o644); err != nil {
		return fmt.Errorf("write cluster state: %w", err)
	}
	return nil
}

// step runs one stage of Up and reports it with the elapsed time.
func (c *Cluster) step(what string, fn func() error) error {
	t := time.Now()
	if err := fn(); err != nil {
		c.cfg.Progress(fmt.Sprintf("[%5.1fs] %s: FAILED", time.Since(c.begin).Seconds(), what))
		return fmt.Errorf("%s: %w", what, err)
	}
	c.cfg.Progress(fmt.Sprintf("[%5.1fs] %s (%.1fs)", time.Since(c.begin).Seconds(), what, time.Since(t).Seconds()))
	return nil
}

// Up starts a new cluster in cfg.StateDir, which must not hold one already.
// On failure it still returns the Cluster when it made anything, so that the
// caller can read the logs and call Down.
func Up(ctx context.Context, cfg Config) (*Cluster, error) {
	cfg.setDefaults()
	if err := cfg.validate(); err != nil {
		return nil, err
	}
	if Exists(cfg.StateDir) {
		return nil, fmt.Errorf("state dir %s already holds a cluster", cfg.StateDir)
	}
	c := &Cluster{cfg: cfg, begin: cfg.Started}
	if c.begin.IsZero() {
		c.begin = time.Now()
	}
	if err := c.prepare(); err != nil {
		return nil, err
	}
	steps := []struct {
		what string
		fn   func() error
	}{
		{"create the underlay bridge", c.createBridge},
		{"generate certificates and kubeconfig", c.writeCredentials},
		{"start etcd", func() error { return c.startEtcd(ctx) }},
		{"start kube-apiserver", func() error { return c.startAPIServer(ctx) }},
		{"start kube-controller-manager and kube-scheduler", c.startControllers},
		{"install CRDs", func() error { return c.installCRDs(ctx) }},
		{"wait for the default service account", func() error { return c.waitServiceAccount(ctx) }},
		{"start cluster processes", func() error { return c.startClusterProcesses(ctx) }},
	}
	if c.st.RealNodes {
		steps = append(steps, struct {
			what string
			fn   func() error
		}{"grant Multus its role", func() error { return c.grantMultus(ctx) }},
			struct {
				what string
				fn   func() error
			}{"start the local registry", func() error { return c.startRegistry(ctx) }})
	}
	for _, s := range steps {
		if err := c.step(s.what, s.fn); err != nil {
			return c, err
		}
	}
	for _, n := range c.st.Nodes {
		if err := c.step("start "+n.Name, func() error { return c.startNode(ctx, n) }); err != nil {
			return c, err
		}
	}
	if len(c.st.Nodes) > 0 {
		if err := c.step("wait for nodes Ready", func() error { return c.waitNodesReady(ctx) }); err != nil {
			return c, err
		}
	}
	if c.cfg.Chart != nil {
		if err := c.step("helm install "+c.cfg.Chart.Release, func() error { return c.installChart(ctx) }); err != nil {
			return c, err
		}
	}
	return c, nil
}

// prepare picks the prefix and ports and records them before anything runs.
func (c *Cluster) prepare() error {
	if err := os.MkdirAll(c.cfg.StateDir, 0o755); err != nil {
		return fmt.Errorf("create state dir: %w", err)
	}
	prefix, err := c.choosePrefix()
	if err != nil {
		return err
	}
	ports, err := freePorts(4)
	if err != nil {
		return err
	}
	c.st = state{
		Prefix: prefix, EtcdPort: ports[0], EtcdPeerPort: ports[1], APIServerPort: ports[2],
		K8sBinDir: c.cfg.K8sBinDir, NodesimPath: c.cfg.NodesimPath, CNIBinDirs: c.cfg.CNIBinDirs,
		RealNodes: c.cfg.RealNodes, MultusDir: c.cfg.MultusDir,
		Created: time.Now().UTC(),
	}
	if c.cfg.RealNodes {
		c.st.APIServerAddress = HostAddress.Addr().String()
	}
	if c.cfg.RealNodes && c.cfg.RegistryPath != "" {
		c.st.RegistryPort = ports[3]
	}
	for i := 1; i <= c.cfg.Nodes; i++ {
		c.st.Nodes = append(c.st.Nodes, newNode(prefix, c.cfg.StateDir, i))
	}
	return c.saveState()
}

// choosePrefix returns the configured prefix if no host object carries it,
// else a fresh one.
func (c *Cluster) choosePrefix() (string, error) {
	if c.cfg.Prefix == "" {
		return freePrefix()
	}
	used, err := prefixInUse(c.cfg.Prefix)
	if err != nil {
		return "", err
	}
	if used {
		return "", fmt.Errorf("prefix %q is used by existing links or namespaces", c.cfg.Prefix)
	}
	return c.cfg.Prefix, nil
}

// freePrefix returns "ik" and four random characters not used by any link or
// named netns on the host.
func freePrefix() (string, error) {
	const alphabet = "abcdefghijklmnopqrstuvwxyz0123456789"
	for range 20 {
		b := make([]byte, 4)
		if _, err := rand.Read(b); err != nil {
			return "", fmt.Errorf("random prefix: %w", err)
		}
		for i := range b {
			b[i] = alphabet[int(b[i])%len(alphabet)]
		}
		p := "ik" + string(b)
		used, err := prefixInUse(p)
		if err != nil {
			return "", err
		}
		if !used {
			return p, nil
		}
	}
	return "", errors.New("no free cluster prefix")
}

// freePorts returns n distinct TCP ports free on 127.0.0.1, below the
// kernel's ephemeral range. A port the kernel hands out for ":0" comes from
// that range, the range every outgoing connection takes its source port
// from: between this choice and the process that binds it (seconds, or a
// whole benchmark round, later) a client connection could take it (an agent
// of the bench once failed to start on "bind: address already in use").
// Below the range only an explicit bind takes a port.
func freePorts(n int) ([]int, error) {
	low := ephemeralLow()
	const first = 10000
	if low-first < 4*n {
		return nil, fmt.Errorf("pick %d free ports: the ephemeral range starts at %d, leaving too few below it", n, low)
	}
	var ports []int
	var ls []net.Listener
	defer func() {
		for _, l := range ls {
			_ = l.Close()
		}
	}()
	for tries := 0; len(ports) < n; tries++ {
		if tries > 100*n {
			return nil, fmt.Errorf("pick %d free ports below %d: found %d", n, low, len(ports))
		}
		port := first + mrand.IntN(low-first)
		l, err := net.Listen("tcp", fmt.Sprintf("127.0.0.1:%d", port))
		if err != nil {
			continue // in use (or just picked: the listener is still open)
		}
		ls = append(ls, l)
		ports = append(ports, port)
	}
	return ports, nil
}

// ephemeralLow is the first port of the kernel's ephemeral range (Linux's
// default when it cannot be read).
func ephemeralLow() int {
	data, err := os.ReadFile("/proc/sys/net/ipv4/ip_local_port_range")
	if err == nil {
		if f := strings.Fields(string(data)); len(f) == 2 {
			if low, err := strconv.Atoi(f[0]); err == nil && low > 0 {
				return low
			}
		}
	}
	return 32768
}

// SetProgress sets where a loaded cluster reports the steps of Down.
func (c *Cluster) SetProgress(fn func(line string)) { c.cfg.Progress = fn }
