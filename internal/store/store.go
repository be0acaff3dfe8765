package store

import (
	"context"
	"fmt"

	apierrors "k8s.io/apimachinery/pkg/api/errors"
	"k8s.io/apimachinery/pkg/types"
	"k8s.io/client-go/util/retry"
	"sigs.k8s.io/controller-runtime/pkg/client"

	"github.com/ipkeeper/ipkeeper/api/ipkeeper/v1alpha1"
	"github.com/ipkeeper/ipkeeper/api/v2beta1"
	"github.com/ipkeeper/ipkeeper/internal/ipam"
)

// API is an ipam.Store on the API server.
type API struct {
	client client.Client
	live   client.Reader
}

// New returns a Store writing through c and reading claims back, when a
// write's outcome is unknown, through live (the API server, not a cache).
func New(c client.Client, live client.Reader) *API { return &API{client: c, live: live} }

// GetClaim reads a claim from the API server; ipam.ErrNotFound when there is
// none.
func (s *API) GetClaim(ctx context.Context, name string) (*v1alpha1.IPClaim, error) {
	c := &v1alpha1.IPClaim{}
	if err := s.live.Get(ctx, client.ObjectKey{Name: name}, c); err != nil {
		if apierrors.IsNotFound(err) {
			return nil, fmt.Errorf("claim %s: %w", name, ipam.ErrNotFound)
		}
		return nil, fmt.Errorf("get claim %s: %w", name, err)
	}
	return c, nil
}

// ClaimsOfPod lists from the API server the claims held under the pod's
// namespace and name, by field selector.
func (s *API) ClaimsOfPod(ctx context.Context, pod types.NamespacedName) ([]*v1alpha1.IPClaim, error) {
	var list v1alpha1.IPClaimList
	if err := s.live.List(ctx, &list, client.MatchingFields{
		v1alpha1.FieldHolderNamespace: pod.Namespace, v1alpha1.FieldHolderName: pod.Name,
	}); err != nil {
		return nil, fmt.Errorf("list claims by holder: %w", err)
	}
	out := make([]*v1alpha1.IPClaim, len(list.Items))
	for i := range list.Items {
		out[i] = &list.Items[i]
	}
	return out, nil
}

var _ ipam.Store = (*API)(nil)

// CreateClaim creates the claim; the API server's AlreadyExists is the lock.
func (s *API) CreateClaim(ctx context.Context, c *v1alpha1.IPClaim) (*v1alpha1.IPClaim, error) {
	obj := c.DeepCopy()
	if err := s.client.Create(ctx, obj); err != nil {
		if apierrors.IsAlreadyExists(err) {
			return nil, ipam.ErrTaken
		}
		return nil, err
	}
	return obj, nil
}

// UpdateClaim replaces the claim if nobody changed it since it was read.
func (s *API) UpdateClaim(ctx context.Context, c *v1alpha1.IPClaim) (*v1alpha1.IPClaim, error) {
	obj := c.DeepCopy()
	if err := s.client.Update(ctx, obj); err != nil {
		if apierrors.IsConflict(err) || apierrors.IsNotFound(err) {
			return nil, fmt.Errorf("%w: %w", ipam.ErrConflict, err)
		}
		return nil, err
	}
	return obj, nil
}

// DeleteClaim deletes the claim only if it is still the object and the
// version the release was decided on (UID and resourceVersion
// preconditions): a stale release never frees an address taken again since,
// nor one a StatefulSet pod's next incarnation took over (an update that
// keeps the UID).
func (s *API) DeleteClaim(ctx context.Context, c *v1alpha1.IPClaim) error {
	pre := client.Preconditions{UID: &c.UID}
	if c.ResourceVersion != "" {
		pre.ResourceVersion = &c.ResourceVersion
	}
	err := s.client.Delete(ctx, c.DeepCopy(), pre)
	switch {
	case err == nil, apierrors.IsNotFound(err):
		return nil
	case apierrors.IsConflict(err):
		// A newer claim holds the name, or this one changed hands since the
		// decision: either way it is not this release's to free.
		return nil
	}
	return err
}

// PutEndpoint creates the pod's endpoint, or merges this interface into the
// existing record (replacing a record of an older incarnation), read from
// the API server.
func (s *API) PutEndpoint(ctx context.Context, ep *v2beta1.SpiderEndpoint) (ipam.EndpointVersion, error) {
	obj := ep.DeepCopy()
	err := s.client.Create(ctx, obj)
	if apierrors.IsAlreadyExists(err) {
		err = retry.RetryOnConflict(retry.DefaultRetry, func() error {
			// Read from the API server: the record the create ran into may
			// be one the cache has not seen yet (written by an earlier
			// attempt of this ADD, or while the watch was down).
			obj = &v2beta1.SpiderEndpoint{}
			if err := s.live.Get(ctx, client.ObjectKeyFromObject(ep), obj); err != nil {
				return err
			}
			merge(obj, ep)
			return s.client.Update(ctx, obj)
		})
	}
	if err != nil {
		return ipam.EndpointVersion{}, err
	}
	return ipam.EndpointVersion{UID: obj.UID, ResourceVersion: obj.ResourceVersion}, nil
}

// merge writes want's interfaces into cur.
func merge(cur, want *v2beta1.SpiderEndpoint) {
	if cur.Status.Current.UID != want.Status.Current.UID {
		cur.Status.Current.IPs = nil
	}
	cur.OwnerReferences = want.OwnerReferences
	cur.Status.Current.UID = want.Status.Current.UID
	cur.Status.Current.Node = want.Status.Current.Node
	cur.Status.OwnerControllerType = want.Status.OwnerControllerType
	cur.Status.OwnerControllerName = want.Status.OwnerControllerName
	for _, d := range want.Status.Current.IPs {
		replaced := false
		for i := range cur.Status.Current.IPs {
			if cur.Status.Current.IPs[i].Interface == d.Interface {
				cur.Status.Current.IPs[i], replaced = d, true
			}
		}
		if !replaced {
			cur.Status.Current.IPs = append(cur.Status.Current.IPs, d)
		}
	}
}

// DeleteEndpoint deletes the pod's endpoint, only at version at when given.
func (s *API) DeleteEndpoint(ctx context.Context, pod types.NamespacedName, at *ipam.EndpointVersion) error {
	ep := &v2beta1.SpiderEndpoint{}
	ep.Namespace, ep.Name = pod.Namespace, pod.Name
	var opts []client.DeleteOption
	if at != nil {
		opts = append(opts, client.Preconditions{UID: &at.UID, ResourceVersion: &at.ResourceVersion})
	}
	err := s.client.Delete(ctx, ep, opts...)
	if apierrors.IsNotFound(err) || at != nil && apierrors.IsConflict(err) {
		return nil
	}
	return err
}
