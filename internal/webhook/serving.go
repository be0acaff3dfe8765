package webhook

import (
	"bytes"
	"context"
	"crypto/tls"
	"errors"
	"fmt"
	"os"
	"strings"
	"time"

	admissionregistrationv1 "k8s.io/api/admissionregistration/v1"
	"k8s.io/apimachinery/pkg/util/wait"
	"k8s.io/utils/ptr"
	ctrl "sigs.k8s.io/controller-runtime"
	"sigs.k8s.io/controller-runtime/pkg/client"
	"sigs.k8s.io/controller-runtime/pkg/manager"
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
	// CABundleOnly only writes the CA bundle into webhook configurations
	// made by someone else (the chart); see Registrar.
	CABundleOnly bool
	// CertDir, when set, serves provided certificates (tls.crt, tls.key) from
	// this directory instead, with CAFile as the CA bundle to register.
	CertDir, CAFile string
	// CAFileCheckInterval is how often CAFile is checked for a renewed CA;
	// zero means every 30 seconds.
	CAFileCheckInterval time.Duration
}

// Serving registers the webhook configurations with the API server and
// returns the webhook server's TLS options and the runnable to add to the
// manager: for self-managed certificates (the default) the CertManager that
// renews them, for provided ones (cert-manager's included) a watcher that
// registers the CA bundle again whenever its file changes, so that a renewed
// CA does not leave the API server distrusting the webhooks until a restart.
func Serving(ctx context.Context, c client.Client, o ServingOptions) (tlsOpts []func(*tls.Config), run manager.Runnable, err error) {
	reg := &Registrar{Client: c, CABundleOnly: o.CABundleOnly}
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
		w := &caFileWatcher{path: o.CAFile, reg: reg, every: o.CAFileCheckInterval}
		if w.every == 0 {
			w.every = 30 * time.Second
		}
		if err := w.apply(ctx); err != nil {
			return nil, nil, err
		}
		return nil, w, nil
	}
	ns, name, ok := strings.Cut(o.CertSecret, "/")
	if !ok {
		return nil, nil, fmt.Errorf("certificate secret %q: want namespace/name", o.CertSecret)
	}
	certs := &CertManager{
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

// caFileWatcher registers the CA bundle of provided certificates again when
// its file changes (the kubelet updates a mounted Secret in place).
type caFileWatcher struct {
	path  string
	reg   *Registrar
	every time.Duration
	last  []byte
}

func (w *caFileWatcher) apply(ctx context.Context) error {
	ca, err := os.ReadFile(w.path)
	if err != nil {
		return fmt.Errorf("read the CA bundle of provided certificates: %w", err)
	}
	if bytes.Equal(ca, w.last) {
		return nil
	}
	if err := w.reg.Apply(ctx, ca); err != nil {
		return err
	}
	w.last = ca
	return nil
}

// Start checks the file every period until ctx ends; a failed check is
// logged and retried at the next one.
func (w *caFileWatcher) Start(ctx context.Context) error {
	wait.UntilWithContext(ctx, func(ctx context.Context) {
		if err := w.apply(ctx); err != nil {
			ctrl.LoggerFrom(ctx).Error(err, "Registering the renewed webhook CA failed", "file", w.path)
		}
	}, w.every)
	return nil
}
