package v2beta1

import (
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
)

// SpiderIPPoolSpec is the range of addresses a pool hands out and who may use it.
//
// +kubebuilder:validation:XValidation:rule="!has(self.ipVersion) || !isCIDR(self.subnet) || cidr(self.subnet).ip().family() == self.ipVersion",message="ipVersion must match the IP family of subnet"
// +kubebuilder:validation:XValidation:rule="!has(oldSelf.ipVersion) || has(self.ipVersion)",message="ipVersion cannot be removed once set"
type SpiderIPPoolSpec struct {
	// ipVersion is the IP family of the pool, 4 or 6. Defaulted from subnet;
	// immutable.
	// +optional
	// +kubebuilder:validation:XValidation:rule="self == oldSelf",message="ipVersion is immutable"
	IPVersion *IPVersion `json:"ipVersion,omitempty"`

	// subnet is the CIDR the pool's addresses belong to, e.g. 10.6.0.0/16.
	// Immutable.
	// +required
	// +kubebuilder:validation:MaxLength=64
	// +kubebuilder:validation:XValidation:rule="isCIDR(self)",message="subnet must be a CIDR such as 10.6.0.0/16"
	// +kubebuilder:validation:XValidation:rule="self == oldSelf",message="subnet is immutable"
	Subnet string `json:"subnet"`

	// ips lists the addresses the pool may hand out: single addresses or
	// ranges "first-last", e.g. 10.6.168.101-10.6.168.110.
	// +optional
	// +listType=atomic
	// +kubebuilder:validation:items:MaxLength=91
	// +kubebuilder:validation:items:Pattern=`^([0-9]{1,3}(\.[0-9]{1,3}){3}|[0-9a-fA-F]{0,4}(:[0-9a-fA-F]{0,4}){2,8}((\.[0-9]{1,3}){3})?)(-([0-9]{1,3}(\.[0-9]{1,3}){3}|[0-9a-fA-F]{0,4}(:[0-9a-fA-F]{0,4}){2,8}((\.[0-9]{1,3}){3})?))?$`
	IPs []string `json:"ips,omitempty"`

	// excludeIPs lists addresses (the forms of ips) inside ips that are never handed out.
	// +optional
	// +listType=atomic
	// +kubebuilder:validation:items:MaxLength=91
	// +kubebuilder:validation:items:Pattern=`^([0-9]{1,3}(\.[0-9]{1,3}){3}|[0-9a-fA-F]{0,4}(:[0-9a-fA-F]{0,4}){2,8}((\.[0-9]{1,3}){3})?)(-([0-9]{1,3}(\.[0-9]{1,3}){3}|[0-9a-fA-F]{0,4}(:[0-9a-fA-F]{0,4}){2,8}((\.[0-9]{1,3}){3})?))?$`
	ExcludeIPs []string `json:"excludeIPs,omitempty"`

	// gateway is the default gateway pods of this pool get.
	// +optional
	// +kubebuilder:validation:MaxLength=64
	// +kubebuilder:validation:XValidation:rule="isIP(self)",message="gateway must be an IP address"
	Gateway *string `json:"gateway,omitempty"`

	// routes are extra routes pods of this pool get.
	// +optional
	// +listType=atomic
	// +kubebuilder:validation:MaxItems=128
	Routes []Route `json:"routes,omitempty"`

	// podAffinity selects the pods that may use the pool by their labels.
	// +optional
	PodAffinity *metav1.LabelSelector `json:"podAffinity,omitempty"`

	// namespaceAffinity selects the namespaces whose pods may use the pool.
	// +optional
	NamespaceAffinity *metav1.LabelSelector `json:"namespaceAffinity,omitempty"`

	// namespaceName lists the namespaces whose pods may use the pool. When set
	// it wins over namespaceAffinity.
	// +optional
	// +listType=atomic
	NamespaceName []string `json:"namespaceName,omitempty"`

	// nodeAffinity selects the nodes whose pods may use the pool.
	// +optional
	NodeAffinity *metav1.LabelSelector `json:"nodeAffinity,omitempty"`

	// nodeName lists the nodes whose pods may use the pool. When set it wins
	// over nodeAffinity.
	// +optional
	// +listType=atomic
	NodeName []string `json:"nodeName,omitempty"`

	// multusName lists the NetworkAttachmentDefinitions ("namespace/name")
	// whose interfaces may use the pool.
	// +optional
	// +listType=atomic
	MultusName []string `json:"multusName,omitempty"`

	// default makes the pool a candidate for pods that name no pool. Several
	// pools may be default.
	// +optional
	// +kubebuilder:default=false
	Default *bool `json:"default,omitempty"`

	// disable stops new allocations from the pool; releases still work.
	// +optional
	// +kubebuilder:default=false
	Disable *bool `json:"disable,omitempty"`
}

// SpiderIPPoolStatus is what the controller observes of a pool.
type SpiderIPPoolStatus struct {
	// allocatedIPs is Spiderpool's record of who holds each address of the
	// pool, a JSON string mapping an address to {"pod": "namespace/name",
	// "podUid": "..."}, as Spiderpool left it. ipkeeper records allocations as
	// IPClaims instead: the controller reads this field once, to import the
	// allocations of a cluster moving from Spiderpool, and never writes it.
	// +optional
	AllocatedIPs *string `json:"allocatedIPs,omitempty"`

	// allocatedIPCount is the number of addresses of the pool held by pods.
	// +optional
	AllocatedIPCount *int64 `json:"allocatedIPCount,omitempty"`

	// totalIPCount is the number of addresses in ips minus excludeIPs,
	// saturated at the largest int64 for larger IPv6 pools.
	// +optional
	TotalIPCount *int64 `json:"totalIPCount,omitempty"`

	// conditions describe the pool's state, e.g. whether its spec is valid.
	// +optional
	// +listType=map
	// +listMapKey=type
	Conditions []metav1.Condition `json:"conditions,omitempty"`
}

// SpiderIPPool is a range of addresses of one subnet that pods get their
// addresses from.
//
// +kubebuilder:object:root=true
// +kubebuilder:subresource:status
// +kubebuilder:resource:scope=Cluster,shortName=sp,categories=spiderpool
// +kubebuilder:printcolumn:name="VERSION",type=string,JSONPath=".spec.ipVersion",description="IP version of the pool"
// +kubebuilder:printcolumn:name="SUBNET",type=string,JSONPath=".spec.subnet",description="subnet of the pool"
// +kubebuilder:printcolumn:name="ALLOCATED-IP-COUNT",type=integer,JSONPath=".status.allocatedIPCount",description="addresses held by pods"
// +kubebuilder:printcolumn:name="TOTAL-IP-COUNT",type=integer,JSONPath=".status.totalIPCount",description="addresses in ips minus excludeIPs"
// +kubebuilder:printcolumn:name="DEFAULT",type=boolean,JSONPath=".spec.default",description="a default pool"
// +kubebuilder:printcolumn:name="DISABLE",type=boolean,JSONPath=".spec.disable",description="new allocations stopped",priority=10
// +kubebuilder:printcolumn:name="NODENAME",type=string,JSONPath=".spec.nodeName",description="nodes that may use the pool",priority=10
// +kubebuilder:printcolumn:name="MULTUSNAME",type=string,JSONPath=".spec.multusName",description="networks that may use the pool",priority=10
// +kubebuilder:printcolumn:name="APP-NAMESPACE",type=string,JSONPath=".spec.namespaceName",description="namespaces that may use the pool",priority=10
type SpiderIPPool struct {
	metav1.TypeMeta   `json:",inline"`
	metav1.ObjectMeta `json:"metadata,omitempty"`

	// spec is the pool's desired range and affinities.
	// +required
	Spec SpiderIPPoolSpec `json:"spec"`

	// status is the pool's observed usage.
	// +optional
	Status SpiderIPPoolStatus `json:"status,omitempty"`
}

// SpiderIPPoolList is a list of SpiderIPPool.
//
// +kubebuilder:object:root=true
type SpiderIPPoolList struct {
	metav1.TypeMeta `json:",inline"`
	metav1.ListMeta `json:"metadata,omitempty"`
	Items           []SpiderIPPool `json:"items"`
}
