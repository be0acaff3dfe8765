package webhook

import (
	"context"
	"fmt"
	"strings"

	admissionregistrationv1 "k8s.io/api/admissionregistration/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/utils/ptr"
	"sigs.k8s.io/controller-runtime/pkg/client"

	"github.com/ipkeeper/ipkeeper/api/v2beta1"
)

// ConfigName is the name of both webhook configurations ipkeeper registers.
const ConfigName = "ipkeeper"

// Endpoint says how the API server reaches the webhook: a base URL (the local
// cluster: https://127.0.0.1:9443) or a Service (in a cluster).
type Endpoint struct {
	URL     string
	Service *admissionregistrationv1.ServiceReference
}

// Registrar creates and updates the webhook configurations, CA bundle included.
type Registrar struct {
	Client   client.Client
	Endpoint Endpoint
	// CABundleOnly leaves the configurations to whoever made them (the Helm
	// chart, with webhookConfigurations.managedByChart) and only writes the
	// CA bundle into each of their webhooks.
	CABundleOnly bool
}

// kinds lists the resources with webhooks, by kind (lower case) and plural.
var kinds = []struct{ kind, plural string }{
	{"spiderippool", "spiderippools"},
	{"spidersubnet", "spidersubnets"},
	{"spiderreservedip", "spiderreservedips"},
	{"spidermultusconfig", "spidermultusconfigs"},
}

// path is controller-runtime's webhook path for a kind.
func path(verb, kind string) string {
	return "/" + verb + "-" + strings.ReplaceAll(v2beta1.GroupVersion.Group, ".", "-") + "-" + v2beta1.GroupVersion.Version + "-" + kind
}

// Apply registers both configurations with caBundle.
func (r *Registrar) Apply(ctx context.Context, caBundle []byte) error {
	if r.CABundleOnly {
		return r.patchCABundle(ctx, caBundle)
	}
	validating := &admissionregistrationv1.ValidatingWebhookConfiguration{ObjectMeta: metav1.ObjectMeta{Name: ConfigName}}
	mutating := &admissionregistrationv1.MutatingWebhookConfiguration{ObjectMeta: metav1.ObjectMeta{Name: ConfigName}}
	for _, k := range kinds {
		validating.Webhooks = append(validating.Webhooks, admissionregistrationv1.ValidatingWebhook{
			Name: "validate-" + k.kind + ".ipkeeper.io", ClientConfig: r.clientConfig(path("validate", k.kind), caBundle),
			Rules: rules(k.plural), FailurePolicy: ptr.To(admissionregistrationv1.Fail),
			SideEffects: ptr.To(admissionregistrationv1.SideEffectClassNone), AdmissionReviewVersions: []string{"v1"},
			TimeoutSeconds: ptr.To[int32](10),
		})
		mutating.Webhooks = append(mutating.Webhooks, admissionregistrationv1.MutatingWebhook{
			Name: "default-" + k.kind + ".ipkeeper.io", ClientConfig: r.clientConfig(path("mutate", k.kind), caBundle),
			Rules: rules(k.plural), FailurePolicy: ptr.To(admissionregistrationv1.Fail),
			SideEffects: ptr.To(admissionregistrationv1.SideEffectClassNone), AdmissionReviewVersions: []string{"v1"},
			TimeoutSeconds: ptr.To[int32](10), ReinvocationPolicy: ptr.To(admissionregistrationv1.NeverReinvocationPolicy),
		})
	}
	if err := r.apply(ctx, validating, func(cur client.Object) {
		cur.(*admissionregistrationv1.ValidatingWebhookConfiguration).Webhooks = validating.Webhooks
	}); err != nil {
		return err
	}
	return r.apply(ctx, mutating, func(cur client.Object) {
		cur.(*admissionregistrationv1.MutatingWebhookConfiguration).Webhooks = mutating.Webhooks
	})
}

func (r *Registrar) apply(ctx context.Context, want client.Object, set func(client.Object)) error {
	err := r.Client.Create(ctx, want)
	if !apierrors.IsAlreadyExists(err) {
		return wrapRegister(want, err)
	}
	cur := want.DeepCopyObject().(client.Object)
	if err := r.Client.Get(ctx, client.ObjectKeyFromObject(want), cur); err != nil {
		return wrapRegister(want, err)
	}
	set(cur)
	return wrapRegister(want, r.Client.Update(ctx, cur))
}

func wrapRegister(obj client.Object, err error) error {
	if err == nil {
		return nil
	}
	return fmt.Errorf("register webhook configuration %T %s: %w", obj, obj.GetName(), err)
}

func (r *Registrar) clientConfig(p string, caBundle []byte) admissionregistrationv1.WebhookClientConfig {
	cc := admissionregistrationv1.WebhookClientConfig{CABundle: caBundle}
	if r.Endpoint.Service != nil {
		svc := *r.Endpoint.Service
		svc.Path = ptr.To(p)
		cc.Service = &svc
		return cc
	}
	cc.URL = ptr.To(strings.TrimSuffix(r.Endpoint.URL, "/") + p)
	return cc
}

func rules(plural string) []admissionregistrationv1.RuleWithOperations {
	return []admissionregistrationv1.RuleWithOperations{{
		Operations: []admissionregistrationv1.OperationType{admissionregistrationv1.Create, admissionregistrationv1.Update},
		Rule: admissionregistrationv1.Rule{
			APIGroups: []string{v2beta1.GroupVersion.Group}, APIVersions: []string{v2beta1.GroupVersion.Version},
			Resources: []string{plural}, Scope: ptr.To(admissionregistrationv1.AllScopes),
		},
	}}
}

// patchCABundle writes caBundle into every webhook of the two existing
// configurations; it fails when one is missing, since then nothing would
// call the webhooks.
func (r *Registrar) patchCABundle(ctx context.Context, caBundle []byte) error {
	validating := &admissionregistrationv1.ValidatingWebhookConfiguration{}
	if err := r.Client.Get(ctx, client.ObjectKey{Name: ConfigName}, validating); err != nil {
		return fmt.Errorf("webhook configuration %s (made by the chart when it manages them): %w", ConfigName, err)
	}
	patch := client.MergeFrom(validating.DeepCopy())
	for i := range validating.Webhooks {
		validating.Webhooks[i].ClientConfig.CABundle = caBundle
	}
	if err := r.Client.Patch(ctx, validating, patch); err != nil {
		return wrapRegister(validating, err)
	}
	mutating := &admissionregistrationv1.MutatingWebhookConfiguration{}
	if err := r.Client.Get(ctx, client.ObjectKey{Name: ConfigName}, mutating); err != nil {
		return fmt.Errorf("webhook configuration %s (made by the chart when it manages them): %w", ConfigName, err)
	}
	patch = client.MergeFrom(mutating.DeepCopy())
	for i := range mutating.Webhooks {
		mutating.Webhooks[i].ClientConfig.CABundle = caBundle
	}
	return wrapRegister(mutating, r.Client.Patch(ctx, mutating, patch))
}
