package autopool

import (
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/types"
	"k8s.io/apimachinery/pkg/util/validation"

	"github.com/ipkeeper/ipkeeper/api/v2beta1"
)

func TestPoolName(t *testing.T) {
	const uid = types.UID("452e737e-5e12-4c1d-9b1a-0123456789ab")
	tests := []struct {
		name     string
		family   int
		workload string
		iface    string
		want     string
	}{
		{"seed", 4, "nginx", "eth0", "auto4-nginx-eth0-01234"},
		{"ipv6", 6, "nginx", "net1", "auto6-nginx-net1-01234"},
		{"dots and case", 4, "web.Front", "eth0.100", "auto4-web-front-eth0-100-01234"},
		{"long name cut", 4, strings.Repeat("a", 60) + "-tail", "eth0", "auto4-" + strings.Repeat("a", 46) + "-eth0-01234"},
		{"cut on a dash", 4, strings.Repeat("a", 45) + "-bbbb", "eth0", "auto4-" + strings.Repeat("a", 45) + "-eth0-01234"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got := PoolName(tt.family, tt.workload, tt.iface, uid)
			if got != tt.want {
				t.Errorf("PoolName = %q, want %q", got, tt.want)
			}
			if errs := validation.IsDNS1123Label(got); len(errs) > 0 {
				t.Errorf("PoolName %q is not a valid name: %v", got, errs)
			}
		})
	}
}

// A pool named under the earlier rule (the UID's first 5 characters) is
// still its workload's after an upgrade: pools are found by their labels.
func TestPoolOfTheEarlierNameIsStillFound(t *testing.T) {
	const uid = types.UID("452e737e-5e12-4c1d-9b1a-0123456789ab")
	o := Owner{Key: Key{Group: "apps", Kind: "Deployment", Namespace: "ns", Name: "nginx"}, APIVersion: "apps/v1", UID: uid}
	old := v2beta1.SpiderIPPool{ObjectMeta: metav1.ObjectMeta{Name: "auto4-nginx-eth0-452e7", Labels: poolLabels(o, "eth0")},
		Spec: v2beta1.SpiderIPPoolSpec{Subnet: "10.244.0.0/16"}}
	got := candidates([]v2beta1.SpiderIPPool{old}, uid, "eth0", 4)
	if len(got) != 1 || got[0].Name != old.Name {
		t.Fatalf("candidates = %v, want the pool of the earlier name", got)
	}
	if PoolName(4, "nginx", "eth0", uid) == old.Name {
		t.Fatal("the test needs a name the current rule does not give")
	}
}

func TestLabelValue(t *testing.T) {
	tests := []struct{ in, want string }{
		{"nginx", "nginx"},
		{"web.front_1", "web.front_1"},
		{strings.Repeat("x", 62) + ".y", strings.Repeat("x", 62)},
		{"-a-", "a"},
	}
	for _, tt := range tests {
		got := labelValue(tt.in)
		if got != tt.want {
			t.Errorf("labelValue(%q) = %q, want %q", tt.in, got, tt.want)
		}
		if errs := validation.IsValidLabelValue(got); len(errs) > 0 {
			t.Errorf("labelValue(%q) = %q is not a label value: %v", tt.in, got, errs)
		}
	}
}

func TestPoolMetadataRoundTrip(t *testing.T) {
	long := strings.Repeat("n", 80)
	for _, o := range []Owner{
		{Key: Key{Group: "apps", Kind: "Deployment", Namespace: "default", Name: "nginx"}, APIVersion: "apps/v1", UID: "u-1"},
		{Key: Key{Group: "example.com", Kind: "Widget", Namespace: "ns", Name: long}, APIVersion: "example.com/v1beta1", UID: "u-2"},
	} {
		t.Run(o.Name[:5], func(t *testing.T) {
			p := &v2beta1.SpiderIPPool{ObjectMeta: metav1.ObjectMeta{Labels: poolLabels(o, "eth0"), Annotations: poolAnnotations(o, false)}}
			for k, v := range p.Labels {
				if errs := validation.IsValidLabelValue(v); len(errs) > 0 {
					t.Errorf("label %s=%q: %v", k, v, errs)
				}
			}
			got, ok := keyOf(p)
			if !ok {
				t.Fatal("keyOf: not an automatic pool")
			}
			if diff := cmp.Diff(o.Key, got); diff != "" {
				t.Errorf("keyOf (-want +got):\n%s", diff)
			}
			if diff := cmp.Diff(ownerSelector(o.Key), map[string]string{
				LabelAutoPool: "true", LabelOwnerKind: p.Labels[LabelOwnerKind],
				LabelOwnerNamespace: p.Labels[LabelOwnerNamespace], LabelOwnerName: p.Labels[LabelOwnerName],
			}); diff != "" {
				t.Errorf("ownerSelector does not select the pool (-want +got):\n%s", diff)
			}
			if reclaims(p) {
				t.Error("reclaims = true for a pool made with reclaim false")
			}
			if p.Labels[LabelOwnerUID] != string(o.UID) || p.Labels[LabelInterface] != "eth0" {
				t.Errorf("agent labels = %v", p.Labels)
			}
		})
	}
}
