// Package defaultpool creates the cluster's default pools of the
// configuration (clusterDefaultPools, the chart's clusterDefaultPool values)
// once the controller's webhooks serve, so that the webhooks default and
// validate them like any pool, and retries until the API server reaches the
// webhooks (a Helm hook would run once, possibly before the webhook Service
// has endpoints). A pool that exists is never changed.
//
// defaultpool must not import the agent, ipam or store packages.
package defaultpool

import (
	"context"
	"fmt"
	"time"

	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/util/wait"
	ctrl "sigs.k8s.io/controller-runtime"
	"sigs.k8s.io/controller-runtime/pkg/client"

	"github.com/ipkeeper/ipkeeper/api/v2beta1"
	"github.com/ipkeeper/ipkeeper/internal/config"
)

// Creator creates the pools; it is a leader-elected manager runnable.
type Creator struct {
	Client client.Client
	Pools  []config.DefaultPool
	// Every is the first retry delay (doubled up to a minute); zero means 1 s.
	Every time.Duration
}

// NeedLeaderElection runs the creator on the leader only.
func (c *Creator) NeedLeaderElection() bool { return true }

// Start creates each pool that does not exist, retrying until it is created
// or found, or ctx ends.
func (c *Creator) Start(ctx context.Context) error {
	log := ctrl.LoggerFrom(ctx).WithName("default-pools")
	every := c.Every
	if every == 0 {
		every = time.Second
	}
	for _, want := range c.Pools {
		backoff := wait.Backoff{Duration: every, Factor: 2, Steps: 1 << 30, Cap: time.Minute}
		err := wait.ExponentialBackoffWithContext(ctx, backoff, func(ctx context.Context) (bool, error) {
			err := c.Client.Create(ctx, pool(want))
			switch {
			case err == nil:
				log.Info("Created default pool", "pool", want.Name, "subnet", want.Subnet)
				return true, nil
			case apierrors.IsAlreadyExists(err):
				return true, nil
			case apierrors.IsInvalid(err) || apierrors.IsBadRequest(err):
				// The webhook refused it: retrying cannot help.
				return false, fmt.Errorf("default pool %s refused: %w", want.Name, err)
			}
			log.Info("Default pool not created yet, retrying", "pool", want.Name, "error", err.Error())
			return false, nil
		})
		if err != nil {
			if ctx.Err() != nil {
				return nil
			}
			log.Error(err, "Default pool not created", "pool", want.Name)
		}
	}
	return nil
}

func pool(p config.DefaultPool) *v2beta1.SpiderIPPool {
	sp := &v2beta1.SpiderIPPool{
		ObjectMeta: metav1.ObjectMeta{Name: p.Name, Labels: map[string]string{"app.kubernetes.io/managed-by": "ipkeeper-controller"}},
		Spec:       v2beta1.SpiderIPPoolSpec{Subnet: p.Subnet, IPs: p.IPs, Default: new(true)},
	}
	if p.Gateway != "" {
		sp.Spec.Gateway = new(p.Gateway)
	}
	return sp
}
