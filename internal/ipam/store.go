package ipam

import (
	"context"
	"errors"

	appsv1 "k8s.io/api/apps/v1"
	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/types"

	"github.com/ipkeeper/ipkeeper/api/ipkeeper/v1alpha1"
	"github.com/ipkeeper/ipkeeper/api/v2beta1"
)

// Errors a Store returns; callers test them with errors.Is.
var (
	// ErrTaken means a claim on the address already exists.
	ErrTaken = errors.New("address already claimed")
	// ErrConflict means the object changed since it was read.
	ErrConflict = errors.New("object changed concurrently")
	// ErrNotFound means the object does not exist.
	ErrNotFound = errors.New("not found")
)

// Store records allocations. Every write is a single API request.
type Store interface {
	// CreateClaim creates a claim; ErrTaken when the address is held.
	CreateClaim(ctx context.Context, c *v1alpha1.IPClaim) (*v1alpha1.IPClaim, error)
	// GetClaim reads a claim from the API server itself (not a cache), to
	// learn the outcome of a create that failed without an answer;
	// ErrNotFound when there is none.
	GetClaim(ctx context.Context, name string) (*v1alpha1.IPClaim, error)
	// ClaimsOfPod lists from the API server the claims held under a pod's
	// namespace and name, on any node: an agent's index knows other nodes'
	// claims by address only.
	ClaimsOfPod(ctx context.Context, pod types.NamespacedName) ([]*v1alpha1.IPClaim, error)
	// UpdateClaim replaces a claim if its resourceVersion still matches; ErrConflict otherwise.
	UpdateClaim(ctx context.Context, c *v1alpha1.IPClaim) (*v1alpha1.IPClaim, error)
	// DeleteClaim deletes a claim if its UID and resourceVersion still match
	// (the state the release was decided on); nil when it is gone or has
	// changed since.
	DeleteClaim(ctx context.Context, c *v1alpha1.IPClaim) error
	// PutEndpoint records the addresses of one interface of a pod, merging
	// with the record of the same pod incarnation, and returns the version
	// it wrote.
	PutEndpoint(ctx context.Context, ep *v2beta1.SpiderEndpoint) (EndpointVersion, error)
	// DeleteEndpoint deletes a pod's endpoint; nil when it is already gone.
	// With at set, only that version is deleted: nil as well when the
	// endpoint changed since (ErrConflict is not returned).
	DeleteEndpoint(ctx context.Context, pod types.NamespacedName, at *EndpointVersion) error
}

// EndpointVersion is one written state of a pod's endpoint: a delete
// preconditioned on it removes that state and nothing written after it, such
// as the record of a same-name pod started since.
type EndpointVersion struct {
	UID             types.UID
	ResourceVersion string
}

// Cluster reads, from caches, what the use cases need to know of the cluster.
type Cluster interface {
	// Pod returns the pod, or ErrNotFound. With uid set, a cached pod of
	// another UID is read again from the API server: the cache may not have
	// seen the pod the runtime is starting.
	Pod(ctx context.Context, key types.NamespacedName, uid types.UID) (*corev1.Pod, error)
	// PodEnded reports whether pod incarnation uid is over: deleted, being
	// deleted, replaced by a pod of another UID, or finished (Succeeded or
	// Failed). A pod the cache shows running is read again from the API
	// server, which knows its phase and the latest deletion.
	PodEnded(ctx context.Context, key types.NamespacedName, uid types.UID) (bool, error)
	// Namespace returns the namespace, or ErrNotFound.
	Namespace(ctx context.Context, name string) (*corev1.Namespace, error)
	// Node returns the agent's own node.
	Node(ctx context.Context) (*corev1.Node, error)
	// StatefulSet returns the StatefulSet, or ErrNotFound.
	StatefulSet(ctx context.Context, key types.NamespacedName) (*appsv1.StatefulSet, error)
	// TopOwner returns the pod's top controller (a Deployment rather than its
	// ReplicaSet), or kind Pod for a bare pod.
	TopOwner(ctx context.Context, pod *corev1.Pod) (v1alpha1.ClaimOwner, error)
}
