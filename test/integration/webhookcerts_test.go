//go:build integration

package integration

import (
	"bytes"
	"context"
	"crypto/x509"
	"testing"
	"time"

	corev1 "k8s.io/api/core/v1"
	"sigs.k8s.io/controller-runtime/pkg/client"

	ipkwebhook "github.com/ipkeeper/ipkeeper/internal/webhook"
)

// The webhook's self-managed certificate lives in a Secret, is renewed when
// too little validity is left, and every renewal hands the new CA to the
// registration.
func TestIntegrationWebhookCertificateRotation(t *testing.T) {
	ctx := t.Context()
	key := client.ObjectKey{Namespace: "default", Name: "certs-rotation"}
	var bundles [][]byte
	m := &ipkwebhook.CertManager{
		Client: env.client, Secret: key, Hosts: []string{"127.0.0.1", "ipkeeper.example"},
		Validity: 2 * time.Hour, RenewBefore: time.Hour, CheckInterval: time.Hour,
		OnCA: func(_ context.Context, ca []byte) error { bundles = append(bundles, ca); return nil },
	}
	if err := m.Ensure(ctx); err != nil {
		t.Fatal(err)
	}
	first := secretCert(t, key)
	leaf, err := m.GetCertificate(nil)
	if err != nil {
		t.Fatal(err)
	}
	served, _ := x509.ParseCertificate(leaf.Certificate[0])
	if served.VerifyHostname("127.0.0.1") != nil || served.VerifyHostname("ipkeeper.example") != nil {
		t.Fatalf("certificate names %v %v, want 127.0.0.1 and ipkeeper.example", served.IPAddresses, served.DNSNames)
	}
	// A second replica loading the same Secret serves the same certificate.
	other := &ipkwebhook.CertManager{Client: env.client, Secret: key, Hosts: m.Hosts, Validity: m.Validity, RenewBefore: m.RenewBefore}
	if err := other.Ensure(ctx); err != nil {
		t.Fatal(err)
	}
	if !bytes.Equal(secretCert(t, key), first) || len(bundles) != 1 {
		t.Fatalf("a second Ensure within validity changed the certificate or the CA (%d bundles)", len(bundles))
	}

	// Less validity left than RenewBefore: renewed, and the new CA registered.
	m.RenewBefore = 3 * time.Hour
	if err := m.Ensure(ctx); err != nil {
		t.Fatal(err)
	}
	if bytes.Equal(secretCert(t, key), first) {
		t.Fatal("certificate not renewed")
	}
	if len(bundles) != 2 || bytes.Equal(bundles[0], bundles[1]) {
		t.Fatalf("%d CA bundles registered, want a second, different one", len(bundles))
	}
}

func secretCert(t *testing.T, key client.ObjectKey) []byte {
	t.Helper()
	var s corev1.Secret
	if err := env.client.Get(t.Context(), key, &s); err != nil {
		t.Fatal(err)
	}
	return s.Data["tls.crt"]
}
