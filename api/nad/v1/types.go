package v1

import (
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
)

// NetworkAttachmentDefinitionSpec holds the CNI configuration of one network.
type NetworkAttachmentDefinitionSpec struct {
	// config is a CNI network configuration or configuration list, as JSON text.
	// +optional
	Config string `json:"config,omitempty"`
}

// NetworkAttachmentDefinition is a network a pod can attach to through Multus
// annotations. ipkeeper renders them from SpiderMultusConfig; the local cluster's
// node simulator reads them as Multus does.
//
// +kubebuilder:object:root=true
// +kubebuilder:resource:path=network-attachment-definitions,singular=network-attachment-definition,shortName=net-attach-def,scope=Namespaced
type NetworkAttachmentDefinition struct {
	metav1.TypeMeta   `json:",inline"`
	metav1.ObjectMeta `json:"metadata,omitempty"`

	// spec holds the network's CNI configuration.
	// +optional
	Spec NetworkAttachmentDefinitionSpec `json:"spec,omitempty"`
}

// NetworkAttachmentDefinitionList is a list of NetworkAttachmentDefinition.
//
// +kubebuilder:object:root=true
type NetworkAttachmentDefinitionList struct {
	metav1.TypeMeta `json:",inline"`
	metav1.ListMeta `json:"metadata,omitempty"`
	Items           []NetworkAttachmentDefinition `json:"items"`
}
