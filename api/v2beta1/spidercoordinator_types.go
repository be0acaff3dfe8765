package v2beta1

import (
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
)

// CoordinatorName is the name of the one SpiderCoordinator of a cluster.
const CoordinatorName = "default"

// PodCIDRType says where the controller finds the cluster's pod CIDRs.
// +kubebuilder:validation:Enum=auto;cluster;none
type PodCIDRType string

// The places pod CIDRs are read from.
const (
	// PodCIDRTypeAuto reads the nodes' spec.podCIDRs when any node has them.
	PodCIDRTypeAuto PodCIDRType = "auto"
	// PodCIDRTypeCluster reads the nodes' spec.podCIDRs.
	PodCIDRTypeCluster PodCIDRType = "cluster"
	// PodCIDRTypeNone discovers no pod CIDR (underlay-only clusters).
	PodCIDRTypeNone PodCIDRType = "none"
)

// The phases of a SpiderCoordinator.
const (
	// CoordinatorPhaseSynced: the Service CIDR is known and status is current.
	CoordinatorPhaseSynced = "Synced"
	// CoordinatorPhaseNotReady: the Service CIDR is not known (yet).
	CoordinatorPhaseNotReady = "NotReady"
)

// SpiderCoordinatorSpec is the cluster-wide configuration of the coordinator
// CNI plugin. A SpiderMultusConfig's coordinator block overrides it for one
// network.
type SpiderCoordinatorSpec struct {
	// mode is underlay (a veth pair to the node carries traffic to the node
	// and to Services), auto (the same, for now) or disabled.
	// +optional
	// +kubebuilder:default=auto
	// +kubebuilder:validation:Enum=auto;underlay;overlay;disabled
	Mode *string `json:"mode,omitempty"`

	// podCIDRType is where the controller finds the pod CIDRs written to status.
	// +optional
	// +kubebuilder:default=auto
	PodCIDRType *PodCIDRType `json:"podCIDRType,omitempty"`

	// hijackCIDR lists further CIDRs that pods reach through their node, e.g.
	// a node-local DNS address.
	// +optional
	// +listType=atomic
	HijackCIDR []string `json:"hijackCIDR,omitempty"`

	// podMACPrefix fixes the first two bytes of every pod interface's MAC
	// address, e.g. "0a:1b"; the rest comes from the interface's IPv4 address.
	// +optional
	// +kubebuilder:validation:Pattern=`^$|^[0-9a-fA-F]{2}:[0-9a-fA-F]{2}$`
	PodMACPrefix *string `json:"podMACPrefix,omitempty"`

	// tunePodRoutes gives each pod interface its own routing table, so that
	// replies leave by the interface their request came in on.
	// +optional
	// +kubebuilder:default=true
	TunePodRoutes *bool `json:"tunePodRoutes,omitempty"`

	// podDefaultRouteNIC is the pod interface that keeps the default route
	// when a pod has several, e.g. net1; a pod's
	// ipam.spidernet.io/default-route-nic annotation wins. Empty means eth0.
	// +optional
	PodDefaultRouteNIC *string `json:"podDefaultRouteNIC,omitempty"`

	// hostRuleTable is the node's routing table that holds the routes to pods
	// through their veth.
	// +optional
	// +kubebuilder:default=500
	// +kubebuilder:validation:Minimum=1
	// +kubebuilder:validation:Maximum=4294967295
	HostRuleTable *int64 `json:"hostRuleTable,omitempty"`

	// podRPFilter is the pod's reverse path filter (0 off, 1 strict, 2 loose);
	// -1 leaves the kernel's setting.
	// +optional
	// +kubebuilder:default=0
	// +kubebuilder:validation:Minimum=-1
	// +kubebuilder:validation:Maximum=2
	PodRPFilter *int32 `json:"podRPFilter,omitempty"`

	// vethLinkAddress is a link-local IPv4 address given to the node's end of
	// every pod veth and used as the pods' next hop to Services, e.g.
	// 169.254.100.1; empty uses the node's own address.
	// +optional
	VethLinkAddress *string `json:"vethLinkAddress,omitempty"`
}

// SpiderCoordinatorStatus is what the controller discovered.
type SpiderCoordinatorStatus struct {
	// phase is Synced once the Service CIDR is known, else NotReady.
	// +optional
	Phase string `json:"phase,omitempty"`

	// reason says why the phase is NotReady.
	// +optional
	Reason string `json:"reason,omitempty"`

	// serviceCIDR lists the cluster's Service CIDRs.
	// +optional
	// +listType=atomic
	ServiceCIDR []string `json:"serviceCIDR,omitempty"`

	// overlayPodCIDR lists the pod CIDRs found as podCIDRType says.
	// +optional
	// +listType=atomic
	OverlayPodCIDR []string `json:"overlayPodCIDR,omitempty"`
}

// SpiderCoordinator configures the coordinator plugin cluster-wide. There is
// one, named default.
//
// +kubebuilder:object:root=true
// +kubebuilder:subresource:status
// +kubebuilder:resource:scope=Cluster,shortName=scc,categories=spiderpool
// +kubebuilder:validation:XValidation:rule="self.metadata.name == 'default'",message="metadata.name must be default: a cluster has one SpiderCoordinator"
// +kubebuilder:printcolumn:name="MODE",type=string,JSONPath=".spec.mode"
// +kubebuilder:printcolumn:name="PHASE",type=string,JSONPath=".status.phase"
// +kubebuilder:printcolumn:name="SERVICECIDR",type=string,JSONPath=".status.serviceCIDR"
// +kubebuilder:printcolumn:name="AGE",type=date,JSONPath=".metadata.creationTimestamp"
type SpiderCoordinator struct {
	metav1.TypeMeta   `json:",inline"`
	metav1.ObjectMeta `json:"metadata,omitempty"`

	// spec configures the plugin.
	// +optional
	Spec SpiderCoordinatorSpec `json:"spec,omitempty"`

	// status is what the controller discovered.
	// +optional
	Status SpiderCoordinatorStatus `json:"status,omitempty"`
}

// SpiderCoordinatorList is a list of SpiderCoordinator.
//
// +kubebuilder:object:root=true
type SpiderCoordinatorList struct {
	metav1.TypeMeta `json:",inline"`
	metav1.ListMeta `json:"metadata,omitempty"`
	Items           []SpiderCoordinator `json:"items"`
}
