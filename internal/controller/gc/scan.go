package gc

import (
	"context"

	"github.com/go-logr/logr"
	"k8s.io/apimachinery/pkg/util/wait"
	"k8s.io/klog/v2"
	ctrl "sigs.k8s.io/controller-runtime"
	"sigs.k8s.io/controller-runtime/pkg/client"

	"github.com/ipkeeper/ipkeeper/api/ipkeeper/v1alpha1"
)

// scanner checks every claim each ScanInterval, so that a claim whose event
// was missed or whose release failed is released within one interval, and
// then sweeps the endpoints no claim backs.
type scanner struct {
	r   *Reconciler
	log logr.Logger
}

// Start scans until ctx ends, first at once.
func (s *scanner) Start(ctx context.Context) error {
	wait.UntilWithContext(ctrl.LoggerInto(ctx, s.log), s.r.scan, s.r.ScanInterval)
	return nil
}

// NeedLeaderElection says only the leader scans.
func (s *scanner) NeedLeaderElection() bool { return true }

// scan checks every cached claim once, sweeps the endpoints, and counts a
// completed pass.
func (r *Reconciler) scan(ctx context.Context) {
	log := ctrl.LoggerFrom(ctx)
	var list v1alpha1.IPClaimList
	if err := r.Client.List(ctx, &list, client.UnsafeDisableDeepCopy); err != nil {
		log.Error(err, "List claims to scan")
		return
	}
	failed := 0
	for i := range list.Items {
		if ctx.Err() != nil {
			return
		}
		c := &list.Items[i]
		if _, err := r.check(ctx, c); err != nil {
			failed++
			log.Error(err, "Check claim; retrying next scan", "claim", klog.KObj(c))
		}
	}
	deleted, err := r.sweepEndpoints(ctx)
	if err != nil {
		log.Error(err, "Sweep endpoints; retrying next scan")
	}
	r.metrics.scans.Inc()
	log.V(1).Info("Scanned claims", "claims", len(list.Items), "failed", failed, "endpointsDeleted", deleted)
}
