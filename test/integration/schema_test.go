//go:build integration

package integration

import (
	"context"
	"strings"
	"testing"

	admissionregistrationv1 "k8s.io/api/admissionregistration/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/utils/ptr"
	"sigs.k8s.io/controller-runtime/pkg/client"

	"github.com/ipkeeper/ipkeeper/api/v2beta1"
)

// The CRD schema refuses malformed address entries by itself: the webhook
// runs only while the controller does, and a SpiderReservedIP whose entries
// nobody checked could leave its good addresses unreserved. No webhook is
// registered during this test; every refusal is the API server's, naming the
// field and the value. What Spiderpool's manifests (the seeds) write is
// accepted.
func TestIntegrationSchemaRefusesMalformedEntriesWithoutTheWebhook(t *testing.T) {
	ctx := t.Context()
	for _, name := range []string{"ipkeeper"} {
		err := env.client.Get(ctx, client.ObjectKey{Name: name}, &admissionregistrationv1.ValidatingWebhookConfiguration{})
		if !apierrors.IsNotFound(err) {
			t.Fatalf("validating webhook configuration %s: %v; want none, so that only the schema answers", name, err)
		}
	}
	reserved := func(name string, ips ...string) *v2beta1.SpiderReservedIP {
		return &v2beta1.SpiderReservedIP{ObjectMeta: metav1.ObjectMeta{Name: name}, Spec: v2beta1.SpiderReservedIPSpec{IPs: ips}}
	}
	subnet := func(name, cidr string, ips ...string) *v2beta1.SpiderSubnet {
		return &v2beta1.SpiderSubnet{ObjectMeta: metav1.ObjectMeta{Name: name}, Spec: v2beta1.SpiderSubnetSpec{Subnet: cidr, IPs: ips}}
	}
	refusedCases := []struct {
		name string
		obj  client.Object
		want []string
	}{
		{"reserved: one typo among good entries", reserved("schema-sr-typo", "10.6.168.131", "10.6.168.x"),
			[]string{"spec.ips[1]", `"10.6.168.x"`, "should match"}},
		{"reserved: a CIDR", reserved("schema-sr-cidr", "10.6.168.0/24"), []string{"spec.ips[0]", `"10.6.168.0/24"`}},
		{"reserved: spaces around the dash", reserved("schema-sr-space", "10.6.168.131 - 10.6.168.133"), []string{"spec.ips[0]", "10.6.168.131 - 10.6.168.133"}},
		{"reserved: an empty entry", reserved("schema-sr-empty", ""), []string{"spec.ips[0]", `""`}},
		{"reserved: a range with no end", reserved("schema-sr-open", "fd00::1-"), []string{"spec.ips[0]", `"fd00::1-"`}},
		{"reserved: too long", reserved("schema-sr-long", "10.6.168.131-"+strings.Repeat("0", 80)+"10.6.168.133"),
			[]string{"spec.ips[0]", "Too long", "91"}},
		{"pool: garbage in ips", ipPool("schema-pool-ips", "10.70.0.0/16", "10.70.0.1", "garbage"), []string{"spec.ips[1]", `"garbage"`}},
		{"pool: garbage in excludeIPs", func() client.Object {
			p := ipPool("schema-pool-ex", "10.70.0.0/16", "10.70.0.1-10.70.0.9")
			p.Spec.ExcludeIPs = []string{"10.70.0.2,10.70.0.3"}
			return p
		}(), []string{"spec.excludeIPs[0]", `"10.70.0.2,10.70.0.3"`}},
		{"pool: subnet not a CIDR", ipPool("schema-pool-sub", "10.70.0.0", "10.70.0.1"), []string{"spec.subnet", "subnet must be a CIDR"}},
		{"pool: gateway not an address", func() client.Object {
			p := ipPool("schema-pool-gw", "10.70.0.0/16", "10.70.0.1")
			p.Spec.Gateway = ptr.To("10.70.0.256")
			return p
		}(), []string{"spec.gateway", "gateway must be an IP address"}},
		{"subnet: garbage in ips", subnet("schema-subnet-ips", "10.71.0.0/16", "10.71.0.1--10.71.0.5"), []string{"spec.ips[0]", `"10.71.0.1--10.71.0.5"`}},
		{"subnet: garbage in excludeIPs", func() client.Object {
			s := subnet("schema-subnet-ex", "10.71.0.0/16", "10.71.0.1-10.71.0.5")
			s.Spec.ExcludeIPs = []string{"ten"}
			return s
		}(), []string{"spec.excludeIPs[0]", `"ten"`}},
	}
	const smcNS = "schema-smc"
	namespace(t, smcNS)
	smc := func(name string, mutate func(*v2beta1.SpiderMultusConfigSpec)) *v2beta1.SpiderMultusConfig {
		o := &v2beta1.SpiderMultusConfig{ObjectMeta: metav1.ObjectMeta{Namespace: smcNS, Name: name},
			Spec: v2beta1.SpiderMultusConfigSpec{CNIType: v2beta1.CNITypeMacvlan, Macvlan: &v2beta1.MasterNICConfig{Master: []string{"ens192"}}}}
		mutate(&o.Spec)
		return o
	}
	refusedCases = append(refusedCases, []struct {
		name string
		obj  client.Object
		want []string
	}{
		{"multus config: unknown cniType", smc("schema-smc-type", func(s *v2beta1.SpiderMultusConfigSpec) { s.CNIType = "bridge" }),
			[]string{"spec.cniType", `"bridge"`, "supported values"}},
		{"multus config: VLAN out of range", smc("schema-smc-vlan", func(s *v2beta1.SpiderMultusConfigSpec) { s.Macvlan.VlanID = ptr.To(int32(5000)) }),
			[]string{"spec.macvlan.vlanID", "5000", "4094"}},
		{"multus config: macvlan without a master", smc("schema-smc-master", func(s *v2beta1.SpiderMultusConfigSpec) { s.Macvlan = nil }),
			[]string{"spec", "macvlan.master is required when cniType is macvlan"}},
	}...)
	for _, tc := range refusedCases {
		t.Run(tc.name, func(t *testing.T) {
			err := env.client.Create(ctx, tc.obj)
			refused(t, err, tc.want...)
			if err != nil && !apierrors.IsInvalid(err) {
				t.Errorf("refusal %v is not the schema's Invalid", err)
			}
			t.Logf("refused: %v", err)
		})
	}
	// Every form Spiderpool's manifests use, and the other family's, passes.
	accepted := []client.Object{
		reserved("schema-sr-seed", "10.6.168.131-10.6.168.133"),
		reserved("schema-sr-v6", "fd00:10:6::131", "fd00:10:6::140-fd00:10:6::14f", "64:ff9b::10.6.168.1"),
		ipPool("schema-pool-seed", "10.72.0.0/16", "10.72.168.101-10.72.168.110", "10.72.168.120"),
		ipPool("schema-pool-v6", "fd00:72::/64", "fd00:72::1-fd00:72::ffff"),
		subnet("schema-subnet-seed", "10.73.0.0/16", "10.73.120.10-10.73.120.20"),
	}
	for _, obj := range accepted {
		if err := env.client.Create(ctx, obj); err != nil {
			t.Errorf("create %T %s: %v; want it accepted", obj, obj.GetName(), err)
			continue
		}
		t.Cleanup(func() { _ = env.client.Delete(context.Background(), obj) })
	}
}
