package webhook

import (
	"context"
	"crypto/tls"
	"errors"
	"fmt"
	"os"
	"strings"
	"time"

	admissionregistrationv1 "k8s.io/api/admissionregistration/v1"
	"k8s.io/utils/ptr"
	"sigs.k8s.io/controller-runtime/pkg/client"
)

// ServingOptions say how the API server reaches the webhooks and which
// certificates they serve.
type ServingOptions struct {
	// URL is the base URL the API server calls, e.g. https://127.0.0.1:9443
	// (the local cluster); empty means Service.
	URL string
	// Service is "namespace/name:port" of the webhook Service.
	Service string
	// CertSecret is "namespace/name" of the Secret holding the self-managed
	// CA and serving certificate, shared by all replicas.
	CertSecret string
	// CertHosts are the names and addresses the self-managed certificate is
	// valid for.
	CertHosts []string
	// CertDir, when set, serves provided certificates (tls.crt, tls.key) from
	// this directory instead, with CAFile as the CA bundle to register.
	CertDir, CAFile string
}

// Serving registers the webhook configurations with the API server and
// returns the webhook server's TLS options: self-managed certificates (the
// default; certs is then the runnable that renews them and must be added to
// the manager) or provided ones.
func Serving(ctx context.Context, c client.Client, o ServingOptions) (tlsOpts []func(*tls.Config), certs *CertManager, err error) {
	reg := &Registrar{Client: c}
	if o.URL != "" {
		reg.Endpoint.URL = o.URL
	} else {
		svc, err := parseService(o.Service)
		if err != nil {
			return nil, nil, err
		}
		reg.Endpoint.Service = svc
	}
	if o.CertDir != "" {
		ca, err := os.ReadFile(o.CAFile)
		if err != nil {
			return nil, nil, fmt.Errorf("read the CA bundle of provided certificates: %w", err)
		}
		return nil, nil, reg.Apply(ctx, ca)
	}
	ns, name, ok := strings.Cut(o.CertSecret, "/")
	if !ok {
		return nil, nil, fmt.Errorf("certificate secret %q: want namespace/name", o.CertSecret)
	}
	certs = &CertManager{
		Client: c, Secret: client.ObjectKey{Namespace: ns, Name: name}, Hosts: o.CertHosts,
		Validity: 365 * 24 * time.Hour, RenewBefore: 30 * 24 * time.Hour, CheckInterval: time.Hour, OnCA: reg.Apply,
	}
	if err := certs.Ensure(ctx); err != nil {
		return nil, nil, err
	}
	return []func(*tls.Config){func(t *tls.Config) { t.GetCertificate = certs.GetCertificate }}, certs, nil
}

func parseService(s string) (*admissionregistrationv1.ServiceReference, error) {
	ns, rest, ok := strings.Cut(s, "/")
	if !ok {
		return nil, errors.New("webhook service: want namespace/name:port")
	}
	name, port, _ := strings.Cut(rest, ":")
	ref := &admissionregistrationv1.ServiceReference{Namespace: ns, Name: name}
	if port != "" {
		var p int32
		if _, err := fmt.Sscan(port, &p); err != nil {
			return nil, fmt.Errorf("webhook service port %q: %w", port, err)
		}
		ref.Port = ptr.To(p)
	}
	return ref, nil
}
