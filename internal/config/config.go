// Package config is the one configuration file that the agent and the
// controller both read (the chart's ConfigMap, key conf.yml), so that the two
// can never disagree on a switch. Its keys are upstream Spiderpool's
// spiderpool-conf keys where the concept exists.
//
// This package may import only the standard library, sigs.k8s.io/yaml and
// internal/agentapi (for the socket path the plugin dials by default).
package config

import (
	"errors"
	"fmt"
	"os"

	"sigs.k8s.io/yaml"

	"github.com/ipkeeper/ipkeeper/internal/agentapi"
)

// DefaultSocketPath is where the agent listens unless ipamUnixSocketPath
// says otherwise: upstream Spiderpool's path.
const DefaultSocketPath = agentapi.DefaultSocketPath

// DefaultAutoPoolWaitSeconds is autoPoolWaitSeconds without a file: time
// for a controller to see a new workload and carve its pools, with room to
// fail and report inside the plugin's 60 s ADD time-out.
const DefaultAutoPoolWaitSeconds = 30

// MaxAutoPoolWaitSeconds keeps the wait inside the plugin's ADD time-out, so
// that the pod sees the agent's reason rather than a time-out.
const MaxAutoPoolWaitSeconds = 50

// Defaults and bounds of the address checks' waits. The conflict wait is
// what every ADD pays when no host answers; a gateway that does answer
// costs one round trip. Both stay far inside the plugin's 60 s ADD time-out.
const (
	DefaultIPConflictDetectionTimeoutMs = 200
	DefaultGatewayDetectionTimeoutMs    = 1000
	MinDetectionTimeoutMs               = 10
	MaxDetectionTimeoutMs               = 10000
)

// Config is the contents of conf.yml.
type Config struct {
	// IPAMUnixSocketPath is the agent's socket, which the plugin dials.
	IPAMUnixSocketPath string `json:"ipamUnixSocketPath"`
	// EnableIPv4 true: every interface must get an IPv4 address, and fails
	// without an IPv4 pool; false: no IPv4 address is handed out. Unset
	// (ipkeeper's default without a file): an interface gets one address of
	// each family its pools are of.
	EnableIPv4 *bool `json:"enableIPv4,omitempty"`
	// EnableIPv6 is EnableIPv4 for IPv6.
	EnableIPv6 *bool `json:"enableIPv6,omitempty"`
	// EnableStatefulSet keeps StatefulSet pods' addresses across restarts;
	// false makes them stateless.
	EnableStatefulSet bool `json:"enableStatefulSet"`
	// EnableSpiderSubnet turns on SpiderSubnets: their status, and automatic
	// pools carved from them.
	EnableSpiderSubnet bool `json:"enableSpiderSubnet"`
	// EnableAutoPoolForApplication turns on automatic pools for workloads
	// that name a SpiderSubnet (needs EnableSpiderSubnet).
	EnableAutoPoolForApplication bool `json:"enableAutoPoolForApplication"`
	// ClusterSubnetDefaultFlexibleIPNumber is N of the default automatic
	// pool size, replicas + N, for workloads without
	// ipam.spidernet.io/ippool-ip-number.
	ClusterSubnetDefaultFlexibleIPNumber int `json:"clusterSubnetDefaultFlexibleIPNumber"`
	// AutoPoolWaitSeconds bounds how long the agent holds an ADD of a pod
	// whose automatic pools do not exist yet (the controller creates them
	// when it sees the workload) before failing it with the reason; 0 fails
	// at once. Kept below the plugin's 60 s ADD time-out.
	AutoPoolWaitSeconds int `json:"autoPoolWaitSeconds"`
	// MultusNamespace is where bare NetworkAttachmentDefinition names are
	// looked up: the cluster default network's, a pod's
	// v1.multus-cni.io/default-network, and a pool's spec.multusName
	// (Multus's multusNamespace; the chart sets its release namespace, as
	// Spiderpool uses its installation namespace).
	MultusNamespace string `json:"multusNamespace"`
	// ClusterNetwork is the NetworkAttachmentDefinition ("namespace/name",
	// or a name in MultusNamespace) of the cluster default network, the one
	// Multus's clusterNetwork names: a pod without
	// v1.multus-cni.io/default-network has its eth0 on it, for matching
	// pools' spec.multusName. Empty: unknown, and such an eth0 matches no
	// pool that sets multusName.
	ClusterNetwork string `json:"clusterNetwork,omitempty"`
	// EnableIPConflictDetection: the plugin probes every address it is given
	// on the pod's interface (ARP probe, IPv6 duplicate-address detection)
	// for IPConflictDetectionTimeoutMs; an address another host answers for
	// is quarantined and the pod given another.
	EnableIPConflictDetection    bool `json:"enableIPConflictDetection"`
	IPConflictDetectionTimeoutMs int  `json:"ipConflictDetectionTimeoutMs"`
	// EnableGatewayDetection: the pool's gateway must answer (ARP, neighbour
	// solicitation) within GatewayDetectionTimeoutMs, or the ADD fails and
	// its addresses go back.
	EnableGatewayDetection    bool `json:"enableGatewayDetection"`
	GatewayDetectionTimeoutMs int  `json:"gatewayDetectionTimeoutMs"`
	// GC is the controller's garbage collector of leaked addresses.
	GC GC `json:"gc"`
	// ClusterDefaultPools are SpiderIPPools with spec.default=true that the
	// controller creates once its webhooks serve, when they do not exist
	// (the chart's clusterDefaultPool values). Existing pools of those names
	// are never changed: edit them with kubectl.
	ClusterDefaultPools []DefaultPool `json:"clusterDefaultPools,omitempty"`
}

// DefaultPool is one pool of ClusterDefaultPools.
type DefaultPool struct {
	Name    string   `json:"name"`
	Subnet  string   `json:"subnet"`
	IPs     []string `json:"ips"`
	Gateway string   `json:"gateway,omitempty"`
}

// GC configures the garbage collector.
type GC struct {
	// Enabled runs the garbage collector. Off, a leaked address stays
	// claimed until an operator releases it.
	Enabled bool `json:"enabled"`
	// ScanIntervalSeconds is the period of the full scan that backs up the
	// event-driven collection.
	ScanIntervalSeconds int `json:"scanIntervalSeconds"`
}

// Default is the configuration without a file: everything on, both IP
// families as the pools name them.
func Default() Config {
	return Config{
		IPAMUnixSocketPath:                   DefaultSocketPath,
		EnableStatefulSet:                    true,
		EnableSpiderSubnet:                   true,
		EnableAutoPoolForApplication:         true,
		ClusterSubnetDefaultFlexibleIPNumber: 1,
		AutoPoolWaitSeconds:                  DefaultAutoPoolWaitSeconds,
		MultusNamespace:                      "kube-system",
		GC:                                   GC{Enabled: true, ScanIntervalSeconds: 30},
		IPConflictDetectionTimeoutMs:         DefaultIPConflictDetectionTimeoutMs,
		GatewayDetectionTimeoutMs:            DefaultGatewayDetectionTimeoutMs,
	}
}

// Load reads a configuration file over Default; an empty path gives Default.
// Unknown keys are refused, so that a misspelt switch is not silently off.
func Load(path string) (Config, error) {
	if path == "" {
		return Default(), nil
	}
	data, err := os.ReadFile(path)
	if err != nil {
		return Config{}, fmt.Errorf("read configuration: %w", err)
	}
	c, err := Parse(data)
	if err != nil {
		return Config{}, fmt.Errorf("configuration %s: %w", path, err)
	}
	return c, nil
}

// Parse reads a configuration file's contents (YAML or JSON) over Default
// and validates the result. Unknown keys are refused.
func Parse(data []byte) (Config, error) {
	c := Default()
	if err := yaml.UnmarshalStrict(data, &c); err != nil {
		return Config{}, err
	}
	if err := c.Validate(); err != nil {
		return Config{}, err
	}
	return c, nil
}

// Validate refuses values no component could run with, naming the key.
func (c Config) Validate() error {
	var errs []error
	if c.IPAMUnixSocketPath == "" {
		errs = append(errs, errors.New("ipamUnixSocketPath is empty; want the agent's socket path, e.g. "+DefaultSocketPath))
	}
	if c.EnableIPv4 != nil && c.EnableIPv6 != nil && !*c.EnableIPv4 && !*c.EnableIPv6 {
		errs = append(errs, errors.New("enableIPv4 and enableIPv6 are both false; want at least one family on"))
	}
	if c.EnableAutoPoolForApplication && !c.EnableSpiderSubnet {
		errs = append(errs, errors.New("enableAutoPoolForApplication is true but enableSpiderSubnet is false; automatic pools are carved from SpiderSubnets"))
	}
	if c.ClusterSubnetDefaultFlexibleIPNumber < 0 {
		errs = append(errs, fmt.Errorf("clusterSubnetDefaultFlexibleIPNumber %d: want 0 or more", c.ClusterSubnetDefaultFlexibleIPNumber))
	}
	if c.MultusNamespace == "" {
		errs = append(errs, errors.New("multusNamespace is empty; want the namespace bare NetworkAttachmentDefinition names are in, e.g. kube-system"))
	}
	if c.AutoPoolWaitSeconds < 0 || c.AutoPoolWaitSeconds > MaxAutoPoolWaitSeconds {
		errs = append(errs, fmt.Errorf("autoPoolWaitSeconds %d: want 0 to %d (the plugin gives an ADD 60 s)", c.AutoPoolWaitSeconds, MaxAutoPoolWaitSeconds))
	}
	for i, p := range c.ClusterDefaultPools {
		if p.Name == "" || p.Subnet == "" || len(p.IPs) == 0 {
			errs = append(errs, fmt.Errorf("clusterDefaultPools[%d]: name, subnet and ips are required (got name %q, subnet %q, %d ips)", i, p.Name, p.Subnet, len(p.IPs)))
		}
	}
	for key, ms := range map[string]int{"ipConflictDetectionTimeoutMs": c.IPConflictDetectionTimeoutMs, "gatewayDetectionTimeoutMs": c.GatewayDetectionTimeoutMs} {
		if ms < MinDetectionTimeoutMs || ms > MaxDetectionTimeoutMs {
			errs = append(errs, fmt.Errorf("%s %d: want %d to %d milliseconds", key, ms, MinDetectionTimeoutMs, MaxDetectionTimeoutMs))
		}
	}
	if c.GC.ScanIntervalSeconds < 1 {
		errs = append(errs, fmt.Errorf("gc.scanIntervalSeconds %d: want 1 or more", c.GC.ScanIntervalSeconds))
	}
	return errors.Join(errs...)
}
