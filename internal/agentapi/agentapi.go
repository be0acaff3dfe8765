// Package agentapi is the contract between the spiderpool CNI plugin and the
// ipkeeper agent of its node: JSON over HTTP on a unix socket. It holds the
// request and response types and a small client.
//
// The plugin is started for every pod, so this package imports only the
// standard library: no Kubernetes libraries, nothing slow to initialise.
package agentapi

// DefaultSocketPath is where the agent listens and the plugin connects unless
// the netconf's ipam_unix_socket_path says otherwise; it is upstream
// Spiderpool's path, so existing network attachments work unchanged.
const DefaultSocketPath = "/var/run/spidernet/spiderpool.sock"

// Paths of the agent's endpoints on its socket.
const (
	PathAdd   = "/v1/ipam/add"
	PathDel   = "/v1/ipam/del"
	PathCheck = "/v1/ipam/check"
	PathGC    = "/v1/ipam/gc"
	// PathQuarantine and PathAbandon serve the plugin's address checks
	// (Detection); an agent that answers ADD without Detection may not
	// have them, and the plugin calls them only when it got Detection.
	PathQuarantine = "/v1/ipam/quarantine"
	PathAbandon    = "/v1/ipam/abandon"
	PathReadyz     = "/readyz"
	PathHealthz    = "/healthz"
)

// Error codes the agent returns. Codes below 100 are CNI's own (see the CNI
// spec, "Error"); the plugin passes every code through to the runtime.
const (
	// CodeInvalidConfig means the request or the pod's annotations are malformed.
	CodeInvalidConfig = 7
	// CodeTryAgainLater means a transient failure: the runtime should retry.
	CodeTryAgainLater = 11
	// CodeAllocationFailed means no candidate pool had a free address.
	CodeAllocationFailed = 100
	// CodeNotFound means the pod or its allocation is unknown to the agent.
	CodeNotFound = 101
)

// Attachment names one interface of one sandbox.
type Attachment struct {
	// ContainerID is the sandbox's ID as the runtime knows it.
	ContainerID string `json:"containerID"`
	// IfName is the interface inside the sandbox, e.g. eth0.
	IfName string `json:"ifName"`
}

// PodRef names the pod a sandbox belongs to, from the CNI_ARGS K8S_POD_*.
type PodRef struct {
	Namespace string `json:"namespace"`
	Name      string `json:"name"`
	// UID may be empty when the runtime does not pass K8S_POD_UID.
	UID string `json:"uid,omitempty"`
}

// AddRequest asks for the addresses of one interface of a pod.
type AddRequest struct {
	Attachment
	Pod PodRef `json:"pod"`
	// NetNS is the sandbox's network namespace path (informational).
	NetNS string `json:"netns,omitempty"`
	// Network is the netconf's name.
	Network string `json:"network,omitempty"`
	// DefaultIPv4Pools and DefaultIPv6Pools come from the netconf
	// (default_ipv4_ippool / default_ipv6_ippool): pool-choice rule 5.
	DefaultIPv4Pools []string `json:"defaultIPv4Pools,omitempty"`
	DefaultIPv6Pools []string `json:"defaultIPv6Pools,omitempty"`
	// CleanGateway asks for no default route on this interface.
	CleanGateway bool `json:"cleanGateway,omitempty"`
	// CanProbe says the plugin checks the addresses it is given when the
	// answer carries Detection. An older plugin leaves it out: the agent
	// then knows the addresses go unchecked.
	CanProbe bool `json:"canProbe,omitempty"`
}

// Detection asks the plugin to check the interface's addresses on its link
// before it reports them (chart values ipam.enableIPConflictDetection and
// ipam.enableGatewayDetection). An older agent sends none; an older plugin
// ignores it.
type Detection struct {
	// IPConflict: probe each address (ARP probe, IPv6 duplicate-address
	// detection) for IPConflictTimeoutMs; an answer means another host
	// uses it, and the plugin reports it at PathQuarantine.
	IPConflict          bool `json:"ipConflict,omitempty"`
	IPConflictTimeoutMs int  `json:"ipConflictTimeoutMs,omitempty"`
	// Gateway: each address's gateway must answer (ARP, neighbour
	// solicitation) within GatewayTimeoutMs, or the plugin gives the
	// addresses back at PathAbandon and fails the ADD.
	Gateway          bool `json:"gateway,omitempty"`
	GatewayTimeoutMs int  `json:"gatewayTimeoutMs,omitempty"`
}

// IPConfig is one address given to the interface.
type IPConfig struct {
	// Address is the address with the subnet's prefix length, e.g. 10.6.168.101/16.
	Address string `json:"address"`
	// Gateway is the pool's gateway, empty when the pool has none or
	// cleanGateway was asked.
	Gateway string `json:"gateway,omitempty"`
	// Pool is the SpiderIPPool the address came from.
	Pool string `json:"pool"`
	// VLAN is the pool's VLAN ID, 0 for none.
	VLAN int `json:"vlan,omitempty"`
}

// Route is one route given with the addresses.
type Route struct {
	Dst string `json:"dst"`
	GW  string `json:"gw,omitempty"`
}

// AddResponse is what the interface was given.
type AddResponse struct {
	IPs    []IPConfig `json:"ips"`
	Routes []Route    `json:"routes,omitempty"`
	// Detection, when set, asks the plugin to check the addresses first.
	Detection *Detection `json:"detection,omitempty"`
}

// QuarantineRequest reports that another host answered for Address, which
// the interface was given: the agent quarantines the address (no pod is
// given it until an operator clears it) and the plugin asks ADD again for
// another one.
type QuarantineRequest struct {
	Attachment
	Pod     PodRef `json:"pod"`
	Network string `json:"network,omitempty"`
	// Address is the address, without prefix length.
	Address string `json:"address"`
	// HardwareAddr is the link-layer address that answered for it.
	HardwareAddr string `json:"hardwareAddr,omitempty"`
}

// AbandonRequest gives back what ADD gave the interface, because the
// plugin found it unusable: Gateway, the gateway of Pool, did not answer
// within WaitedMs. The ADD then fails.
type AbandonRequest struct {
	Attachment
	Pod      PodRef `json:"pod"`
	Network  string `json:"network,omitempty"`
	Pool     string `json:"pool"`
	Gateway  string `json:"gateway"`
	WaitedMs int    `json:"waitedMs,omitempty"`
}

// DelRequest releases what AddRequest gave, as far as the pod's kind allows
// (a StatefulSet pod keeps its addresses across restarts).
type DelRequest struct {
	Attachment
	Pod     PodRef `json:"pod"`
	Network string `json:"network,omitempty"`
}

// CheckRequest asks whether the interface still holds its addresses.
type CheckRequest struct {
	Attachment
	Pod     PodRef `json:"pod"`
	Network string `json:"network,omitempty"`
	// IPs are the addresses the runtime believes the interface has (CIDR form).
	IPs []string `json:"ips,omitempty"`
}

// GCRequest releases the addresses this node's sandboxes hold on Network,
// except those of ValidAttachments (CNI GC, spec 1.1.0).
type GCRequest struct {
	Network          string       `json:"network"`
	ValidAttachments []Attachment `json:"validAttachments"`
}

// GCResponse reports what GC released.
type GCResponse struct {
	Released []string `json:"released,omitempty"`
}

// Error is the body of every non-2xx answer.
type Error struct {
	Code    int    `json:"code"`
	Msg     string `json:"msg"`
	Details string `json:"details,omitempty"`
}

func (e *Error) Error() string {
	if e.Details == "" {
		return e.Msg
	}
	return e.Msg + ": " + e.Details
}
