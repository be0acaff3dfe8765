package localcluster

import (
	"encoding/json"
	"errors"
	"fmt"
	"net"
	"os"
	"path/filepath"
	"slices"
	"strings"
)

// writeNodeFiles writes everything a real node reads before it starts: its
// directories, certificates and kubeconfigs, the containerd, kubelet and
// kube-proxy configurations, the CNI plugins and networks (Multus first,
// delegating to the default network), and the files bound over the host's
// resolver and kernel settings.
func (c *Cluster) writeNodeFiles(n Node) error {
	for _, b := range n.realBinds() {
		dir := b.Source
		if b.File {
			dir = filepath.Dir(b.Source)
		}
		if err := os.MkdirAll(dir, 0o755); err != nil {
			return fmt.Errorf("create %s: %w", dir, err)
		}
	}
	steps := []func(Node) error{c.writeNodeCredentials, c.writeNodeConfigs, c.writeCNI, writeNodeHostFiles}
	for _, step := range steps {
		if err := step(n); err != nil {
			return fmt.Errorf("files of %s: %w", n.Name, err)
		}
	}
	return nil
}

// writeNodeCredentials issues the kubelet's client certificate (its node
// identity, which the Node authorizer and NodeRestriction check) and serving
// certificate (the API server verifies it for logs and exec), kube-proxy's
// and Multus's client certificates, and a kubeconfig for each.
func (c *Cluster) writeNodeCredentials(n Node) error {
	p := pki{dir: filepath.Join(n.KubeDir(), "pki")}
	if err := os.MkdirAll(p.dir, 0o700); err != nil {
		return err
	}
	for _, f := range []string{"ca.crt", "ca.key"} {
		data, err := os.ReadFile(filepath.Join(c.pki().dir, f))
		if err != nil {
			return err
		}
		if err := os.WriteFile(p.path(f), data, 0o600); err != nil {
			return err
		}
	}
	defer os.Remove(p.caKey()) // the node signs nothing itself
	if err := p.issueClient("kubelet-client", "system:node:"+n.Name, "system:nodes"); err != nil {
		return err
	}
	if err := p.issueServing("kubelet", n.Name, net.IP(n.Address.Addr().AsSlice())); err != nil {
		return err
	}
	if err := p.issueClient("kube-proxy", "system:kube-proxy"); err != nil {
		return err
	}
	if err := p.issueClient("multus", multusUser); err != nil {
		return err
	}
	for file, user := range map[string]string{
		"kubelet.kubeconfig": "kubelet-client", "kube-proxy.kubeconfig": "kube-proxy", "multus.kubeconfig": "multus",
	} {
		if err := writeUserKubeconfig(filepath.Join(n.KubeDir(), file), c.Server(), p, user,
			p.path(user+".crt"), p.path(user+".key")); err != nil {
			return err
		}
	}
	return nil
}

// nodePath is where a file of the node's /etc/kubernetes is in its own view.
func nodePath(rel string) string { return filepath.Join(nodeKubeDir, rel) }

func (c *Cluster) writeNodeConfigs(n Node) error {
	files := map[string]string{
		"containerd.toml": containerdConfig(c.registryAddress()),
		"kubelet.yaml":    kubeletConfig(n, c.cfg.MaxPods),
		"kube-proxy.yaml": kubeProxyConfig(n),
	}
	for name, content := range files {
		if err := os.WriteFile(filepath.Join(n.KubeDir(), name), []byte(content), 0o644); err != nil {
			return err
		}
	}
	return os.MkdirAll(filepath.Join(n.KubeDir(), "manifests"), 0o755)
}

// containerdConfig is containerd 1.6's configuration for a node: the node's
// paths (bound over the standard ones), CRI with the settings this kind of
// machine needs (restrict_oom_score_adj: no CAP_SYS_RESOURCE; no AppArmor),
// our pause image, and cgroupfs; with a local registry, it is the mirror of
// the registries the manifests name.
func containerdConfig(registry string) string {
	mirrors := ""
	if registry != "" {
		for _, host := range []string{"docker.io", "registry.k8s.io", "ghcr.io"} {
			mirrors += `  [plugins."io.containerd.grpc.v1.cri".registry.mirrors."` + host + `"]
    endpoint = ["http://` + registry + `"]
`
		}
	}
	return `version = 2
root = "` + nodeContainerdDir + `"
state = "` + nodeContainerdRun + `"
disabled_plugins = ["io.containerd.internal.v1.opt", "io.containerd.snapshotter.v1.aufs",
  "io.containerd.snapshotter.v1.btrfs", "io.containerd.snapshotter.v1.devmapper",
  "io.containerd.snapshotter.v1.zfs", "io.containerd.tracing.processor.v1.otlp"]

[grpc]
  address = "` + containerdSocket + `"

[plugins."io.containerd.grpc.v1.cri"]
  sandbox_image = "` + SandboxImage + `"
  restrict_oom_score_adj = true
  disable_apparmor = true
  [plugins."io.containerd.grpc.v1.cri".containerd]
    snapshotter = "overlayfs"
    default_runtime_name = "runc"
    [plugins."io.containerd.grpc.v1.cri".containerd.runtimes.runc]
      runtime_type = "io.containerd.runc.v2"
      [plugins."io.containerd.grpc.v1.cri".containerd.runtimes.runc.options]
        Root = "` + nodeContainerdRun + `/runc"
        SystemdCgroup = false
  [plugins."io.containerd.grpc.v1.cri".cni]
    bin_dir = "` + nodeCNIBinDir + `"
    conf_dir = "` + NodeConfDir + `"
    max_conf_num = 1
` + mirrors
}

// kubeletConfig is the node's KubeletConfiguration: cgroup v1 with cgroupfs
// under the node's own cgroup, nothing added to iptables, imported images
// never collected (nothing can be pulled again), no read-only port, and a
// resolver that answers nothing outside the machine.
func kubeletConfig(n Node, maxPods int) string {
	extra := ""
	if maxPods > 0 {
		extra = fmt.Sprintf("maxPods: %d\n", maxPods)
	}
	return `apiVersion: kubelet.config.k8s.io/v1beta1
kind: KubeletConfiguration
authentication:
  anonymous:
    enabled: false
  webhook:
    enabled: true
  x509:
    clientCAFile: ` + nodePath("pki/ca.crt") + `
authorization:
  mode: Webhook
tlsCertFile: ` + nodePath("pki/kubelet.crt") + `
tlsPrivateKeyFile: ` + nodePath("pki/kubelet.key") + `
containerRuntimeEndpoint: unix://` + containerdSocket + `
failCgroupV1: false
cgroupDriver: cgroupfs
cgroupRoot: ` + n.Cgroup() + `
makeIPTablesUtilChains: false
imageGCHighThresholdPercent: 100
imageGCLowThresholdPercent: 99
serializeImagePulls: false
readOnlyPort: 0
healthzBindAddress: 127.0.0.1
staticPodPath: ` + nodePath("manifests") + `
podLogsDir: ` + nodeLogDir + `/pods
resolvConf: ` + nodeResolvConf + `
clusterDomain: cluster.local
failSwapOn: false
evictionHard:
  memory.available: 100Mi
  nodefs.available: 1%
  imagefs.available: 1%
  nodefs.inodesFree: 1%
` + extra
}

// kubeProxyConfig runs kube-proxy in iptables mode in the node's network
// namespace; conntrack settings are left alone (they are machine-wide).
// clusterCIDR is an overlay range no pod here uses, as kubeadm sets it: a
// connection to a Service from outside it (an underlay pod through its
// coordinator veth, a hostNetwork pod) is masqueraded to the node's
// address, so the endpoint's reply comes back through the node.
func kubeProxyConfig(n Node) string {
	return `apiVersion: kubeproxy.config.k8s.io/v1alpha1
kind: KubeProxyConfiguration
clientConnection:
  kubeconfig: ` + nodePath("kube-proxy.kubeconfig") + `
hostnameOverride: ` + n.Name + `
mode: iptables
clusterCIDR: ` + kubeProxyClusterCIDR + `
bindAddress: ` + n.Address.Addr().String() + `
metricsBindAddress: 127.0.0.1:10249
healthzBindAddress: 127.0.0.1:10256
conntrack:
  maxPerCore: 0
  min: 0
  tcpEstablishedTimeout: 0s
  tcpCloseWaitTimeout: 0s
`
}

// kubeProxyClusterCIDR is kube-proxy's clusterCIDR (see kubeProxyConfig).
const kubeProxyClusterCIDR = "10.244.0.0/16"

// multusUser is the identity of every node's Multus (see multusRBAC).
const multusUser = "ipkeeper:multus"

// writeCNI fills the node's CNI bin dir with links to the machine's plugins
// and Multus, and its conf dir with the default network and, first in
// order, Multus's configuration delegating to it (thin plugin, reading
// NetworkAttachmentDefinitions with its own kubeconfig).
func (c *Cluster) writeCNI(n Node) error {
	plugins := map[string]string{"multus": filepath.Join(c.st.MultusDir, "multus")}
	for _, dir := range slices.Backward(c.st.CNIBinDirs) {
		entries, err := os.ReadDir(dir)
		if err != nil {
			return fmt.Errorf("list CNI plugins: %w", err)
		}
		for _, e := range entries {
			if e.Name() != "multus" {
				plugins[e.Name()] = filepath.Join(dir, e.Name())
			}
		}
	}
	for name, target := range plugins {
		if err := os.Symlink(target, filepath.Join(n.CNIBinDir(), name)); err != nil {
			return fmt.Errorf("link CNI plugin %s: %w", name, err)
		}
	}
	conf, err := c.cfg.DefaultNetwork(n)
	if err != nil {
		return fmt.Errorf("render default network: %w", err)
	}
	if err := os.WriteFile(filepath.Join(n.ConfDir(), DefaultConflist), conf, 0o644); err != nil {
		return err
	}
	var network struct {
		Name string `json:"name"`
	}
	if err := json.Unmarshal(conf, &network); err != nil {
		return fmt.Errorf("decode default network: %w", err)
	}
	if network.Name == "" {
		return errors.New("default network has no name")
	}
	multus := map[string]any{
		"cniVersion": "0.3.1",
		"name":       "multus-cni-network",
		"type":       "multus",
		"kubeconfig": nodePath("multus.kubeconfig"),
		// By name, found in confDir: Multus v4.2.2 loads a clusterNetwork
		// given as a .conflist path through a typed copy that drops the
		// plugins' own fields (macvlan's master), so every DEL failed.
		"clusterNetwork": network.Name,
		"confDir":        NodeConfDir,
		"binDir":         nodeCNIBinDir,
		"cniDir":         NodeLibDir + "/multus",
		"logFile":        nodeLogDir + "/multus.log",
		"logLevel":       "verbose",
		"capabilities":   map[string]bool{"portMappings": true},
	}
	data, err := json.MarshalIndent(multus, "", "  ")
	if err != nil {
		return err
	}
	return os.WriteFile(filepath.Join(n.ConfDir(), "00-multus.conf"), data, 0o644)
}

// writeNodeHostFiles writes the files bound over the host's resolver (a
// nameserver on loopback that nothing answers: no lookup leaves the machine)
// and kernel settings.
func writeNodeHostFiles(n Node) error {
	for _, b := range n.realBinds() {
		if !b.File {
			continue
		}
		content := "nameserver 127.0.0.1\n"
		if key, ok := strings.CutPrefix(b.Target, "/proc/sys/"); ok {
			content = kernelDefaults[key] + "\n"
		}
		if err := os.WriteFile(b.Source, []byte(content), 0o644); err != nil {
			return err
		}
	}
	return nil
}

func sortedKeys(m map[string]string) []string {
	keys := make([]string, 0, len(m))
	for k := range m {
		keys = append(keys, k)
	}
	slices.Sort(keys)
	return keys
}
