package gc

import (
	corev1 "k8s.io/api/core/v1"
)

// CachedPod is the controller cache's transform of pods: it keeps what the
// collector decides on — the metadata (UID, deletion timestamp, owners; the
// managed fields dropped) and the phase — and the node, and drops the rest
// of spec and status. The controller caches every pod of the cluster for the
// collector alone, and a pod's containers, volumes and statuses are most of
// its size: with whole pods the controller held 1.41 GiB at 65,534 pods,
// with these 1.06 GiB (docs/benchmarks.md). Whatever
// reads pods from the controller's cache gets these fields only; a reader
// that needs more must read the API server.
func CachedPod(obj any) (any, error) {
	pod, ok := obj.(*corev1.Pod)
	if !ok {
		return obj, nil
	}
	slim := &corev1.Pod{
		TypeMeta:   pod.TypeMeta,
		ObjectMeta: pod.ObjectMeta,
		Spec:       corev1.PodSpec{NodeName: pod.Spec.NodeName},
		Status:     corev1.PodStatus{Phase: pod.Status.Phase},
	}
	slim.ManagedFields = nil
	return slim, nil
}
