//go:build e2e

package chart

import (
	"os"
	"path/filepath"
	"testing"

	"github.com/ipkeeper/ipkeeper/test/framework"
)

// foreignCRDs stand in for the CRDs of cert-manager (Issuer, Certificate)
// and the Prometheus Operator (ServiceMonitor, PrometheusRule), which the local cluster does
// not run: they admit any object of those kinds, so the dry run checks
// everything else of the profiles that render them. Multus's
// NetworkAttachmentDefinition CRD comes with the cluster (config/crd/bases).
const foreignCRDs = `
apiVersion: apiextensions.k8s.io/v1
kind: CustomResourceDefinition
metadata: {name: issuers.cert-manager.io}
spec:
  group: cert-manager.io
  scope: Namespaced
  names: {kind: Issuer, plural: issuers, singular: issuer, listKind: IssuerList}
  versions:
    - {name: v1, served: true, storage: true, schema: {openAPIV3Schema: {type: object, x-kubernetes-preserve-unknown-fields: true}}}
---
apiVersion: apiextensions.k8s.io/v1
kind: CustomResourceDefinition
metadata: {name: certificates.cert-manager.io}
spec:
  group: cert-manager.io
  scope: Namespaced
  names: {kind: Certificate, plural: certificates, singular: certificate, listKind: CertificateList}
  versions:
    - {name: v1, served: true, storage: true, schema: {openAPIV3Schema: {type: object, x-kubernetes-preserve-unknown-fields: true}}}
---
apiVersion: apiextensions.k8s.io/v1
kind: CustomResourceDefinition
metadata: {name: servicemonitors.monitoring.coreos.com}
spec:
  group: monitoring.coreos.com
  scope: Namespaced
  names: {kind: ServiceMonitor, plural: servicemonitors, singular: servicemonitor, listKind: ServiceMonitorList}
  versions:
    - {name: v1, served: true, storage: true, schema: {openAPIV3Schema: {type: object, x-kubernetes-preserve-unknown-fields: true}}}
---
apiVersion: apiextensions.k8s.io/v1
kind: CustomResourceDefinition
metadata: {name: prometheusrules.monitoring.coreos.com}
spec:
  group: monitoring.coreos.com
  scope: Namespaced
  names: {kind: PrometheusRule, plural: prometheusrules, singular: prometheusrule, listKind: PrometheusRuleList}
  versions:
    - {name: v1, served: true, storage: true, schema: {openAPIV3Schema: {type: object, x-kubernetes-preserve-unknown-fields: true}}}
`

// TestServerDryRun applies every profile's manifests, CRDs included, with
// kubectl apply --dry-run=server to a real kube-apiserver (control plane
// only): the API server's validation, defaulting and RBAC checks (a role may
// not grant what its creator lacks) run, nothing is stored.
func TestServerDryRun(t *testing.T) {
	env := framework.Start(t, framework.Options{})
	dir := t.TempDir()
	crds := filepath.Join(dir, "foreign-crds.yaml")
	if err := os.WriteFile(crds, []byte(foreignCRDs), 0o600); err != nil {
		t.Fatal(err)
	}
	env.RunKubectl(t, "apply", "-f", crds)
	env.RunKubectl(t, "wait", "--for=condition=Established", "--timeout=60s", "-f", crds)

	for _, p := range profiles(t) {
		t.Run(p.name, func(t *testing.T) {
			manifest := template(t, append([]string{"--include-crds"}, p.args...)...)
			file := filepath.Join(dir, p.name+".yaml")
			if err := os.WriteFile(file, []byte(manifest), 0o600); err != nil {
				t.Fatal(err)
			}
			out := env.RunKubectl(t, "apply", "--dry-run=server", "-f", file)
			t.Logf("%s (%d bytes):\n%s", p.name, len(manifest), out)
		})
	}
}
