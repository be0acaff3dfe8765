package webhook

import (
	"context"
	"fmt"

	"k8s.io/apimachinery/pkg/util/validation/field"
	"sigs.k8s.io/controller-runtime/pkg/webhook/admission"

	"github.com/ipkeeper/ipkeeper/api/v2beta1"
	"github.com/ipkeeper/ipkeeper/internal/ipnet"
)

// ReservedIPs defaults and validates SpiderReservedIPs.
type ReservedIPs struct{}

var (
	_ admission.Defaulter[*v2beta1.SpiderReservedIP] = ReservedIPs{}
	_ admission.Validator[*v2beta1.SpiderReservedIP] = ReservedIPs{}
)

// Default sets ipVersion from the addresses.
func (ReservedIPs) Default(_ context.Context, r *v2beta1.SpiderReservedIP) error {
	if set, err := ipnet.ParseSet(r.Spec.IPs); err == nil && r.Spec.IPVersion == nil && !set.IsEmpty() {
		v := v2beta1.IPVersion(set.Family())
		r.Spec.IPVersion = &v
	}
	return nil
}

// ValidateCreate checks the entries parse, are of one family, and match ipVersion.
func (ReservedIPs) ValidateCreate(_ context.Context, r *v2beta1.SpiderReservedIP) (admission.Warnings, error) {
	return nil, validateReserved(r)
}

// ValidateUpdate checks the new entries.
func (ReservedIPs) ValidateUpdate(_ context.Context, _, r *v2beta1.SpiderReservedIP) (admission.Warnings, error) {
	return nil, validateReserved(r)
}

// ValidateDelete allows every delete.
func (ReservedIPs) ValidateDelete(context.Context, *v2beta1.SpiderReservedIP) (admission.Warnings, error) {
	return nil, nil
}

func validateReserved(r *v2beta1.SpiderReservedIP) error {
	path := field.NewPath("spec", "ips")
	var errs field.ErrorList
	family := 0
	if r.Spec.IPVersion != nil {
		family = int(*r.Spec.IPVersion)
	}
	for i, e := range r.Spec.IPs {
		one, err := ipnet.ParseSet([]string{e})
		switch {
		case err != nil:
			errs = append(errs, field.Invalid(path.Index(i), e, trimEntry(err.Error())))
		case family == 0:
			family = one.Family()
		case one.Family() != family:
			errs = append(errs, field.Invalid(path.Index(i), e, fmt.Sprintf("is IPv%d; every entry must be IPv%d (spec.ipVersion or the first entry)", one.Family(), family)))
		}
	}
	return invalid("SpiderReservedIP", r, errs)
}
