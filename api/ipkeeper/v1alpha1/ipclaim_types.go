package v1alpha1

import (
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/types"
)

// Labels set on every IPClaim so that claims can be selected by the API server.
const (
	// LabelPool carries spec.pool.
	LabelPool = "ipkeeper.io/pool"
	// LabelNode carries spec.node.
	LabelNode = "ipkeeper.io/node"
)

// Field selectors of IPClaim.
const (
	// FieldHolderNamespace selects claims by spec.holder.namespace.
	FieldHolderNamespace = "spec.holder.namespace"
	// FieldHolderName selects claims by spec.holder.name.
	FieldHolderName = "spec.holder.name"
)

// FinalizerAddressesInUse holds a SpiderIPPool while any of its addresses is
// claimed. The pool webhook sets it on create; the controller sets it on
// pools created without the webhook and removes it from a deleted pool once
// no claim of the pool is left.
const FinalizerAddressesInUse = "ipkeeper.io/addresses-in-use"

// ConditionSpiderpoolImported is the SpiderIPPool status condition the
// controller sets once the allocations Spiderpool recorded in the pool
// (status.allocatedIPs) exist as IPClaims. Agents hand out no address of a
// pool that has such records until the condition is True.
const ConditionSpiderpoolImported = "SpiderpoolImported"

// AnnotationImportedFrom is set on an IPClaim the controller created from
// another IPAM's records; its value names that IPAM, e.g. spiderpool.
const AnnotationImportedFrom = "ipkeeper.io/imported-from"

// OwnerKindQuarantine is spec.owner.kind of a quarantine claim: one that no
// pod holds, set on an address another host on the network answered for
// (IP-conflict detection). Its spec.holder is empty.
const OwnerKindQuarantine = "Quarantine"

// LabelQuarantined is set to "true" on quarantine claims, so that they can
// be listed with a label selector.
const LabelQuarantined = "ipkeeper.io/quarantined"

// ClaimQuarantine says why an address is kept from every pod.
type ClaimQuarantine struct {
	// reason is a CamelCase word, e.g. IPConflict.
	// +required
	Reason string `json:"reason"`

	// hardwareAddress is the link-layer address of the host that answered
	// for the address.
	// +optional
	HardwareAddress string `json:"hardwareAddress,omitempty"`

	// detectedBy is the pod (namespace/name) whose probe found the conflict.
	// +optional
	DetectedBy string `json:"detectedBy,omitempty"`

	// since is when the address was quarantined.
	// +required
	Since metav1.Time `json:"since"`
}

// ClaimHolder is the pod holding an address.
type ClaimHolder struct {
	// namespace of the pod.
	// +required
	Namespace string `json:"namespace"`

	// name of the pod.
	// +required
	Name string `json:"name"`

	// uid of the pod incarnation holding the address.
	// +required
	UID types.UID `json:"uid"`

	// containerID is the sandbox the address was given to.
	// +optional
	ContainerID string `json:"containerID,omitempty"`

	// interface is the pod interface the address was given to, e.g. eth0.
	// +required
	Interface string `json:"interface"`

	// network is the CNI network (netconf name) the interface belongs to.
	// +optional
	Network string `json:"network,omitempty"`
}

// ClaimOwner is the pod's top controller, e.g. its StatefulSet.
type ClaimOwner struct {
	// apiVersion of the controller.
	// +optional
	APIVersion string `json:"apiVersion,omitempty"`

	// kind of the controller, e.g. StatefulSet; Pod for a bare pod.
	// +required
	Kind string `json:"kind"`

	// name of the controller.
	// +required
	Name string `json:"name"`

	// uid of the controller.
	// +optional
	UID types.UID `json:"uid,omitempty"`
}

// IPClaimSpec says which address is held, from which pool, by whom.
type IPClaimSpec struct {
	// address is the claimed address, in canonical form.
	// +required
	// +kubebuilder:validation:MaxLength=64
	// +kubebuilder:validation:XValidation:rule="isIP(self)",message="address must be an IP address"
	// +kubebuilder:validation:XValidation:rule="self == oldSelf",message="address is immutable"
	Address string `json:"address"`

	// pool is the SpiderIPPool the address was taken from.
	// +required
	Pool string `json:"pool"`

	// node is the node of the pod holding the address.
	// +required
	Node string `json:"node"`

	// holder is the pod holding the address.
	// +required
	Holder ClaimHolder `json:"holder"`

	// owner is the holder's top controller.
	// +required
	Owner ClaimOwner `json:"owner"`

	// ordinal is the StatefulSet ordinal of the holder, when owner is a
	// StatefulSet; the claim follows the ordinal across pod restarts.
	// +optional
	Ordinal *int32 `json:"ordinal,omitempty"`

	// quarantine, when set, keeps the address from every pod: another host
	// answered for it. holder is empty and owner.kind is Quarantine; the
	// garbage collector never releases it. Deleting the claim (kubectl
	// ipkeeper unquarantine) gives the address back to its pool.
	// +optional
	Quarantine *ClaimQuarantine `json:"quarantine,omitempty"`
}

// IPClaim records that one address is held. Its name is derived from the
// address alone (IPv4 as is, IPv6 as eight dash-separated groups of four hex
// digits), so the API server refuses a second claim on the same address: taking
// an address is a create, and AlreadyExists is the lock. The holder's
// namespace and name are selectable fields, so that the claims of one pod
// can be listed wherever they are held (FieldHolderNamespace, FieldHolderName).
//
// +kubebuilder:object:root=true
// +kubebuilder:resource:scope=Cluster,shortName=ipc,categories=ipkeeper
// +kubebuilder:printcolumn:name="ADDRESS",type=string,JSONPath=".spec.address"
// +kubebuilder:printcolumn:name="POOL",type=string,JSONPath=".spec.pool"
// +kubebuilder:printcolumn:name="NAMESPACE",type=string,JSONPath=".spec.holder.namespace"
// +kubebuilder:printcolumn:name="POD",type=string,JSONPath=".spec.holder.name"
// +kubebuilder:printcolumn:name="INTERFACE",type=string,JSONPath=".spec.holder.interface"
// +kubebuilder:printcolumn:name="NODE",type=string,JSONPath=".spec.node"
// +kubebuilder:printcolumn:name="OWNER",type=string,JSONPath=".spec.owner.kind",priority=10
// +kubebuilder:printcolumn:name="CONFLICT-MAC",type=string,JSONPath=".spec.quarantine.hardwareAddress",priority=10
// +kubebuilder:printcolumn:name="AGE",type=date,JSONPath=".metadata.creationTimestamp"
// +kubebuilder:selectablefield:JSONPath=".spec.holder.namespace"
// +kubebuilder:selectablefield:JSONPath=".spec.holder.name"
type IPClaim struct {
	metav1.TypeMeta   `json:",inline"`
	metav1.ObjectMeta `json:"metadata,omitempty"`

	// spec says which address is held by whom.
	// +required
	Spec IPClaimSpec `json:"spec"`
}

// IPClaimList is a list of IPClaim.
//
// +kubebuilder:object:root=true
type IPClaimList struct {
	metav1.TypeMeta `json:",inline"`
	metav1.ListMeta `json:"metadata,omitempty"`
	Items           []IPClaim `json:"items"`
}

// Quarantined reports whether the claim keeps its address from every pod.
func (c *IPClaim) Quarantined() bool {
	return c.Spec.Quarantine != nil
}

// HeldBy names what holds the claim's address, for messages: "pod ns/name",
// or the quarantine.
func (c *IPClaim) HeldBy() string {
	if c.Quarantined() {
		return "a quarantine (IP conflict)"
	}
	return "pod " + c.Spec.Holder.Namespace + "/" + c.Spec.Holder.Name
}
