package store

import (
	"context"
	"fmt"

	appsv1 "k8s.io/api/apps/v1"
	batchv1 "k8s.io/api/batch/v1"
	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime/schema"
	"k8s.io/apimachinery/pkg/types"
	"sigs.k8s.io/controller-runtime/pkg/client"

	"github.com/ipkeeper/ipkeeper/api/ipkeeper/v1alpha1"
	"github.com/ipkeeper/ipkeeper/internal/ipam"
	"github.com/ipkeeper/ipkeeper/internal/spiderpool"
)

// Cluster is an ipam.Cluster reading from informer caches, falling back to
// the API server for a pod the cache has not seen yet.
type Cluster struct {
	cache client.Reader
	api   client.Reader
	node  string
}

// NewCluster returns a Cluster for the agent of node.
func NewCluster(cache, api client.Reader, node string) *Cluster {
	return &Cluster{cache: cache, api: api, node: node}
}

var _ ipam.Cluster = (*Cluster)(nil)

// Informers returns the objects whose informers the Cluster reads, to start
// before serving: pods and ReplicaSets as metadata (Jobs start lazily, as
// metadata too). Starting a typed Pod or ReplicaSet informer instead would
// add a second watch that nothing reads.
func Informers() []client.Object {
	return []client.Object{metadataOf(corev1.SchemeGroupVersion.WithKind("Pod")), &corev1.Node{},
		&corev1.Namespace{}, &appsv1.StatefulSet{}, metadataOf(appsv1.SchemeGroupVersion.WithKind("ReplicaSet"))}
}

func metadataOf(gvk schema.GroupVersionKind) *metav1.PartialObjectMetadata {
	m := &metav1.PartialObjectMetadata{}
	m.SetGroupVersionKind(gvk)
	return m
}

// Pod returns the pod from the cache, or from the API server when the cache
// lags behind the runtime's request: it has no such pod yet, or still an
// earlier one of that name (uid, when given, is the one the runtime names).
// Only its metadata is read (the allocator uses annotations, labels, owners
// and UID), so the cache keeps the node's pods as metadata: each status
// change of a pod costs the agent a small decode, not a whole pod's.
func (c *Cluster) Pod(ctx context.Context, key types.NamespacedName, uid types.UID) (*corev1.Pod, error) {
	meta := metadataOf(corev1.SchemeGroupVersion.WithKind("Pod"))
	err := c.cache.Get(ctx, key, meta)
	if apierrors.IsNotFound(err) || err == nil && uid != "" && meta.UID != uid {
		err = c.api.Get(ctx, key, meta)
	}
	if err != nil {
		return nil, notFound(err)
	}
	return &corev1.Pod{TypeMeta: meta.TypeMeta, ObjectMeta: meta.ObjectMeta}, nil
}

// PodEnded reports whether the pod incarnation uid is over. The cache, which
// holds metadata only, answers for a pod gone, replaced or being deleted; a
// pod it shows running costs one read of the API server for its phase.
func (c *Cluster) PodEnded(ctx context.Context, key types.NamespacedName, uid types.UID) (bool, error) {
	meta := metadataOf(corev1.SchemeGroupVersion.WithKind("Pod"))
	err := c.cache.Get(ctx, key, meta)
	switch {
	case err != nil && !apierrors.IsNotFound(err):
		return false, fmt.Errorf("get pod %s: %w", key, err)
	case err == nil && (meta.UID != uid || meta.DeletionTimestamp != nil):
		return true, nil
	}
	pod := &corev1.Pod{}
	if err := c.api.Get(ctx, key, pod); apierrors.IsNotFound(err) {
		return true, nil
	} else if err != nil {
		return false, fmt.Errorf("get pod %s: %w", key, err)
	}
	return pod.UID != uid || pod.DeletionTimestamp != nil ||
		pod.Status.Phase == corev1.PodSucceeded || pod.Status.Phase == corev1.PodFailed, nil
}

// Namespace returns the namespace.
func (c *Cluster) Namespace(ctx context.Context, name string) (*corev1.Namespace, error) {
	ns := &corev1.Namespace{}
	return ns, notFound(c.cache.Get(ctx, types.NamespacedName{Name: name}, ns))
}

// Node returns the agent's node.
func (c *Cluster) Node(ctx context.Context) (*corev1.Node, error) {
	n := &corev1.Node{}
	return n, notFound(c.cache.Get(ctx, types.NamespacedName{Name: c.node}, n))
}

// StatefulSet returns the StatefulSet.
func (c *Cluster) StatefulSet(ctx context.Context, key types.NamespacedName) (*appsv1.StatefulSet, error) {
	sts := &appsv1.StatefulSet{}
	if err := notFound(c.cache.Get(ctx, key, sts)); err != nil {
		return nil, err
	}
	return sts, nil
}

// TopOwner is the pod's top controller (spiderpool.TopController): a
// ReplicaSet's Deployment, a Job's CronJob, or kind Pod for a bare pod.
func (c *Cluster) TopOwner(ctx context.Context, pod *corev1.Pod) (v1alpha1.ClaimOwner, error) {
	ref, err := spiderpool.TopController(ctx, pod, c.controllerOf)
	if err != nil {
		return v1alpha1.ClaimOwner{}, err
	}
	if ref == nil {
		return v1alpha1.ClaimOwner{APIVersion: "v1", Kind: "Pod", Name: pod.Name, UID: pod.UID}, nil
	}
	return ownerOf(ref), nil
}

// controllerOf reads a ReplicaSet's or Job's controller reference. Only that
// reference is read, so the cache keeps ReplicaSets and Jobs as metadata: no
// pod templates or status decoded and held for every ReplicaSet of the
// cluster on every node.
func (c *Cluster) controllerOf(ctx context.Context, namespace string, ref *metav1.OwnerReference) (*metav1.OwnerReference, error) {
	parent := metadataOf(appsv1.SchemeGroupVersion.WithKind("ReplicaSet"))
	if ref.Kind == "Job" {
		parent = metadataOf(batchv1.SchemeGroupVersion.WithKind("Job"))
	}
	err := c.cache.Get(ctx, types.NamespacedName{Namespace: namespace, Name: ref.Name}, parent)
	if apierrors.IsNotFound(err) {
		return nil, nil
	}
	if err != nil {
		return nil, fmt.Errorf("get %s %s: %w", ref.Kind, ref.Name, err)
	}
	return metav1.GetControllerOf(parent), nil
}

func ownerOf(ref *metav1.OwnerReference) v1alpha1.ClaimOwner {
	return v1alpha1.ClaimOwner{APIVersion: ref.APIVersion, Kind: ref.Kind, Name: ref.Name, UID: ref.UID}
}

func notFound(err error) error {
	if apierrors.IsNotFound(err) {
		return fmt.Errorf("%w: %w", ipam.ErrNotFound, err)
	}
	return err
}
