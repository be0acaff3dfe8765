package webhook

import (
	"fmt"

	ctrl "sigs.k8s.io/controller-runtime"

	"github.com/ipkeeper/ipkeeper/api/v2beta1"
)

// Setup registers every webhook with the manager's webhook server.
func Setup(mgr ctrl.Manager, smc *MultusConfigs) error {
	reader := mgr.GetClient()
	steps := []error{
		ctrl.NewWebhookManagedBy(mgr, &v2beta1.SpiderIPPool{}).
			WithDefaulter(&Pools{Reader: reader}).WithValidator(&Pools{Reader: reader}).Complete(),
		ctrl.NewWebhookManagedBy(mgr, &v2beta1.SpiderSubnet{}).
			WithDefaulter(&Subnets{Reader: reader}).WithValidator(&Subnets{Reader: reader}).Complete(),
		ctrl.NewWebhookManagedBy(mgr, &v2beta1.SpiderReservedIP{}).
			WithDefaulter(ReservedIPs{}).WithValidator(ReservedIPs{}).Complete(),
		ctrl.NewWebhookManagedBy(mgr, &v2beta1.SpiderMultusConfig{}).
			WithDefaulter(smc).WithValidator(smc).Complete(),
	}
	for _, err := range steps {
		if err != nil {
			return fmt.Errorf("register webhook: %w", err)
		}
	}
	return nil
}
