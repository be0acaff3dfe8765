package webhook

import (
	"fmt"

	ctrl "sigs.k8s.io/controller-runtime"
	"sigs.k8s.io/controller-runtime/pkg/metrics"

	"github.com/ipkeeper/ipkeeper/api/v2beta1"
)

// Setup registers every webhook with the manager's webhook server.
// Refusals are counted in ipkeeper_webhook_refusals_total of
// controller-runtime's metrics registry, the one the manager serves.
func Setup(mgr ctrl.Manager, smc *MultusConfigs) error {
	reader := mgr.GetClient()
	refusals, err := newRefusals(metrics.Registry)
	if err != nil {
		return fmt.Errorf("register webhook metrics: %w", err)
	}
	steps := []error{
		ctrl.NewWebhookManagedBy(mgr, &v2beta1.SpiderIPPool{}).
			WithDefaulter(&Pools{Reader: reader}).WithValidator(countRefusals[*v2beta1.SpiderIPPool](&Pools{Reader: reader, Live: mgr.GetAPIReader()}, "SpiderIPPool", refusals)).Complete(),
		ctrl.NewWebhookManagedBy(mgr, &v2beta1.SpiderSubnet{}).
			WithDefaulter(&Subnets{Reader: reader}).WithValidator(countRefusals[*v2beta1.SpiderSubnet](&Subnets{Reader: reader}, "SpiderSubnet", refusals)).Complete(),
		ctrl.NewWebhookManagedBy(mgr, &v2beta1.SpiderReservedIP{}).
			WithDefaulter(ReservedIPs{}).WithValidator(countRefusals[*v2beta1.SpiderReservedIP](ReservedIPs{}, "SpiderReservedIP", refusals)).Complete(),
		ctrl.NewWebhookManagedBy(mgr, &v2beta1.SpiderMultusConfig{}).
			WithDefaulter(smc).WithValidator(countRefusals[*v2beta1.SpiderMultusConfig](smc, "SpiderMultusConfig", refusals)).Complete(),
	}
	for _, err := range steps {
		if err != nil {
			return fmt.Errorf("register webhook: %w", err)
		}
	}
	return nil
}
