package v2beta1

import (
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
)

// SpiderReservedIPSpec lists addresses no pool or subnet ever hands out.
type SpiderReservedIPSpec struct {
	// ipVersion is the IP family of ips, 4 or 6. Defaulted from ips.
	// +optional
	IPVersion *IPVersion `json:"ipVersion,omitempty"`

	// ips lists reserved addresses: single addresses or ranges "first-last",
	// e.g. 10.6.168.131 or 10.6.168.131-10.6.168.133. The API server checks
	// each entry's shape, so that a typo is refused even while the
	// controller (and its webhook) is down; the webhook checks the rest.
	// +optional
	// +listType=atomic
	// +kubebuilder:validation:items:MaxLength=91
	// +kubebuilder:validation:items:Pattern=`^([0-9]{1,3}(\.[0-9]{1,3}){3}|[0-9a-fA-F]{0,4}(:[0-9a-fA-F]{0,4}){2,8}((\.[0-9]{1,3}){3})?)(-([0-9]{1,3}(\.[0-9]{1,3}){3}|[0-9a-fA-F]{0,4}(:[0-9a-fA-F]{0,4}){2,8}((\.[0-9]{1,3}){3})?))?$`
	IPs []string `json:"ips,omitempty"`
}

// SpiderReservedIP reserves addresses cluster-wide, for example addresses used
// by hosts outside the cluster. A pod already holding such an address keeps it
// until it restarts.
//
// +kubebuilder:object:root=true
// +kubebuilder:resource:scope=Cluster,shortName=sr,categories=spiderpool
// +kubebuilder:printcolumn:name="VERSION",type=string,JSONPath=".spec.ipVersion",description="IP version of the reserved addresses"
type SpiderReservedIP struct {
	metav1.TypeMeta   `json:",inline"`
	metav1.ObjectMeta `json:"metadata,omitempty"`

	// spec lists the reserved addresses.
	// +required
	Spec SpiderReservedIPSpec `json:"spec"`
}

// SpiderReservedIPList is a list of SpiderReservedIP.
//
// +kubebuilder:object:root=true
type SpiderReservedIPList struct {
	metav1.TypeMeta `json:",inline"`
	metav1.ListMeta `json:"metadata,omitempty"`
	Items           []SpiderReservedIP `json:"items"`
}
