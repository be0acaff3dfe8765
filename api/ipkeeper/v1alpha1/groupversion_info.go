// Package v1alpha1 holds ipkeeper's own state kinds (group ipkeeper.io):
// IPClaim, one object per allocated address. Users read them; only the agents
// and the controller write them.
//
// This package may import only the standard library and k8s.io/apimachinery.
//
// +kubebuilder:object:generate=true
// +groupName=ipkeeper.io
package v1alpha1

import (
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/apimachinery/pkg/runtime/schema"
)

var (
	// GroupVersion is the API group and version of ipkeeper's state kinds.
	GroupVersion = schema.GroupVersion{Group: "ipkeeper.io", Version: "v1alpha1"}

	// SchemeBuilder registers the types of this package with a scheme.
	SchemeBuilder = runtime.NewSchemeBuilder(addKnownTypes)

	// AddToScheme adds the types of this package to a scheme.
	AddToScheme = SchemeBuilder.AddToScheme
)

func addKnownTypes(s *runtime.Scheme) error {
	s.AddKnownTypes(GroupVersion, &IPClaim{}, &IPClaimList{})
	metav1.AddToGroupVersion(s, GroupVersion)
	return nil
}
