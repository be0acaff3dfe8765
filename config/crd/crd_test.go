// Package crd_test checks the generated CRD manifests against the API that
// users see (API.md §1): kinds, scope, short names and printer columns.
package crd_test

import (
	"os"
	"path/filepath"
	"testing"

	"github.com/google/go-cmp/cmp"
	apiextensionsv1 "k8s.io/apiextensions-apiserver/pkg/apis/apiextensions/v1"
	"sigs.k8s.io/yaml"
)

type column struct {
	Name string
	Path string
	Wide bool
}

type kindWant struct {
	file      string
	kind      string
	scope     apiextensionsv1.ResourceScope
	short     []string
	columns   []column
	hasStatus bool
}

var wants = []kindWant{
	{
		file: "spiderpool.spidernet.io_spiderippools.yaml", kind: "SpiderIPPool",
		scope: apiextensionsv1.ClusterScoped, short: []string{"sp"}, hasStatus: true,
		columns: []column{
			{"VERSION", ".spec.ipVersion", false},
			{"SUBNET", ".spec.subnet", false},
			{"ALLOCATED-IP-COUNT", ".status.allocatedIPCount", false},
			{"TOTAL-IP-COUNT", ".status.totalIPCount", false},
			{"DEFAULT", ".spec.default", false},
			{"DISABLE", ".spec.disable", true},
			{"NODENAME", ".spec.nodeName", true},
			{"MULTUSNAME", ".spec.multusName", true},
			{"APP-NAMESPACE", ".spec.namespaceName", true},
		},
	},
	{
		file: "spiderpool.spidernet.io_spidersubnets.yaml", kind: "SpiderSubnet",
		scope: apiextensionsv1.ClusterScoped, short: []string{"ss"}, hasStatus: true,
		columns: []column{
			{"VERSION", ".spec.ipVersion", false},
			{"SUBNET", ".spec.subnet", false},
			{"ALLOCATED-IP-COUNT", ".status.allocatedIPCount", false},
			{"TOTAL-IP-COUNT", ".status.totalIPCount", false},
		},
	},
	{
		file: "spiderpool.spidernet.io_spiderreservedips.yaml", kind: "SpiderReservedIP",
		scope: apiextensionsv1.ClusterScoped, short: []string{"sr"},
		columns: []column{{"VERSION", ".spec.ipVersion", false}},
	},
	{
		// No status subresource on purpose: the agent writes the whole
		// endpoint in one create (two API writes per pod start).
		file: "spiderpool.spidernet.io_spiderendpoints.yaml", kind: "SpiderEndpoint",
		scope: apiextensionsv1.NamespaceScoped, short: []string{"se"},
		columns: []column{
			{"INTERFACE", ".status.current.ips[0].interface", false},
			{"IPV4POOL", ".status.current.ips[0].ipv4Pool", false},
			{"IPV4", ".status.current.ips[0].ipv4", false},
			{"IPV6POOL", ".status.current.ips[0].ipv6Pool", false},
			{"IPV6", ".status.current.ips[0].ipv6", false},
			{"NODE", ".status.current.node", false},
		},
	},
	{
		file: "spiderpool.spidernet.io_spidermultusconfigs.yaml", kind: "SpiderMultusConfig",
		scope: apiextensionsv1.NamespaceScoped, short: []string{"smc"},
	},
	{
		// The cluster's one coordinator configuration; the controller
		// writes its status.
		file: "spiderpool.spidernet.io_spidercoordinators.yaml", kind: "SpiderCoordinator",
		scope: apiextensionsv1.ClusterScoped, short: []string{"scc"}, hasStatus: true,
		columns: []column{
			{"MODE", ".spec.mode", false},
			{"PHASE", ".status.phase", false},
			{"SERVICECIDR", ".status.serviceCIDR", false},
			{"AGE", ".metadata.creationTimestamp", false},
		},
	},
	{
		// ipkeeper's own state: one claim per allocated address.
		file: "ipkeeper.io_ipclaims.yaml", kind: "IPClaim",
		scope: apiextensionsv1.ClusterScoped, short: []string{"ipc"},
		columns: []column{
			{"ADDRESS", ".spec.address", false},
			{"POOL", ".spec.pool", false},
			{"NAMESPACE", ".spec.holder.namespace", false},
			{"POD", ".spec.holder.name", false},
			{"INTERFACE", ".spec.holder.interface", false},
			{"NODE", ".spec.node", false},
			{"OWNER", ".spec.owner.kind", true},
			{"CONFLICT-MAC", ".spec.quarantine.hardwareAddress", true},
			{"AGE", ".metadata.creationTimestamp", false},
		},
	},
	{
		file: "k8s.cni.cncf.io_network-attachment-definitions.yaml", kind: "NetworkAttachmentDefinition",
		scope: apiextensionsv1.NamespaceScoped, short: []string{"net-attach-def"},
	},
}

func TestGeneratedCRDsMatchAPI(t *testing.T) {
	for _, w := range wants {
		t.Run(w.kind, func(t *testing.T) {
			crd := readCRD(t, w.file)
			if crd.Spec.Names.Kind != w.kind {
				t.Errorf("kind = %q, want %q", crd.Spec.Names.Kind, w.kind)
			}
			if crd.Spec.Scope != w.scope {
				t.Errorf("scope = %q, want %q", crd.Spec.Scope, w.scope)
			}
			if diff := cmp.Diff(w.short, crd.Spec.Names.ShortNames); diff != "" {
				t.Errorf("short names (-want +got):\n%s", diff)
			}
			if len(crd.Spec.Versions) != 1 {
				t.Fatalf("got %d versions, want 1", len(crd.Spec.Versions))
			}
			v := crd.Spec.Versions[0]
			if diff := cmp.Diff(w.columns, columnsOf(v)); diff != "" {
				t.Errorf("printer columns (-want +got):\n%s", diff)
			}
			gotStatus := v.Subresources != nil && v.Subresources.Status != nil
			if gotStatus != w.hasStatus {
				t.Errorf("status subresource = %v, want %v", gotStatus, w.hasStatus)
			}
		})
	}
}

func TestEveryGeneratedCRDIsChecked(t *testing.T) {
	files, err := filepath.Glob("bases/*.yaml")
	if err != nil {
		t.Fatal(err)
	}
	checked := map[string]bool{}
	for _, w := range wants {
		checked[w.file] = true
	}
	for _, f := range files {
		if !checked[filepath.Base(f)] {
			t.Errorf("%s is generated but not checked against API.md", f)
		}
	}
	if len(files) != len(wants) {
		t.Errorf("found %d CRD files, want %d", len(files), len(wants))
	}
}

func readCRD(t *testing.T, file string) *apiextensionsv1.CustomResourceDefinition {
	t.Helper()
	data, err := os.ReadFile(filepath.Join("bases", file))
	if err != nil {
		t.Fatal(err)
	}
	var crd apiextensionsv1.CustomResourceDefinition
	if err := yaml.UnmarshalStrict(data, &crd); err != nil {
		t.Fatalf("parse %s: %v", file, err)
	}
	return &crd
}

func columnsOf(v apiextensionsv1.CustomResourceDefinitionVersion) []column {
	var cols []column
	for _, c := range v.AdditionalPrinterColumns {
		cols = append(cols, column{Name: c.Name, Path: c.JSONPath, Wide: c.Priority > 0})
	}
	return cols
}
