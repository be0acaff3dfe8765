package v2beta1

import (
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/types"
)

// IPAllocationDetail is what one interface of a pod was given.
type IPAllocationDetail struct {
	// interface is the pod's interface name, e.g. eth0.
	// +required
	Interface string `json:"interface"`

	// ipv4 is the IPv4 address with the subnet's prefix length, e.g. 10.6.168.101/16.
	// +optional
	IPv4 *string `json:"ipv4,omitempty"`

	// ipv6 is the IPv6 address with the subnet's prefix length.
	// +optional
	IPv6 *string `json:"ipv6,omitempty"`

	// ipv4Pool is the pool the IPv4 address came from.
	// +optional
	IPv4Pool *string `json:"ipv4Pool,omitempty"`

	// ipv6Pool is the pool the IPv6 address came from.
	// +optional
	IPv6Pool *string `json:"ipv6Pool,omitempty"`

	// ipv4Gateway is the IPv4 gateway given with the address.
	// +optional
	IPv4Gateway *string `json:"ipv4Gateway,omitempty"`

	// ipv6Gateway is the IPv6 gateway given with the address.
	// +optional
	IPv6Gateway *string `json:"ipv6Gateway,omitempty"`

	// vlan is the VLAN ID of the pool, 0 for none.
	// +optional
	Vlan *int64 `json:"vlan,omitempty"`

	// routes are the routes given with the addresses.
	// +optional
	// +listType=atomic
	// +kubebuilder:validation:MaxItems=128
	Routes []Route `json:"routes,omitempty"`

	// cleanGateway is true when the interface got no default route.
	// +optional
	CleanGateway *bool `json:"cleanGateway,omitempty"`
}

// PodIPAllocation is the allocation of one incarnation of a pod.
type PodIPAllocation struct {
	// uid is the UID of the pod holding the addresses.
	// +required
	UID types.UID `json:"uid"`

	// node is the node the pod runs on.
	// +required
	Node string `json:"node"`

	// ips lists the addresses per interface.
	// +optional
	// +listType=atomic
	// +kubebuilder:validation:MaxItems=32
	IPs []IPAllocationDetail `json:"ips,omitempty"`
}

// SpiderEndpointStatus is the pod's view of its addresses.
type SpiderEndpointStatus struct {
	// current is the allocation of the pod's current incarnation.
	// +optional
	Current PodIPAllocation `json:"current,omitempty"`

	// ownerControllerType is the kind of the pod's top owner, e.g. StatefulSet,
	// or "Pod" for a bare pod.
	// +optional
	OwnerControllerType string `json:"ownerControllerType,omitempty"`

	// ownerControllerName is the name of the pod's top owner.
	// +optional
	OwnerControllerName string `json:"ownerControllerName,omitempty"`
}

// SpiderEndpoint records the addresses of one pod (same namespace and name as
// the pod). It is written by the node agent as the pod gets its addresses. A
// stateless pod's endpoint is owned by the pod; a StatefulSet pod's endpoint has
// no owner, so it outlives a restart of the pod.
//
// SpiderEndpoint deliberately has no status subresource: the agent writes the
// whole record in one create, which keeps a pod start at two API writes.
//
// +kubebuilder:object:root=true
// +kubebuilder:resource:scope=Namespaced,shortName=se,categories=spiderpool
// +kubebuilder:printcolumn:name="INTERFACE",type=string,JSONPath=".status.current.ips[0].interface",description="first interface"
// +kubebuilder:printcolumn:name="IPV4POOL",type=string,JSONPath=".status.current.ips[0].ipv4Pool",description="pool of the IPv4 address"
// +kubebuilder:printcolumn:name="IPV4",type=string,JSONPath=".status.current.ips[0].ipv4",description="IPv4 address"
// +kubebuilder:printcolumn:name="IPV6POOL",type=string,JSONPath=".status.current.ips[0].ipv6Pool",description="pool of the IPv6 address"
// +kubebuilder:printcolumn:name="IPV6",type=string,JSONPath=".status.current.ips[0].ipv6",description="IPv6 address"
// +kubebuilder:printcolumn:name="NODE",type=string,JSONPath=".status.current.node",description="node of the pod"
type SpiderEndpoint struct {
	metav1.TypeMeta   `json:",inline"`
	metav1.ObjectMeta `json:"metadata,omitempty"`

	// status holds the pod's addresses.
	// +optional
	Status SpiderEndpointStatus `json:"status,omitempty"`
}

// SpiderEndpointList is a list of SpiderEndpoint.
//
// +kubebuilder:object:root=true
type SpiderEndpointList struct {
	metav1.TypeMeta `json:",inline"`
	metav1.ListMeta `json:"metadata,omitempty"`
	Items           []SpiderEndpoint `json:"items"`
}
