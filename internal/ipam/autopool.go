package ipam

import (
	"context"
	"fmt"
	"strings"
	"time"

	corev1 "k8s.io/api/core/v1"

	"github.com/ipkeeper/ipkeeper/api/ipkeeper/v1alpha1"
	"github.com/ipkeeper/ipkeeper/internal/spiderpool"
)

// missingPool is one automatic pool a pod asks for that does not exist.
type missingPool struct {
	iface  string
	family int
	subnet string
}

// awaitAutoPools waits, up to Config.AutoPoolWait, until the workload has an
// automatic pool for every interface and family its subnet(s) annotation
// names: the controller creates them when it sees the workload, which may be
// after its first pod reaches the node. Every interface is waited for, not
// only the one being set up, so that a pod never starts with some of the
// addresses it asked for. The wait follows the index's informer events; it
// ends with an AllocationError that names each missing pool and why.
func (a *Allocator) awaitAutoPools(ctx context.Context, pod *corev1.Pod, owner v1alpha1.ClaimOwner) error {
	req, asked, err := spiderpool.ParseAutoPoolRequest(pod.Annotations)
	if !asked || err != nil || a.cfg.DisableAutoPools {
		return nil // Select refuses these with the reason
	}
	var deadline <-chan time.Time
	for {
		changed := a.index.Changed()
		missing := a.missingAutoPools(req, owner)
		if len(missing) == 0 {
			return nil
		}
		if deadline == nil {
			if a.cfg.AutoPoolWait <= 0 {
				return a.noAutoPool(pod, missing)
			}
			t := time.NewTimer(a.cfg.AutoPoolWait)
			defer t.Stop()
			deadline = t.C
		}
		select {
		case <-changed:
		case <-deadline:
			return a.noAutoPool(pod, missing)
		case <-ctx.Done():
			return fmt.Errorf("wait for the automatic pools of pod %s/%s: %w", pod.Namespace, pod.Name, ctx.Err())
		}
	}
}

func (a *Allocator) missingAutoPools(req spiderpool.AutoPoolRequest, owner v1alpha1.ClaimOwner) []missingPool {
	var out []missingPool
	for _, i := range req.Interfaces {
		have := a.autoPools(owner, i.Name)
		for _, fam := range []int{4, 6} {
			if s := i.Subnet(fam); s != "" && len(have[fam]) == 0 {
				out = append(out, missingPool{iface: i.Name, family: fam, subnet: s})
			}
		}
	}
	return out
}

// noAutoPool says, for each missing pool, why the controller has not made it
// as far as the agent can see: the subnet does not exist, has no address
// left for pools, or the pool is simply not created yet.
func (a *Allocator) noAutoPool(pod *corev1.Pod, missing []missingPool) error {
	parts := make([]string, 0, len(missing))
	for _, m := range missing {
		parts = append(parts, fmt.Sprintf("interface %s IPv%d from SpiderSubnet %s: %s", m.iface, m.family, m.subnet, a.whyNoAutoPool(m.subnet)))
	}
	return &AllocationError{Msg: fmt.Sprintf("pod %s/%s has no automatic pool after waiting %s (annotation %s); nothing was allocated: %s",
		pod.Namespace, pod.Name, a.cfg.AutoPoolWait, spiderpool.AutoPoolAnnotationKey(pod.Annotations), strings.Join(parts, "; "))}
}

func (a *Allocator) whyNoAutoPool(subnet string) string {
	s := a.index.Subnet(subnet)
	switch {
	case s == nil:
		return "subnet not found"
	case s.DeletionTimestamp != nil:
		return "subnet is being deleted"
	case s.Status.TotalIPCount != nil && s.Status.AllocatedIPCount != nil && *s.Status.AllocatedIPCount >= *s.Status.TotalIPCount:
		return fmt.Sprintf("subnet full (all %d of its addresses are given to pools)", *s.Status.TotalIPCount)
	}
	return "auto pool not created yet (the controller's Events on the workload say why)"
}
