package gc

import (
	"context"
	"fmt"

	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/klog/v2"
	ctrl "sigs.k8s.io/controller-runtime"
	"sigs.k8s.io/controller-runtime/pkg/client"

	"github.com/ipkeeper/ipkeeper/api/ipkeeper/v1alpha1"
	"github.com/ipkeeper/ipkeeper/api/v2beta1"
	"github.com/ipkeeper/ipkeeper/internal/controller"
)

// endpointPage is how many SpiderEndpoints one list request of the sweep
// returns.
const endpointPage = 500

// sweepEndpoints deletes the SpiderEndpoints that no claim backs and whose
// pod is gone. Releasing a pod's last claim and deleting its endpoint are two
// writes, by an agent's DEL or by the collector: a process killed between
// them leaves an endpoint showing an address that is free (and may be given
// to another pod), and a StatefulSet pod's endpoint has no owner reference
// for Kubernetes to collect. An endpoint is deleted only when the cache holds
// no claim of its pod's name (of any incarnation: a StatefulSet ordinal's
// claims outlive its pods), its pod is not found on a live read, and it is
// still the object listed (UID and resourceVersion preconditions). Deleting
// an endpoint frees nothing: claims alone hold addresses. The endpoints are
// listed, and their pods read, as metadata only (protobuf): every sweep
// reads every endpoint of the cluster, 65,534 of them with a full /16.
func (r *Reconciler) sweepEndpoints(ctx context.Context) (deleted int, err error) {
	list := &metav1.PartialObjectMetadataList{}
	list.SetGroupVersionKind(v2beta1.GroupVersion.WithKind("SpiderEndpointList"))
	for {
		if err := r.APIReader.List(ctx, list, client.Limit(endpointPage), client.Continue(list.Continue)); err != nil {
			return deleted, fmt.Errorf("list endpoints: %w", err)
		}
		for i := range list.Items {
			ep := &list.Items[i]
			stale, err := r.staleEndpoint(ctx, ep)
			if err != nil {
				return deleted, err
			}
			if !stale {
				continue
			}
			uid, rv := ep.UID, ep.ResourceVersion
			err = r.Client.Delete(ctx, ep, client.Preconditions{UID: &uid, ResourceVersion: &rv})
			switch {
			case apierrors.IsNotFound(err), apierrors.IsConflict(err):
				continue // gone already, or written since: the next sweep decides again
			case err != nil:
				return deleted, fmt.Errorf("delete endpoint %s/%s: %w", ep.Namespace, ep.Name, err)
			}
			deleted++
			r.metrics.endpointsDeleted.Inc()
			ctrl.LoggerFrom(ctx).Info("Deleted an endpoint no claim backs", "endpoint", klog.KObj(ep))
		}
		if list.Continue == "" {
			return deleted, nil
		}
	}
}

// staleEndpoint reports whether no claim backs ep and its pod is gone.
func (r *Reconciler) staleEndpoint(ctx context.Context, ep *metav1.PartialObjectMetadata) (bool, error) {
	var claims v1alpha1.IPClaimList
	key := controller.HolderKey(ep.Namespace, ep.Name)
	if err := r.Client.List(ctx, &claims, client.MatchingFields{controller.IndexClaimHolder: key}, client.UnsafeDisableDeepCopy); err != nil {
		return false, fmt.Errorf("list the claims of %s: %w", key, err)
	}
	if len(claims.Items) > 0 {
		return false, nil
	}
	meta := &metav1.PartialObjectMetadata{}
	meta.SetGroupVersionKind(corev1.SchemeGroupVersion.WithKind("Pod"))
	pod, err := lookup(ctx, r.APIReader, client.ObjectKeyFromObject(ep), meta)
	if err != nil {
		return false, fmt.Errorf("get pod %s/%s: %w", ep.Namespace, ep.Name, err)
	}
	return pod == nil, nil
}
