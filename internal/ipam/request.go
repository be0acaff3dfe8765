package ipam

import (
	"net/netip"

	"k8s.io/apimachinery/pkg/types"

	"github.com/ipkeeper/ipkeeper/internal/spiderpool"
)

// PodRef names the pod a sandbox belongs to.
type PodRef struct {
	Namespace, Name string
	// UID may be empty when the runtime did not pass it.
	UID types.UID
}

// Key is the pod's namespace and name.
func (p PodRef) Key() types.NamespacedName {
	return types.NamespacedName{Namespace: p.Namespace, Name: p.Name}
}

// Attachment names one interface of one sandbox.
type Attachment struct {
	// ContainerID is the sandbox's ID as the runtime knows it.
	ContainerID string
	// IfName is the interface inside the sandbox, e.g. eth0.
	IfName string
}

// AddRequest asks for the addresses of one interface of a pod.
type AddRequest struct {
	Attachment
	Pod PodRef
	// Network is the name of the CNI network configuration.
	Network string
	// DefaultIPv4Pools and DefaultIPv6Pools are the network configuration's
	// default pools (pool-choice rule 5).
	DefaultIPv4Pools, DefaultIPv6Pools []string
	// CleanGateway asks for no default route on this interface.
	CleanGateway bool
}

// DelRequest releases what an AddRequest gave, as far as the pod's kind
// allows (a StatefulSet pod keeps its addresses across restarts). Pod may be
// empty when the runtime does not name it: the sandbox identifies it.
type DelRequest struct {
	Attachment
	Pod     PodRef
	Network string
}

// CheckRequest asks whether the interface still holds the addresses the
// runtime believes it has.
type CheckRequest struct {
	Attachment
	Pod PodRef
	IPs []netip.Addr
}

// GCRequest releases the addresses this node's sandboxes hold on Network,
// except those of Valid.
type GCRequest struct {
	Network string
	Valid   []Attachment
}

// Allocation is what one interface was given.
type Allocation struct {
	IPs    []Address
	Routes []spiderpool.Route
}

// Address is one address of an interface and where it came from.
type Address struct {
	// Address carries the pool subnet's prefix length, e.g. 10.6.168.101/16.
	Address netip.Prefix
	// Gateway is the pool's gateway; the zero Addr when the pool has none or
	// the interface asked for a clean gateway.
	Gateway netip.Addr
	// Pool is the SpiderIPPool the address came from.
	Pool string
}
