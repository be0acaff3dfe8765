package controller

import (
	"context"
	"fmt"

	"sigs.k8s.io/controller-runtime/pkg/client"

	"github.com/ipkeeper/ipkeeper/api/ipkeeper/v1alpha1"
)

// Field indexes on IPClaim, registered by AddIndexes.
const (
	// IndexClaimPool indexes claims by spec.pool.
	IndexClaimPool = "spec.pool"
	// IndexClaimHolder indexes claims by "namespace/name" of the holding pod.
	IndexClaimHolder = "spec.holder"
	// IndexClaimOwner indexes claims by "namespace/kind/name" of the top owner.
	IndexClaimOwner = "spec.owner"
)

// Indexer is the part of a manager that registers field indexes.
type Indexer interface {
	IndexField(ctx context.Context, obj client.Object, field string, extract client.IndexerFunc) error
}

// AddIndexes registers the claim indexes every reconciler may use.
func AddIndexes(ctx context.Context, idx Indexer) error {
	indexes := map[string]func(c *v1alpha1.IPClaim) string{
		IndexClaimPool:   func(c *v1alpha1.IPClaim) string { return c.Spec.Pool },
		IndexClaimHolder: func(c *v1alpha1.IPClaim) string { return HolderKey(c.Spec.Holder.Namespace, c.Spec.Holder.Name) },
		IndexClaimOwner: func(c *v1alpha1.IPClaim) string {
			return OwnerKey(c.Spec.Holder.Namespace, c.Spec.Owner.Kind, c.Spec.Owner.Name)
		},
	}
	for field, key := range indexes {
		err := idx.IndexField(ctx, &v1alpha1.IPClaim{}, field, func(o client.Object) []string {
			return []string{key(o.(*v1alpha1.IPClaim))}
		})
		if err != nil {
			return fmt.Errorf("index claims by %s: %w", field, err)
		}
	}
	return nil
}

// HolderKey is the IndexClaimHolder value of a pod.
func HolderKey(namespace, name string) string { return namespace + "/" + name }

// OwnerKey is the IndexClaimOwner value of a workload.
func OwnerKey(namespace, kind, name string) string { return namespace + "/" + kind + "/" + name }
