package main

import (
	"context"
	"fmt"

	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/types"
)

// The phases, in order.
const (
	phaseCreate   = "create"
	phaseRecreate = "recreate"
	phaseDelete   = "delete"
)

// createPhase creates the Deployments; it is over when every pod is Running
// with an address.
func (r *runner) createPhase() phase {
	pods := r.cfg.pods()
	return phase{
		name: phaseCreate,
		act: func(ctx context.Context) error {
			return r.env.createDeployments(ctx, r.cfg.deployments, r.cfg.replicas)
		},
		done: func(_ context.Context, ms map[string]float64, elapsed float64) (bool, string, error) {
			c := r.tracker.count(nil)
			if _, seen := ms["all_pods_exist"]; !seen && c.total == pods {
				ms["all_pods_exist"] = elapsed
			}
			return c.running == pods && c.total == pods, fmt.Sprintf("%d/%d Running with an address; %s", c.running, pods, c), nil
		},
	}
}

// recreatePhase deletes every pod at once; it is over when all the
// replacements (new UIDs) are Running with an address. With as many
// addresses as pods in ipkeeper's pool, they get the released ones.
func (r *runner) recreatePhase() phase {
	pods := r.cfg.pods()
	var old map[types.UID]bool
	var victims []*corev1.Pod
	return phase{
		name: phaseRecreate,
		prepare: func() {
			victims, old = r.tracker.pods(), r.tracker.uids()
		},
		act: func(ctx context.Context) error { return r.env.deletePods(ctx, victims) },
		done: func(_ context.Context, ms map[string]float64, elapsed float64) (bool, string, error) {
			c := r.tracker.count(old)
			left := c.total - c.fresh
			if _, seen := ms["old_pods_gone"]; !seen && left == 0 {
				ms["old_pods_gone"] = elapsed
			}
			return c.freshRunning == pods, fmt.Sprintf("%d/%d replacements Running with an address, %d old pods left", c.freshRunning, pods, left), nil
		},
	}
}

// deletePhase deletes the Deployments; it is over when every pod is gone
// and every address released: ipkeeper's pool has no claim left and its
// status counts 0; host-local's stores hold no allocation file.
func (r *runner) deletePhase() phase {
	return phase{
		name: phaseDelete,
		act:  func(ctx context.Context) error { return r.env.deleteDeployments(ctx, r.cfg.deployments) },
		done: func(ctx context.Context, ms map[string]float64, elapsed float64) (bool, string, error) {
			c := r.tracker.count(nil)
			if c.total > 0 {
				return false, fmt.Sprintf("%d pods left", c.total), nil
			}
			if _, seen := ms["pods_gone"]; !seen {
				ms["pods_gone"] = elapsed
			}
			return r.released(ctx)
		},
	}
}

// released reports whether the IPAM holds no address of the workload any
// more. It is asked only once the pods are gone, so that polling it costs
// the API server little.
func (r *runner) released(ctx context.Context) (bool, string, error) {
	if r.env.mode == modeHostLocal {
		n, err := r.env.hostLocalFiles()
		return n == 0, fmt.Sprintf("pods gone, %d host-local allocation files left", n), err
	}
	st, err := r.env.poolStatus(ctx)
	if err != nil {
		return false, "pods gone", err
	}
	left, err := r.env.claims(ctx, 1)
	if err != nil {
		return false, "pods gone", err
	}
	return st.allocated == 0 && len(left) == 0,
		fmt.Sprintf("pods gone, pool allocatedIPCount %d, claims left: %v", st.allocated, len(left) > 0), nil
}
