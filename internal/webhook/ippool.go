package webhook

import (
	"context"
	"fmt"
	"net/netip"
	"strings"

	admissionv1 "k8s.io/api/admission/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/util/validation/field"
	"sigs.k8s.io/controller-runtime/pkg/client"
	"sigs.k8s.io/controller-runtime/pkg/controller/controllerutil"
	"sigs.k8s.io/controller-runtime/pkg/webhook/admission"

	"github.com/ipkeeper/ipkeeper/api/ipkeeper/v1alpha1"
	"github.com/ipkeeper/ipkeeper/api/v2beta1"
	"github.com/ipkeeper/ipkeeper/internal/ipnet"
)

// Pools defaults and validates SpiderIPPools. Reader lists other pools,
// subnets and claims (the manager's cache).
type Pools struct {
	Reader client.Reader
	// Live reads the pool's claims from the API server itself when an edit
	// would take addresses out: a claim created a moment before may not be
	// in Reader's cache yet. The validator needs it; the defaulter does not.
	Live client.Reader
}

var (
	_ admission.Defaulter[*v2beta1.SpiderIPPool] = (*Pools)(nil)
	_ admission.Validator[*v2beta1.SpiderIPPool] = (*Pools)(nil)
)

// Default sets ipVersion from subnet and, on create, the finalizer that
// holds the pool while its addresses are in use: set later by the
// controller, a pool deleted right after its first allocation could go
// before the finalizer came.
func (w *Pools) Default(ctx context.Context, p *v2beta1.SpiderIPPool) error {
	if subnet, err := netip.ParsePrefix(p.Spec.Subnet); err == nil && p.Spec.IPVersion == nil {
		p.Spec.IPVersion = versionOf(subnet)
	}
	if req, err := admission.RequestFromContext(ctx); err == nil && req.Operation == admissionv1.Create {
		controllerutil.AddFinalizer(p, v1alpha1.FinalizerAddressesInUse)
	}
	return nil
}

// ValidateCreate checks a new pool alone and against the other pools.
func (w *Pools) ValidateCreate(ctx context.Context, p *v2beta1.SpiderIPPool) (admission.Warnings, error) {
	return nil, w.validate(ctx, nil, p)
}

// ValidateUpdate also refuses removing an address a pod holds.
func (w *Pools) ValidateUpdate(ctx context.Context, old, p *v2beta1.SpiderIPPool) (admission.Warnings, error) {
	return nil, w.validate(ctx, old, p)
}

// ValidateDelete allows every delete: the pool's finalizer keeps it until
// its addresses are released.
func (w *Pools) ValidateDelete(context.Context, *v2beta1.SpiderIPPool) (admission.Warnings, error) {
	return nil, nil
}

func (w *Pools) validate(ctx context.Context, old, p *v2beta1.SpiderIPPool) error {
	spec := field.NewPath("spec")
	subnet, ferr := parseSubnet(spec.Child("subnet"), p.Spec.Subnet)
	if ferr != nil {
		return invalid("SpiderIPPool", p, field.ErrorList{ferr})
	}
	errs := checkVersion(spec.Child("ipVersion"), p.Spec.IPVersion, subnet)
	ips, e := parseEntries(spec.Child("ips"), p.Spec.IPs, subnet)
	errs = append(errs, e...)
	exclude, e := parseEntries(spec.Child("excludeIPs"), p.Spec.ExcludeIPs, subnet)
	errs = append(errs, e...)
	errs = append(errs, checkGateway(spec.Child("gateway"), p.Spec.Gateway, subnet, ips, exclude)...)
	errs = append(errs, checkRoutes(spec.Child("routes"), p.Spec.Routes, subnet)...)
	for i, m := range p.Spec.MultusName {
		// A bare name is in the agent's multusNamespace, as Spiderpool reads
		// it in its installation namespace.
		if ns, name, ok := strings.Cut(m, "/"); m == "" || ok && (ns == "" || name == "" || strings.Contains(name, "/")) {
			errs = append(errs, field.Invalid(spec.Child("multusName").Index(i), m, `want "namespace/name" of a NetworkAttachmentDefinition, or its name alone for one in ipkeeper's namespace (configuration multusNamespace)`))
		}
	}
	if len(errs) > 0 {
		return invalid("SpiderIPPool", p, errs)
	}
	if p.DeletionTimestamp != nil {
		return nil
	}
	offered := ips.Difference(exclude)
	errs = append(errs, w.checkOverlap(ctx, p, subnet, offered)...)
	errs = append(errs, w.checkSubnetOwner(ctx, p, subnet, offered)...)
	if old != nil {
		errs = append(errs, w.checkInUse(ctx, p, offered)...)
	}
	return invalid("SpiderIPPool", p, errs)
}

// checkOverlap refuses sharing an address with a pool of the same subnet and
// any pool of a different but overlapping subnet.
func (w *Pools) checkOverlap(ctx context.Context, p *v2beta1.SpiderIPPool, subnet netip.Prefix, offered ipnet.Set) field.ErrorList {
	var pools v2beta1.SpiderIPPoolList
	if err := w.Reader.List(ctx, &pools); err != nil {
		return field.ErrorList{field.InternalError(field.NewPath("spec"), fmt.Errorf("list pools: %w", err))}
	}
	var errs field.ErrorList
	for _, other := range pools.Items {
		if other.Name == p.Name {
			continue
		}
		os, err := netip.ParsePrefix(other.Spec.Subnet)
		if err != nil {
			continue
		}
		os = os.Masked()
		if os != subnet && os.Overlaps(subnet) {
			errs = append(errs, field.Invalid(field.NewPath("spec", "subnet"), p.Spec.Subnet,
				fmt.Sprintf("overlaps subnet %s of pool %s; pools of different subnets must not overlap", os, other.Name)))
			continue
		}
		if os != subnet {
			continue
		}
		theirs, _ := ipnet.ParseSetIn(other.Spec.IPs, os)
		if shared := offered.Intersect(theirs); !shared.IsEmpty() {
			errs = append(errs, field.Invalid(field.NewPath("spec", "ips"), p.Spec.IPs,
				fmt.Sprintf("addresses %s are already in pool %s; pools of one subnet share no address", shared, other.Name)))
		}
	}
	return errs
}

// checkSubnetOwner requires a pool whose subnet is a SpiderSubnet's to lie
// inside that SpiderSubnet's addresses.
func (w *Pools) checkSubnetOwner(ctx context.Context, p *v2beta1.SpiderIPPool, subnet netip.Prefix, offered ipnet.Set) field.ErrorList {
	var subnets v2beta1.SpiderSubnetList
	if err := w.Reader.List(ctx, &subnets); err != nil {
		return field.ErrorList{field.InternalError(field.NewPath("spec"), fmt.Errorf("list subnets: %w", err))}
	}
	for _, s := range subnets.Items {
		sp, err := netip.ParsePrefix(s.Spec.Subnet)
		if err != nil || sp.Masked() != subnet {
			continue
		}
		theirs, _ := ipnet.ParseSetIn(s.Spec.IPs, subnet)
		excl, _ := ipnet.ParseSetIn(s.Spec.ExcludeIPs, subnet)
		if outside := offered.Difference(theirs.Difference(excl)); !outside.IsEmpty() {
			return field.ErrorList{field.Invalid(field.NewPath("spec", "ips"), p.Spec.IPs,
				fmt.Sprintf("addresses %s are outside SpiderSubnet %s, which owns subnet %s", outside, s.Name, subnet))}
		}
	}
	return nil
}

// checkInUse refuses removing (or excluding) an address a pod holds. The
// claims are listed from the API server as metadata (the name is the
// address): an allocation committed just before the edit must be seen. One
// committed after it is the agent's to give back (internal/ipam).
func (w *Pools) checkInUse(ctx context.Context, p *v2beta1.SpiderIPPool, offered ipnet.Set) field.ErrorList {
	claims := &metav1.PartialObjectMetadataList{}
	claims.SetGroupVersionKind(v1alpha1.GroupVersion.WithKind("IPClaimList"))
	if err := w.Live.List(ctx, claims, client.MatchingLabels{v1alpha1.LabelPool: p.Name}); err != nil {
		return field.ErrorList{field.InternalError(field.NewPath("spec"), fmt.Errorf("list claims: %w", err))}
	}
	var errs field.ErrorList
	for _, c := range claims.Items {
		a, err := v1alpha1.AddressOfClaim(c.Name)
		if err != nil || offered.Contains(a) {
			continue
		}
		errs = append(errs, field.Forbidden(field.NewPath("spec", "ips"),
			fmt.Sprintf("%s is in use by %s; release it before removing it from the pool", a, w.holderOf(ctx, c.Name))))
	}
	return errs
}

// holderOf names what holds the claim, for a refusal: from the cache, or,
// for a claim too new for it, from the API server.
func (w *Pools) holderOf(ctx context.Context, name string) string {
	var c v1alpha1.IPClaim
	if err := w.Reader.Get(ctx, client.ObjectKey{Name: name}, &c); err != nil {
		if err := w.Live.Get(ctx, client.ObjectKey{Name: name}, &c); err != nil {
			return "a pod"
		}
	}
	return c.HeldBy()
}

// invalid turns field errors into the API's Invalid status, or nil.
func invalid(kind string, obj client.Object, errs field.ErrorList) error {
	if len(errs) == 0 {
		return nil
	}
	return apierrors.NewInvalid(v2beta1.GroupVersion.WithKind(kind).GroupKind(), obj.GetName(), errs)
}
