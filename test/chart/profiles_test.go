//go:build e2e

package chart

import (
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/base64"
	"encoding/pem"
	"math/big"
	"testing"
	"time"
)

// profile is a set of values a user installs with.
type profile struct {
	name string
	args []string
}

// profiles are the installs the tests render, lint and dry-run. certs are
// the provided profile's certificate, key and CA (base64 of PEM).
func profiles(t testing.TB) []profile {
	cert, key := selfSigned(t)
	return []profile{
		{name: "default"},
		{name: "dual-stack", args: []string{
			"--set", "ipam.enableIPv6=true",
			"--set", "clusterDefaultPool.installIPv4IPPool=true",
			"--set", "clusterDefaultPool.ipv4Subnet=10.6.0.0/16",
			"--set", "clusterDefaultPool.ipv4IPRanges={10.6.168.101-10.6.168.200}",
			"--set", "clusterDefaultPool.ipv4Gateway=10.6.0.1",
			"--set", "clusterDefaultPool.installIPv6IPPool=true",
			"--set", "clusterDefaultPool.ipv6Subnet=fd00:10:6::/64",
			"--set", "clusterDefaultPool.ipv6IPRanges={fd00:10:6::101-fd00:10:6::200}",
			"--set", "clusterDefaultPool.ipv6Gateway=fd00:10:6::1",
		}},
		{name: "statefulset-off", args: []string{"--set", "ipam.enableStatefulSet=false"}},
		{name: "subnet-off", args: []string{"--set", "ipam.spiderSubnet.enable=false"}},
		{name: "detection", args: []string{
			"--set", "ipam.enableIPConflictDetection=true", "--set", "ipam.ipConflictDetectionTimeoutMs=300",
			"--set", "ipam.enableGatewayDetection=true", "--set", "ipam.gatewayDetectionTimeoutMs=1500",
		}},
		{name: "provided-tls", args: []string{
			"--set", "spiderpoolController.tls.method=provided",
			"--set", "spiderpoolController.tls.provided.tlsCert=" + cert,
			"--set", "spiderpoolController.tls.provided.tlsKey=" + key,
			"--set", "spiderpoolController.tls.provided.tlsCa=" + cert,
			"--set", "spiderpoolController.webhookConfigurations.managedByChart=true",
		}},
		{name: "cert-manager", args: []string{
			"--set", "spiderpoolController.tls.method=certmanager",
			"--set", "spiderpoolController.webhookConfigurations.managedByChart=true",
		}},
		{name: "metrics-no-kube-proxy", args: []string{
			"--set", "spiderpoolAgent.prometheus.enabled=true",
			"--set", "spiderpoolAgent.prometheus.serviceMonitor.install=true",
			"--set", "spiderpoolController.prometheus.enabled=true",
			"--set", "spiderpoolController.prometheus.serviceMonitor.install=true",
			"--set", "spiderpoolController.prometheus.prometheusRule.install=true",
			"--set", "spiderpoolController.hostnetwork=false",
			"--set", "k8sServiceHost=192.0.2.10",
			"--set", "k8sServicePort=6443",
		}},
	}
}

// selfSigned returns base64 of a PEM certificate for the webhook Service and
// of its key: the provided profile's certificate is its own CA.
func selfSigned(t testing.TB) (cert, key string) {
	t.Helper()
	k, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	tmpl := &x509.Certificate{
		SerialNumber: big.NewInt(1), Subject: pkix.Name{CommonName: "ipkeeper-controller.kube-system.svc"},
		DNSNames:  []string{"ipkeeper-controller.kube-system.svc"},
		NotBefore: time.Now().Add(-time.Hour), NotAfter: time.Now().Add(24 * time.Hour),
		IsCA: true, BasicConstraintsValid: true,
		KeyUsage: x509.KeyUsageDigitalSignature | x509.KeyUsageCertSign, ExtKeyUsage: []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth},
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, &k.PublicKey, k)
	if err != nil {
		t.Fatal(err)
	}
	keyDER, err := x509.MarshalECPrivateKey(k)
	if err != nil {
		t.Fatal(err)
	}
	enc := func(typ string, b []byte) string {
		return base64.StdEncoding.EncodeToString(pem.EncodeToMemory(&pem.Block{Type: typ, Bytes: b}))
	}
	return enc("CERTIFICATE", der), enc("EC PRIVATE KEY", keyDER)
}

func profileArgs(t testing.TB, name string) []string {
	t.Helper()
	for _, p := range profiles(t) {
		if p.name == name {
			return p.args
		}
	}
	t.Fatalf("no profile %q", name)
	return nil
}
