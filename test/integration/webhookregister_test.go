//go:build integration

package integration

import (
	"bytes"
	"context"
	"os"
	"path/filepath"
	"testing"
	"time"

	admissionregistrationv1 "k8s.io/api/admissionregistration/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/util/wait"
	"k8s.io/utils/ptr"
	"sigs.k8s.io/controller-runtime/pkg/client"

	ipkwebhook "github.com/ipkeeper/ipkeeper/internal/webhook"
)

// With chart-owned webhook configurations the controller writes only their
// CA bundle: what the chart rendered (the failure policy, the webhooks) stays,
// and a missing configuration is an error instead of a re-creation.
func TestIntegrationWebhookRegistrarWritesOnlyTheCABundleOfChartOwnedConfigurations(t *testing.T) {
	ctx := t.Context()
	reg := &ipkwebhook.Registrar{Client: env.client, CABundleOnly: true, Endpoint: ipkwebhook.Endpoint{URL: "https://127.0.0.1:1"}}
	if err := reg.Apply(ctx, []byte("ca-1")); err == nil {
		t.Fatal("Apply with no configurations succeeded, want an error naming the missing one")
	}

	// What a chart renders: its own failure policy and labels, no CA yet.
	ignore := admissionregistrationv1.Ignore
	hook := func(name string) admissionregistrationv1.ValidatingWebhook {
		return admissionregistrationv1.ValidatingWebhook{
			Name: name, FailurePolicy: &ignore, SideEffects: ptr.To(admissionregistrationv1.SideEffectClassNone),
			AdmissionReviewVersions: []string{"v1"},
			ClientConfig:            admissionregistrationv1.WebhookClientConfig{URL: ptr.To("https://127.0.0.1:1/" + name)},
		}
	}
	validating := &admissionregistrationv1.ValidatingWebhookConfiguration{
		ObjectMeta: metav1.ObjectMeta{Name: ipkwebhook.ConfigName, Labels: map[string]string{"app.kubernetes.io/managed-by": "Helm"}},
		Webhooks:   []admissionregistrationv1.ValidatingWebhook{hook("a.ipkeeper.io"), hook("b.ipkeeper.io")},
	}
	mutating := &admissionregistrationv1.MutatingWebhookConfiguration{
		ObjectMeta: metav1.ObjectMeta{Name: ipkwebhook.ConfigName},
		Webhooks: []admissionregistrationv1.MutatingWebhook{{
			Name: "m.ipkeeper.io", FailurePolicy: &ignore, SideEffects: ptr.To(admissionregistrationv1.SideEffectClassNone),
			AdmissionReviewVersions: []string{"v1"},
			ClientConfig:            admissionregistrationv1.WebhookClientConfig{URL: ptr.To("https://127.0.0.1:1/m")},
		}},
	}
	for _, o := range []client.Object{validating, mutating} {
		if err := env.client.Create(ctx, o); err != nil {
			t.Fatal(err)
		}
	}
	t.Cleanup(func() {
		_ = env.client.Delete(context.Background(), validating)
		_ = env.client.Delete(context.Background(), mutating)
	})

	if err := reg.Apply(ctx, []byte("ca-2")); err != nil {
		t.Fatal(err)
	}
	gotV := &admissionregistrationv1.ValidatingWebhookConfiguration{}
	gotM := &admissionregistrationv1.MutatingWebhookConfiguration{}
	if err := env.client.Get(ctx, client.ObjectKeyFromObject(validating), gotV); err != nil {
		t.Fatal(err)
	}
	if err := env.client.Get(ctx, client.ObjectKeyFromObject(mutating), gotM); err != nil {
		t.Fatal(err)
	}
	if len(gotV.Webhooks) != 2 || gotV.Labels["app.kubernetes.io/managed-by"] != "Helm" {
		t.Fatalf("validating configuration rewritten: %d webhooks, labels %v", len(gotV.Webhooks), gotV.Labels)
	}
	for _, h := range gotV.Webhooks {
		if !bytes.Equal(h.ClientConfig.CABundle, []byte("ca-2")) || *h.FailurePolicy != ignore {
			t.Errorf("webhook %s: caBundle %q, failurePolicy %s; want ca-2 and the chart's Ignore", h.Name, h.ClientConfig.CABundle, *h.FailurePolicy)
		}
	}
	if h := gotM.Webhooks[0]; len(gotM.Webhooks) != 1 || !bytes.Equal(h.ClientConfig.CABundle, []byte("ca-2")) || *h.FailurePolicy != ignore {
		t.Errorf("mutating configuration: %d webhooks, first %s caBundle %q", len(gotM.Webhooks), h.Name, h.ClientConfig.CABundle)
	}
}

// Provided certificates (cert-manager's among them) are renewed in place in
// the mounted Secret: the controller registers the new CA bundle without a
// restart, or the API server would stop trusting the webhooks.
func TestIntegrationWebhookProvidedCARegisteredAgainWhenItsFileChanges(t *testing.T) {
	dir := t.TempDir()
	caFile := filepath.Join(dir, "ca.crt")
	if err := os.WriteFile(caFile, []byte("ca-old"), 0o600); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		ctx := context.Background()
		_ = env.client.Delete(ctx, &admissionregistrationv1.ValidatingWebhookConfiguration{ObjectMeta: metav1.ObjectMeta{Name: ipkwebhook.ConfigName}})
		_ = env.client.Delete(ctx, &admissionregistrationv1.MutatingWebhookConfiguration{ObjectMeta: metav1.ObjectMeta{Name: ipkwebhook.ConfigName}})
	})
	_, run, err := ipkwebhook.Serving(t.Context(), env.client, ipkwebhook.ServingOptions{
		URL: "https://127.0.0.1:1", CertDir: dir, CAFile: caFile, CAFileCheckInterval: 100 * time.Millisecond,
	})
	if err != nil {
		t.Fatal(err)
	}
	registered := func(ctx context.Context) (string, error) {
		v := &admissionregistrationv1.ValidatingWebhookConfiguration{}
		if err := env.client.Get(ctx, client.ObjectKey{Name: ipkwebhook.ConfigName}, v); err != nil {
			return "", err
		}
		return string(v.Webhooks[0].ClientConfig.CABundle), nil
	}
	if got, err := registered(t.Context()); err != nil || got != "ca-old" {
		t.Fatalf("registered CA %q, %v; want ca-old", got, err)
	}
	ctx, cancel := context.WithCancel(t.Context())
	done := make(chan error, 1)
	go func() { done <- run.Start(ctx) }()
	if err := os.WriteFile(caFile, []byte("ca-new"), 0o600); err != nil {
		t.Fatal(err)
	}
	err = wait.PollUntilContextTimeout(t.Context(), 100*time.Millisecond, 10*time.Second, true, func(ctx context.Context) (bool, error) {
		got, err := registered(ctx)
		return got == "ca-new", err
	})
	cancel()
	if err != nil {
		t.Fatalf("the renewed CA was not registered: %v", err)
	}
	if err := <-done; err != nil {
		t.Fatal(err)
	}
}
