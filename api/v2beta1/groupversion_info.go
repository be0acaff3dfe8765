// Package v2beta1 holds the Spiderpool API that ipkeeper implements
// (spiderpool.spidernet.io/v2beta1): SpiderIPPool, SpiderSubnet,
// SpiderReservedIP, SpiderEndpoint, SpiderMultusConfig and SpiderCoordinator.
//
// The files here hold only types and kubebuilder markers; deepcopy code and
// CRD manifests are generated from them by `make generate`. This package may
// import only the standard library and k8s.io/apimachinery.
//
// +kubebuilder:object:generate=true
// +groupName=spiderpool.spidernet.io
package v2beta1

import (
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/apimachinery/pkg/runtime/schema"
)

var (
	// GroupVersion is the API group and version of the Spiderpool kinds.
	GroupVersion = schema.GroupVersion{Group: "spiderpool.spidernet.io", Version: "v2beta1"}

	// SchemeBuilder registers the types of this package with a scheme.
	SchemeBuilder = runtime.NewSchemeBuilder(addKnownTypes)

	// AddToScheme adds the types of this package to a scheme.
	AddToScheme = SchemeBuilder.AddToScheme
)

func addKnownTypes(s *runtime.Scheme) error {
	s.AddKnownTypes(GroupVersion,
		&SpiderIPPool{}, &SpiderIPPoolList{},
		&SpiderSubnet{}, &SpiderSubnetList{},
		&SpiderReservedIP{}, &SpiderReservedIPList{},
		&SpiderEndpoint{}, &SpiderEndpointList{},
		&SpiderMultusConfig{}, &SpiderMultusConfigList{},
		&SpiderCoordinator{}, &SpiderCoordinatorList{},
	)
	metav1.AddToGroupVersion(s, GroupVersion)
	return nil
}
