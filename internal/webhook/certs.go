package webhook

import (
	"bytes"
	"context"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/tls"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/pem"
	"errors"
	"fmt"
	"math/big"
	"net"
	"sync/atomic"
	"time"

	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/util/wait"
	"sigs.k8s.io/controller-runtime/pkg/client"
	"sigs.k8s.io/controller-runtime/pkg/log"
)

// Keys of the certificate Secret.
const (
	keyCACert  = "ca.crt"
	keyCAKey   = "ca.key"
	keyTLSCert = "tls.crt"
	keyTLSKey  = "tls.key"
)

// CertManager keeps the webhook's serving certificate in a Secret and serves
// it; it renews the CA and certificate when less than RenewBefore of their
// validity is left. Every replica runs one: the Secret is the shared truth,
// written with optimistic concurrency.
type CertManager struct {
	Client client.Client
	// Secret is where the CA and serving certificate live.
	Secret client.ObjectKey
	// Hosts are the DNS names and IP addresses the certificate is valid for.
	Hosts []string
	// Validity of a new certificate, and how long before expiry to renew.
	Validity, RenewBefore time.Duration
	// CheckInterval is how often the Secret is re-read.
	CheckInterval time.Duration
	// OnCA is called with the CA bundle whenever it is loaded or changes.
	OnCA func(ctx context.Context, caPEM []byte) error

	current atomic.Pointer[tls.Certificate]
	ca      atomic.Pointer[[]byte]
}

// GetCertificate serves the current certificate (tls.Config.GetCertificate).
func (m *CertManager) GetCertificate(*tls.ClientHelloInfo) (*tls.Certificate, error) {
	c := m.current.Load()
	if c == nil {
		return nil, errors.New("webhook certificate not loaded yet")
	}
	return c, nil
}

// Ensure loads the certificate, creating or renewing it when needed. Start
// calls it on every tick; main calls it once before serving.
func (m *CertManager) Ensure(ctx context.Context) error {
	sec := &corev1.Secret{}
	err := m.Client.Get(ctx, m.Secret, sec)
	if apierrors.IsNotFound(err) {
		sec, err = m.create(ctx)
	}
	if err != nil {
		return fmt.Errorf("webhook certificate secret %s: %w", m.Secret, err)
	}
	if m.needsRenewal(sec) {
		if sec, err = m.renew(ctx, sec); err != nil {
			return fmt.Errorf("renew webhook certificate: %w", err)
		}
	}
	return m.load(ctx, sec)
}

// Start re-checks the Secret every CheckInterval until ctx ends.
func (m *CertManager) Start(ctx context.Context) error {
	wait.UntilWithContext(ctx, func(ctx context.Context) {
		if err := m.Ensure(ctx); err != nil {
			log.FromContext(ctx).Error(err, "Webhook certificate check failed")
		}
	}, m.CheckInterval)
	return nil
}

// NeedLeaderElection is false: every replica serves the webhook.
func (m *CertManager) NeedLeaderElection() bool { return false }

func (m *CertManager) create(ctx context.Context) (*corev1.Secret, error) {
	data, err := m.issue()
	if err != nil {
		return nil, err
	}
	sec := &corev1.Secret{ObjectMeta: metav1.ObjectMeta{Namespace: m.Secret.Namespace, Name: m.Secret.Name}, Type: corev1.SecretTypeTLS, Data: data}
	err = m.Client.Create(ctx, sec)
	if apierrors.IsAlreadyExists(err) {
		// Another replica won; use its certificate.
		err = m.Client.Get(ctx, m.Secret, sec)
	}
	return sec, err
}

func (m *CertManager) renew(ctx context.Context, sec *corev1.Secret) (*corev1.Secret, error) {
	data, err := m.issue()
	if err != nil {
		return nil, err
	}
	updated := sec.DeepCopy()
	updated.Data = data
	if err := m.Client.Update(ctx, updated); err != nil {
		if apierrors.IsConflict(err) {
			// Another replica renewed it first.
			return sec, m.Client.Get(ctx, m.Secret, sec)
		}
		return nil, err
	}
	log.FromContext(ctx).Info("Renewed webhook certificate", "secret", m.Secret)
	return updated, nil
}

func (m *CertManager) needsRenewal(sec *corev1.Secret) bool {
	for _, key := range []string{keyCACert, keyTLSCert} {
		cert, err := parseCert(sec.Data[key])
		if err != nil || time.Until(cert.NotAfter) < m.RenewBefore {
			return true
		}
	}
	_, err := tls.X509KeyPair(sec.Data[keyTLSCert], sec.Data[keyTLSKey])
	return err != nil
}

func (m *CertManager) load(ctx context.Context, sec *corev1.Secret) error {
	pair, err := tls.X509KeyPair(sec.Data[keyTLSCert], sec.Data[keyTLSKey])
	if err != nil {
		return fmt.Errorf("parse webhook key pair: %w", err)
	}
	m.current.Store(&pair)
	ca := sec.Data[keyCACert]
	if old := m.ca.Load(); old != nil && bytes.Equal(*old, ca) {
		return nil
	}
	if m.OnCA != nil {
		if err := m.OnCA(ctx, ca); err != nil {
			return err
		}
	}
	m.ca.Store(&ca)
	return nil
}

// issue makes a new CA and a serving certificate signed by it.
func (m *CertManager) issue() (map[string][]byte, error) {
	caKey, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		return nil, err
	}
	now := time.Now()
	caTmpl := &x509.Certificate{
		SerialNumber: serial(), Subject: pkix.Name{CommonName: "ipkeeper-webhook-ca"},
		NotBefore: now.Add(-time.Hour), NotAfter: now.Add(m.Validity),
		IsCA: true, BasicConstraintsValid: true, KeyUsage: x509.KeyUsageCertSign | x509.KeyUsageDigitalSignature,
	}
	caDER, err := x509.CreateCertificate(rand.Reader, caTmpl, caTmpl, &caKey.PublicKey, caKey)
	if err != nil {
		return nil, err
	}
	caCert, _ := x509.ParseCertificate(caDER)
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		return nil, err
	}
	tmpl := &x509.Certificate{
		SerialNumber: serial(), Subject: pkix.Name{CommonName: "ipkeeper-webhook"},
		NotBefore: now.Add(-time.Hour), NotAfter: now.Add(m.Validity),
		KeyUsage: x509.KeyUsageDigitalSignature, ExtKeyUsage: []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth},
	}
	for _, h := range m.Hosts {
		if ip := net.ParseIP(h); ip != nil {
			tmpl.IPAddresses = append(tmpl.IPAddresses, ip)
		} else {
			tmpl.DNSNames = append(tmpl.DNSNames, h)
		}
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, caCert, &key.PublicKey, caKey)
	if err != nil {
		return nil, err
	}
	return map[string][]byte{
		keyCACert: pemBlock("CERTIFICATE", caDER), keyCAKey: pemKey(caKey),
		keyTLSCert: pemBlock("CERTIFICATE", der), keyTLSKey: pemKey(key),
	}, nil
}

func serial() *big.Int {
	n, _ := rand.Int(rand.Reader, new(big.Int).Lsh(big.NewInt(1), 126))
	return n
}

func pemBlock(typ string, der []byte) []byte {
	return pem.EncodeToMemory(&pem.Block{Type: typ, Bytes: der})
}

func pemKey(k *ecdsa.PrivateKey) []byte {
	der, _ := x509.MarshalECPrivateKey(k)
	return pemBlock("EC PRIVATE KEY", der)
}

func parseCert(data []byte) (*x509.Certificate, error) {
	block, _ := pem.Decode(data)
	if block == nil {
		return nil, errors.New("no PEM certificate")
	}
	return x509.ParseCertificate(block.Bytes)
}
