package webhook

import (
	"context"

	"k8s.io/apimachinery/pkg/util/validation/field"
	"sigs.k8s.io/controller-runtime/pkg/webhook/admission"

	"github.com/ipkeeper/ipkeeper/api/v2beta1"
)

// MultusConfigs validates SpiderMultusConfigs with Validate.
type MultusConfigs struct {
	Validate func(*v2beta1.SpiderMultusConfig) field.ErrorList
}

var (
	_ admission.Defaulter[*v2beta1.SpiderMultusConfig] = (*MultusConfigs)(nil)
	_ admission.Validator[*v2beta1.SpiderMultusConfig] = (*MultusConfigs)(nil)
)

// Default leaves the object as the CRD's schema defaults made it.
func (w *MultusConfigs) Default(context.Context, *v2beta1.SpiderMultusConfig) error { return nil }

// ValidateCreate checks the configuration renders.
func (w *MultusConfigs) ValidateCreate(_ context.Context, c *v2beta1.SpiderMultusConfig) (admission.Warnings, error) {
	return nil, invalid("SpiderMultusConfig", c, w.Validate(c))
}

// ValidateUpdate checks the new configuration renders.
func (w *MultusConfigs) ValidateUpdate(_ context.Context, _, c *v2beta1.SpiderMultusConfig) (admission.Warnings, error) {
	return nil, invalid("SpiderMultusConfig", c, w.Validate(c))
}

// ValidateDelete allows every delete.
func (w *MultusConfigs) ValidateDelete(context.Context, *v2beta1.SpiderMultusConfig) (admission.Warnings, error) {
	return nil, nil
}
