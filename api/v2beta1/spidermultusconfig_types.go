package v2beta1

import (
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
)

// CNIType names the main plugin a SpiderMultusConfig renders.
// +kubebuilder:validation:Enum=macvlan;ipvlan;sriov;ovs;ib-sriov;ipoib;custom
type CNIType string

// The CNI types a SpiderMultusConfig can render.
const (
	CNITypeMacvlan CNIType = "macvlan"
	CNITypeIPvlan  CNIType = "ipvlan"
	CNITypeSRIOV   CNIType = "sriov"
	CNITypeOVS     CNIType = "ovs"
	CNITypeIBSRIOV CNIType = "ib-sriov"
	CNITypeIPoIB   CNIType = "ipoib"
	CNITypeCustom  CNIType = "custom"
)

// PoolNames names the pools a rendered network defaults to.
type PoolNames struct {
	// ipv4 lists IPv4 pool names, tried in order.
	// +optional
	// +listType=atomic
	IPv4 []string `json:"ipv4,omitempty"`

	// ipv6 lists IPv6 pool names, tried in order.
	// +optional
	// +listType=atomic
	IPv6 []string `json:"ipv6,omitempty"`
}

// BondConfig makes a bond of several masters first.
type BondConfig struct {
	// name is the bond interface's name.
	// +required
	Name string `json:"name"`

	// mode is the bonding mode, 0 to 6.
	// +required
	// +kubebuilder:validation:Minimum=0
	// +kubebuilder:validation:Maximum=6
	Mode int32 `json:"mode"`

	// options are extra bonding options, e.g. "primary=ens192".
	// +optional
	Options *string `json:"options,omitempty"`
}

// MasterNICConfig configures a macvlan or ipvlan network on a master interface.
type MasterNICConfig struct {
	// master lists the node interfaces the network sits on, e.g. ens192.
	// +optional
	// +listType=atomic
	Master []string `json:"master,omitempty"`

	// vlanID tags the pods' traffic with this VLAN, 0 for none.
	// +optional
	// +kubebuilder:validation:Minimum=0
	// +kubebuilder:validation:Maximum=4094
	VlanID *int32 `json:"vlanID,omitempty"`

	// mtu of the pods' interfaces; 0 keeps the master's.
	// +optional
	// +kubebuilder:validation:Minimum=0
	MTU *int32 `json:"mtu,omitempty"`

	// bond bonds several masters first.
	// +optional
	Bond *BondConfig `json:"bond,omitempty"`

	// ippools are the network's default pools.
	// +optional
	IPPools *PoolNames `json:"ippools,omitempty"`
}

// SRIOVConfig configures an SR-IOV network.
type SRIOVConfig struct {
	// resourceName is the device plugin resource of the virtual functions.
	// +optional
	ResourceName string `json:"resourceName,omitempty"`

	// vlanID tags the virtual function, 0 for none.
	// +optional
	// +kubebuilder:validation:Minimum=0
	// +kubebuilder:validation:Maximum=4094
	VlanID *int32 `json:"vlanID,omitempty"`

	// mtu of the pods' interfaces.
	// +optional
	// +kubebuilder:validation:Minimum=0
	MTU *int32 `json:"mtu,omitempty"`

	// ippools are the network's default pools.
	// +optional
	IPPools *PoolNames `json:"ippools,omitempty"`
}

// OVSConfig configures an Open vSwitch network.
type OVSConfig struct {
	// bridge is the OVS bridge.
	// +required
	Bridge string `json:"bridge"`

	// vlan tags the pods' port, 0 for none.
	// +optional
	// +kubebuilder:validation:Minimum=0
	// +kubebuilder:validation:Maximum=4094
	VLAN *int32 `json:"vlan,omitempty"`

	// deviceID is the PCI address of a hardware-offloaded port.
	// +optional
	DeviceID string `json:"deviceID,omitempty"`

	// ippools are the network's default pools.
	// +optional
	IPPools *PoolNames `json:"ippools,omitempty"`
}

// CoordinatorConfig tunes the coordinator plugin chained after the main one.
type CoordinatorConfig struct {
	// mode is auto, underlay, overlay or disabled.
	// +optional
	// +kubebuilder:validation:Enum=auto;underlay;overlay;disabled
	Mode *string `json:"mode,omitempty"`

	// podDefaultRouteNIC is the interface that carries the pod's default route.
	// +optional
	PodDefaultRouteNIC *string `json:"podDefaultRouteNIC,omitempty"`

	// tunePodRoutes moves routes so replies leave by the interface they came in.
	// +optional
	TunePodRoutes *bool `json:"tunePodRoutes,omitempty"`

	// podMACPrefix fixes the first bytes of the pods' MAC addresses.
	// +optional
	PodMACPrefix *string `json:"podMACPrefix,omitempty"`

	// hijackCustomSubnet lists CIDRs reached through the node rather than the underlay.
	// +optional
	// +listType=atomic
	HijackCustomSubnet []string `json:"hijackCustomSubnet,omitempty"`

	// detectGateway checks that the gateway answers before the pod starts.
	// +optional
	DetectGateway *bool `json:"detectGateway,omitempty"`

	// detectIPConflict checks that no other host answers for the pod's address.
	// +optional
	DetectIPConflict *bool `json:"detectIPConflict,omitempty"`
}

// SpiderMultusConfigSpec describes one network in a form simpler than a CNI
// configuration; the controller renders it into a NetworkAttachmentDefinition.
//
// +kubebuilder:validation:XValidation:rule="self.cniType != 'macvlan' || (has(self.macvlan) && has(self.macvlan.master) && size(self.macvlan.master) > 0)",message="macvlan.master is required when cniType is macvlan, e.g. master: [ens192]"
// +kubebuilder:validation:XValidation:rule="self.cniType != 'ipvlan' || (has(self.ipvlan) && has(self.ipvlan.master) && size(self.ipvlan.master) > 0)",message="ipvlan.master is required when cniType is ipvlan, e.g. master: [ens192]"
// +kubebuilder:validation:XValidation:rule="self.cniType != 'custom' || has(self.customCNI)",message="customCNI is required when cniType is custom"
type SpiderMultusConfigSpec struct {
	// cniType is the main plugin: macvlan, ipvlan, sriov, ovs, ib-sriov, ipoib or custom.
	// +optional
	// +kubebuilder:default=custom
	CNIType CNIType `json:"cniType,omitempty"`

	// macvlan configures a macvlan network.
	// +optional
	Macvlan *MasterNICConfig `json:"macvlan,omitempty"`

	// ipvlan configures an ipvlan network.
	// +optional
	IPvlan *MasterNICConfig `json:"ipvlan,omitempty"`

	// sriov configures an SR-IOV network.
	// +optional
	SRIOV *SRIOVConfig `json:"sriov,omitempty"`

	// ovs configures an Open vSwitch network.
	// +optional
	OVS *OVSConfig `json:"ovs,omitempty"`

	// customCNI is a whole CNI configuration (JSON) used as-is when cniType is custom.
	// +optional
	CustomCNI *string `json:"customCNI,omitempty"`

	// enableCoordinator chains the coordinator plugin after the main one.
	// +optional
	// +kubebuilder:default=true
	EnableCoordinator *bool `json:"enableCoordinator,omitempty"`

	// coordinator tunes the coordinator plugin.
	// +optional
	Coordinator *CoordinatorConfig `json:"coordinator,omitempty"`

	// disableIPAM renders the network without an ipam section.
	// +optional
	// +kubebuilder:default=false
	DisableIPAM *bool `json:"disableIPAM,omitempty"`

	// chainCNIJsonData lists extra plugin configurations (JSON) appended to the chain.
	// +optional
	// +listType=atomic
	ChainCNIJSONData []string `json:"chainCNIJsonData,omitempty"`
}

// SpiderMultusConfig is a network for Multus, rendered by the controller into
// a NetworkAttachmentDefinition of the same namespace and name.
//
// +kubebuilder:object:root=true
// +kubebuilder:resource:scope=Namespaced,shortName=smc,categories=spiderpool
type SpiderMultusConfig struct {
	metav1.TypeMeta   `json:",inline"`
	metav1.ObjectMeta `json:"metadata,omitempty"`

	// spec describes the network.
	// +optional
	Spec SpiderMultusConfigSpec `json:"spec,omitempty"`
}

// SpiderMultusConfigList is a list of SpiderMultusConfig.
//
// +kubebuilder:object:root=true
type SpiderMultusConfigList struct {
	metav1.TypeMeta `json:",inline"`
	metav1.ListMeta `json:"metadata,omitempty"`
	Items           []SpiderMultusConfig `json:"items"`
}
