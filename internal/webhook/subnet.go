package webhook

import (
	"context"
	"fmt"
	"net/netip"

	"k8s.io/apimachinery/pkg/util/validation/field"
	"sigs.k8s.io/controller-runtime/pkg/client"
	"sigs.k8s.io/controller-runtime/pkg/webhook/admission"

	"github.com/ipkeeper/ipkeeper/api/v2beta1"
	"github.com/ipkeeper/ipkeeper/internal/ipnet"
)

// Subnets defaults and validates SpiderSubnets.
type Subnets struct {
	Reader client.Reader
}

var (
	_ admission.Defaulter[*v2beta1.SpiderSubnet] = (*Subnets)(nil)
	_ admission.Validator[*v2beta1.SpiderSubnet] = (*Subnets)(nil)
)

// Default sets ipVersion from subnet.
func (w *Subnets) Default(_ context.Context, s *v2beta1.SpiderSubnet) error {
	if subnet, err := netip.ParsePrefix(s.Spec.Subnet); err == nil && s.Spec.IPVersion == nil {
		s.Spec.IPVersion = versionOf(subnet)
	}
	return nil
}

// ValidateCreate checks the subnet alone and against the other subnets.
func (w *Subnets) ValidateCreate(ctx context.Context, s *v2beta1.SpiderSubnet) (admission.Warnings, error) {
	return nil, w.validate(ctx, s, false)
}

// ValidateUpdate also refuses taking away addresses its pools hold.
func (w *Subnets) ValidateUpdate(ctx context.Context, _, s *v2beta1.SpiderSubnet) (admission.Warnings, error) {
	return nil, w.validate(ctx, s, true)
}

// ValidateDelete allows every delete.
func (w *Subnets) ValidateDelete(context.Context, *v2beta1.SpiderSubnet) (admission.Warnings, error) {
	return nil, nil
}

func (w *Subnets) validate(ctx context.Context, s *v2beta1.SpiderSubnet, update bool) error {
	spec := field.NewPath("spec")
	subnet, ferr := parseSubnet(spec.Child("subnet"), s.Spec.Subnet)
	if ferr != nil {
		return invalid("SpiderSubnet", s, field.ErrorList{ferr})
	}
	errs := checkVersion(spec.Child("ipVersion"), s.Spec.IPVersion, subnet)
	ips, e := parseEntries(spec.Child("ips"), s.Spec.IPs, subnet)
	errs = append(errs, e...)
	exclude, e := parseEntries(spec.Child("excludeIPs"), s.Spec.ExcludeIPs, subnet)
	errs = append(errs, e...)
	errs = append(errs, checkGateway(spec.Child("gateway"), s.Spec.Gateway, subnet, ips, exclude)...)
	errs = append(errs, checkRoutes(spec.Child("routes"), s.Spec.Routes, subnet)...)
	if len(errs) > 0 {
		return invalid("SpiderSubnet", s, errs)
	}
	errs = append(errs, w.checkOverlap(ctx, s, subnet)...)
	if update {
		errs = append(errs, w.checkPoolsInside(ctx, subnet, ips.Difference(exclude))...)
	}
	return invalid("SpiderSubnet", s, errs)
}

func (w *Subnets) checkOverlap(ctx context.Context, s *v2beta1.SpiderSubnet, subnet netip.Prefix) field.ErrorList {
	var list v2beta1.SpiderSubnetList
	if err := w.Reader.List(ctx, &list); err != nil {
		return field.ErrorList{field.InternalError(field.NewPath("spec"), fmt.Errorf("list subnets: %w", err))}
	}
	for _, o := range list.Items {
		op, err := netip.ParsePrefix(o.Spec.Subnet)
		if o.Name == s.Name || err != nil || !op.Masked().Overlaps(subnet) {
			continue
		}
		return field.ErrorList{field.Invalid(field.NewPath("spec", "subnet"), s.Spec.Subnet,
			fmt.Sprintf("overlaps SpiderSubnet %s (%s); subnets must not overlap", o.Name, o.Spec.Subnet))}
	}
	return nil
}

// checkPoolsInside refuses a change that leaves one of the subnet's pools
// holding addresses the subnet no longer offers.
func (w *Subnets) checkPoolsInside(ctx context.Context, subnet netip.Prefix, offered ipnet.Set) field.ErrorList {
	var pools v2beta1.SpiderIPPoolList
	if err := w.Reader.List(ctx, &pools); err != nil {
		return field.ErrorList{field.InternalError(field.NewPath("spec"), fmt.Errorf("list pools: %w", err))}
	}
	var errs field.ErrorList
	for _, p := range pools.Items {
		pp, err := netip.ParsePrefix(p.Spec.Subnet)
		if err != nil || pp.Masked() != subnet {
			continue
		}
		theirs, _ := ipnet.ParseSetIn(p.Spec.IPs, subnet)
		if outside := theirs.Difference(offered); !outside.IsEmpty() {
			errs = append(errs, field.Forbidden(field.NewPath("spec", "ips"),
				fmt.Sprintf("pool %s holds %s, which this change takes out of the subnet; shrink the pool first", p.Name, outside)))
		}
	}
	return errs
}
