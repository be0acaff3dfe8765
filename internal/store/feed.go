package store

import (
	"context"
	"fmt"

	toolscache "k8s.io/client-go/tools/cache"
	ctrl "sigs.k8s.io/controller-runtime"
	"sigs.k8s.io/controller-runtime/pkg/cache"
	"sigs.k8s.io/controller-runtime/pkg/client"

	"github.com/ipkeeper/ipkeeper/api/ipkeeper/v1alpha1"
	"github.com/ipkeeper/ipkeeper/api/v2beta1"
	"github.com/ipkeeper/ipkeeper/internal/ipam"
)

// Feed keeps index in step with the cluster's pools, subnets, reservations
// and claims.
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
