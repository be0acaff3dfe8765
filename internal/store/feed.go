package store

import (
	"context"
	"fmt"

	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/client-go/metadata"
	"k8s.io/client-go/metadata/metadatainformer"
	"k8s.io/client-go/rest"
	toolscache "k8s.io/client-go/tools/cache"
	ctrl "sigs.k8s.io/controller-runtime"
	"sigs.k8s.io/controller-runtime/pkg/cache"
	"sigs.k8s.io/controller-runtime/pkg/client"

	"github.com/ipkeeper/ipkeeper/api/ipkeeper/v1alpha1"
	"github.com/ipkeeper/ipkeeper/api/v2beta1"
	"github.com/ipkeeper/ipkeeper/internal/ipam"
)

// Feed keeps index in step with the cluster's pools, subnets, reservations
// and the claims the cache holds (an agent's: its node's, see ClaimRefs).
func Feed(ctx context.Context, c cache.Cache, index *ipam.Index) error {
	feeds := []struct {
		obj    client.Object
		set    func(obj any)
		remove func(obj any)
	}{
		{&v1alpha1.IPClaim{},
			func(o any) { index.SetClaim(o.(*v1alpha1.IPClaim)) },
			func(o any) { index.DeleteClaim(o.(*v1alpha1.IPClaim)) }},
		{&v2beta1.SpiderIPPool{},
			func(o any) { index.SetPool(o.(*v2beta1.SpiderIPPool)) },
			func(o any) { index.DeletePool(o.(*v2beta1.SpiderIPPool).Name) }},
		{&v2beta1.SpiderSubnet{},
			func(o any) { index.SetSubnet(o.(*v2beta1.SpiderSubnet)) },
			func(o any) { index.DeleteSubnet(o.(*v2beta1.SpiderSubnet).Name) }},
		{&v2beta1.SpiderReservedIP{},
			func(o any) {
				r := o.(*v2beta1.SpiderReservedIP)
				if bad := index.SetReserved(r.Name, r.Spec.IPs); len(bad) > 0 {
					ctrl.LoggerFrom(ctx).Info("SpiderReservedIP has entries that reserve nothing: they are not addresses or ranges",
						"reservedIP", r.Name, "entries", bad)
				}
			},
			func(o any) { index.DeleteReserved(o.(*v2beta1.SpiderReservedIP).Name) }},
	}
	for _, f := range feeds {
		inf, err := c.GetInformer(ctx, f.obj)
		if err != nil {
			return fmt.Errorf("informer for %T: %w", f.obj, err)
		}
		remove := f.remove
		_, err = inf.AddEventHandler(toolscache.ResourceEventHandlerFuncs{
			AddFunc:    func(o any) { f.set(o) },
			UpdateFunc: func(_, o any) { f.set(o) },
			DeleteFunc: func(o any) {
				if t, ok := o.(toolscache.DeletedFinalStateUnknown); ok {
					o = t.Obj
				}
				remove(o)
			},
		})
		if err != nil {
			return fmt.Errorf("watch %T: %w", f.obj, err)
		}
	}
	return nil
}

// ClaimRefs returns an informer of every IPClaim of the cluster by its
// metadata alone, feeding index with the addresses they hold. An agent
// watches its own node's claims whole (Feed) and everyone else's this way:
// the name is the address, which is all another node's claim tells it, and
// a metadata watch (protobuf, no spec) costs the agent a fraction of the
// decoding of every claim. Run the informer to start it.
func ClaimRefs(cfg *rest.Config, index *ipam.Index) (toolscache.SharedIndexInformer, error) {
	mc, err := metadata.NewForConfig(cfg)
	if err != nil {
		return nil, fmt.Errorf("metadata client: %w", err)
	}
	inf := metadatainformer.NewFilteredMetadataInformer(mc, v1alpha1.GroupVersion.WithResource("ipclaims"), "", 0, toolscache.Indexers{}, nil).Informer()
	// Keep only what the index reads: a cluster's claims held in memory by
	// every agent are names and versions, not labels and managed fields;
	// a quarantine claim keeps its pool, for the exhaustion message.
	if err := inf.SetTransform(func(o any) (any, error) {
		m, ok := o.(*metav1.PartialObjectMetadata)
		if !ok {
			return o, nil
		}
		kept := &metav1.PartialObjectMetadata{TypeMeta: m.TypeMeta, ObjectMeta: metav1.ObjectMeta{
			Name: m.Name, UID: m.UID, ResourceVersion: m.ResourceVersion,
		}}
		if m.Labels[v1alpha1.LabelQuarantined] == "true" {
			kept.Labels = map[string]string{v1alpha1.LabelQuarantined: "true", v1alpha1.LabelPool: m.Labels[v1alpha1.LabelPool]}
		}
		return kept, nil
	}); err != nil {
		return nil, err
	}
	_, err = inf.AddEventHandler(toolscache.ResourceEventHandlerFuncs{
		AddFunc:    func(o any) { setRef(index, o) },
		UpdateFunc: func(_, o any) { setRef(index, o) },
		DeleteFunc: func(o any) {
			if t, ok := o.(toolscache.DeletedFinalStateUnknown); ok {
				o = t.Obj
			}
			if m, ok := o.(*metav1.PartialObjectMetadata); ok {
				index.DeleteClaimRef(m.Name, m.UID)
			}
		},
	})
	if err != nil {
		return nil, fmt.Errorf("watch claim metadata: %w", err)
	}
	return inf, nil
}

func setRef(index *ipam.Index, o any) {
	m, ok := o.(*metav1.PartialObjectMetadata)
	if !ok {
		return
	}
	quarantinedIn := ""
	if m.Labels[v1alpha1.LabelQuarantined] == "true" {
		quarantinedIn = m.Labels[v1alpha1.LabelPool]
	}
	index.SetClaimRef(m.Name, m.UID, m.ResourceVersion, quarantinedIn)
}
