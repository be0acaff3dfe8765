// Package v1 holds the one Multus type ipkeeper needs: NetworkAttachmentDefinition
// (k8s.cni.cncf.io/v1). The Multus client libraries are not available to us, so
// we define the type ourselves; only spec.config is used.
//
// This package may import only the standard library and k8s.io/apimachinery.
//
// +kubebuilder:object:generate=true
// +groupName=k8s.cni.cncf.io
package v1

import (
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/apimachinery/pkg/runtime/schema"
)

var (
	// GroupVersion is the API group and version of NetworkAttachmentDefinition.
	GroupVersion = schema.GroupVersion{Group: "k8s.cni.cncf.io", Version: "v1"}

	// SchemeBuilder registers the types of this package with a scheme.
	SchemeBuilder = runtime.NewSchemeBuilder(addKnownTypes)

	// AddToScheme adds the types of this package to a scheme.
	AddToScheme = SchemeBuilder.AddToScheme
)

func addKnownTypes(s *runtime.Scheme) error {
	s.AddKnownTypes(GroupVersion, &NetworkAttachmentDefinition{}, &NetworkAttachmentDefinitionList{})
	metav1.AddToGroupVersion(s, GroupVersion)
	return nil
}
