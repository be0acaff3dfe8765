package spiderpool

import (
	"context"

	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime/schema"
)

// ControllerLookup returns the controller reference of the object that ref
// names in namespace, nil when that object has none or does not exist.
type ControllerLookup func(ctx context.Context, namespace string, ref *metav1.OwnerReference) (*metav1.OwnerReference, error)

// TopController returns the workload a pod belongs to: its controller, or
// that controller's controller for a ReplicaSet (a Deployment) or a Job (a
// CronJob). It is nil for a pod without controller. Only ReplicaSets and Jobs
// are followed, so lookup is called at most once.
func TopController(ctx context.Context, pod metav1.Object, lookup ControllerLookup) (*metav1.OwnerReference, error) {
	ref := metav1.GetControllerOfNoCopy(pod)
	if ref == nil {
		return nil, nil
	}
	if !hasParentWorkload(ref) {
		return ref, nil
	}
	up, err := lookup(ctx, pod.GetNamespace(), ref)
	if err != nil {
		return nil, err
	}
	if up != nil {
		return up, nil
	}
	return ref, nil
}

// hasParentWorkload reports whether ref is of a kind that users create
// through another workload: apps ReplicaSets and batch Jobs.
func hasParentWorkload(ref *metav1.OwnerReference) bool {
	gv, err := schema.ParseGroupVersion(ref.APIVersion)
	if err != nil {
		return false
	}
	return gv.Group == "apps" && ref.Kind == "ReplicaSet" || gv.Group == "batch" && ref.Kind == "Job"
}
