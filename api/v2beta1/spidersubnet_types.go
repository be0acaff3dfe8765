package v2beta1

import (
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
)

// SpiderSubnetSpec is a subnet's range that automatic pools are carved from.
//
// +kubebuilder:validation:XValidation:rule="!has(self.ipVersion) || !isCIDR(self.subnet) || cidr(self.subnet).ip().family() == self.ipVersion",message="ipVersion must match the IP family of subnet"
// +kubebuilder:validation:XValidation:rule="!has(oldSelf.ipVersion) || has(self.ipVersion)",message="ipVersion cannot be removed once set"
type SpiderSubnetSpec struct {
	// ipVersion is the IP family of the subnet, 4 or 6. Defaulted from
	// subnet; immutable.
	// +optional
	// +kubebuilder:validation:XValidation:rule="self == oldSelf",message="ipVersion is immutable"
	IPVersion *IPVersion `json:"ipVersion,omitempty"`

	// subnet is the CIDR, e.g. 10.244.0.0/16. Immutable.
	// +required
	// +kubebuilder:validation:MaxLength=64
	// +kubebuilder:validation:XValidation:rule="isCIDR(self)",message="subnet must be a CIDR such as 10.244.0.0/16"
	// +kubebuilder:validation:XValidation:rule="self == oldSelf",message="subnet is immutable"
	Subnet string `json:"subnet"`

	// ips lists the addresses pools may be given from this subnet: single
	// addresses or ranges "first-last".
	// +optional
	// +listType=atomic
	// +kubebuilder:validation:items:MaxLength=91
	// +kubebuilder:validation:items:Pattern=`^([0-9]{1,3}(\.[0-9]{1,3}){3}|[0-9a-fA-F]{0,4}(:[0-9a-fA-F]{0,4}){2,8}((\.[0-9]{1,3}){3})?)(-([0-9]{1,3}(\.[0-9]{1,3}){3}|[0-9a-fA-F]{0,4}(:[0-9a-fA-F]{0,4}){2,8}((\.[0-9]{1,3}){3})?))?$`
	IPs []string `json:"ips,omitempty"`

	// excludeIPs lists addresses (the forms of ips) inside ips that no pool is given.
	// +optional
	// +listType=atomic
	// +kubebuilder:validation:items:MaxLength=91
	// +kubebuilder:validation:items:Pattern=`^([0-9]{1,3}(\.[0-9]{1,3}){3}|[0-9a-fA-F]{0,4}(:[0-9a-fA-F]{0,4}){2,8}((\.[0-9]{1,3}){3})?)(-([0-9]{1,3}(\.[0-9]{1,3}){3}|[0-9a-fA-F]{0,4}(:[0-9a-fA-F]{0,4}){2,8}((\.[0-9]{1,3}){3})?))?$`
	ExcludeIPs []string `json:"excludeIPs,omitempty"`

	// gateway is inherited by the subnet's pools that set none.
	// +optional
	// +kubebuilder:validation:MaxLength=64
	// +kubebuilder:validation:XValidation:rule="isIP(self)",message="gateway must be an IP address"
	Gateway *string `json:"gateway,omitempty"`

	// routes are inherited by the subnet's pools that set none.
	// +optional
	// +listType=atomic
	// +kubebuilder:validation:MaxItems=128
	Routes []Route `json:"routes,omitempty"`
}

// SpiderSubnetStatus is what the controller observes of a subnet.
type SpiderSubnetStatus struct {
	// allocatedIPCount is the number of the subnet's addresses given to pools.
	// +optional
	AllocatedIPCount *int64 `json:"allocatedIPCount,omitempty"`

	// totalIPCount is the number of addresses in ips minus excludeIPs,
	// saturated at the largest int64.
	// +optional
	TotalIPCount *int64 `json:"totalIPCount,omitempty"`

	// controlledIPPoolCount is the number of pools owned by the subnet.
	// +optional
	ControlledIPPoolCount *int64 `json:"controlledIPPoolCount,omitempty"`

	// conditions describe the subnet's state.
	// +optional
	// +listType=map
	// +listMapKey=type
	Conditions []metav1.Condition `json:"conditions,omitempty"`
}

// SpiderSubnet is a subnet from which pools are created automatically for
// workloads, and which owns the pools of the same subnet.
//
// +kubebuilder:object:root=true
// +kubebuilder:subresource:status
// +kubebuilder:resource:scope=Cluster,shortName=ss,categories=spiderpool
// +kubebuilder:printcolumn:name="VERSION",type=string,JSONPath=".spec.ipVersion",description="IP version of the subnet"
// +kubebuilder:printcolumn:name="SUBNET",type=string,JSONPath=".spec.subnet",description="the subnet"
// +kubebuilder:printcolumn:name="ALLOCATED-IP-COUNT",type=integer,JSONPath=".status.allocatedIPCount",description="addresses given to pools"
// +kubebuilder:printcolumn:name="TOTAL-IP-COUNT",type=integer,JSONPath=".status.totalIPCount",description="addresses in ips minus excludeIPs"
type SpiderSubnet struct {
	metav1.TypeMeta   `json:",inline"`
	metav1.ObjectMeta `json:"metadata,omitempty"`

	// spec is the subnet's range.
	// +required
	Spec SpiderSubnetSpec `json:"spec"`

	// status is the subnet's observed usage.
	// +optional
	Status SpiderSubnetStatus `json:"status,omitempty"`
}

// SpiderSubnetList is a list of SpiderSubnet.
//
// +kubebuilder:object:root=true
type SpiderSubnetList struct {
	metav1.TypeMeta `json:",inline"`
	metav1.ListMeta `json:"metadata,omitempty"`
	Items           []SpiderSubnet `json:"items"`
}
