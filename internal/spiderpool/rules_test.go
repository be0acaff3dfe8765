package spiderpool

import (
	"context"
	"errors"
	"net/netip"
	"strings"
	"testing"

	appsv1 "k8s.io/api/apps/v1"
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/utils/ptr"

	"github.com/ipkeeper/ipkeeper/api/ipkeeper/v1alpha1"
	"github.com/ipkeeper/ipkeeper/api/v2beta1"
)

func TestOrdinalSlot(t *testing.T) {
	sts := func(mods ...func(*appsv1.StatefulSet)) *appsv1.StatefulSet {
		s := &appsv1.StatefulSet{ObjectMeta: metav1.ObjectMeta{Name: "db", UID: "sts-1"}, Spec: appsv1.StatefulSetSpec{Replicas: ptr.To[int32](2)}}
		for _, m := range mods {
			m(s)
		}
		return s
	}
	claim := func(holder string, ordinal *int32) *v1alpha1.IPClaim {
		return &v1alpha1.IPClaim{Spec: v1alpha1.IPClaimSpec{
			Holder: v1alpha1.ClaimHolder{Name: holder}, Owner: v1alpha1.ClaimOwner{Kind: KindStatefulSet, Name: "db", UID: "sts-1"}, Ordinal: ordinal,
		}}
	}
	tests := []struct {
		name   string
		claim  *v1alpha1.IPClaim
		sts    *appsv1.StatefulSet
		reason string
		kept   bool
	}{
		{"ordinal below replicas", claim("db-1", nil), sts(), SlotKept, true},
		{"ordinal at replicas", claim("db-2", nil), sts(), SlotScaledDown, false},
		{"spec.ordinal wins over the name", claim("db-7", ptr.To[int32](0)), sts(), SlotKept, true},
		{"ordinals.start shifts the range", claim("db-0", nil), sts(func(s *appsv1.StatefulSet) { s.Spec.Ordinals = &appsv1.StatefulSetOrdinals{Start: 1} }), SlotScaledDown, false},
		{"retained on scale-down", claim("db-9", nil), sts(func(s *appsv1.StatefulSet) { s.Annotations = map[string]string{AnnoRetainOnScaleDown: "true"} }), SlotRetained, true},
		{"statefulset gone", claim("db-0", nil), nil, SlotGone, false},
		// Re-created under the same name (--cascade=orphan, then apply): the
		// ordinal's address carries over, as Spiderpool matches by name.
		{"statefulset re-created", claim("db-0", nil), sts(func(s *appsv1.StatefulSet) { s.UID = "sts-2" }), SlotKept, true},
		{"statefulset deleting", claim("db-0", nil), sts(func(s *appsv1.StatefulSet) { s.DeletionTimestamp = &metav1.Time{} }), SlotDeleting, false},
		{"not a pod of its naming", claim("web-0", nil), sts(), SlotNotAnOrdinalPod, false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			reason, kept := OrdinalSlot(tt.claim, tt.sts)
			if reason != tt.reason || kept != tt.kept {
				t.Fatalf("OrdinalSlot = %q, %v; want %q, %v", reason, kept, tt.reason, tt.kept)
			}
		})
	}
}

func TestTopController(t *testing.T) {
	ctrl := func(apiVersion, kind, name string) metav1.OwnerReference {
		return metav1.OwnerReference{APIVersion: apiVersion, Kind: kind, Name: name, Controller: ptr.To(true)}
	}
	parents := map[string]*metav1.OwnerReference{
		"rs-1":  ptr.To(ctrl("apps/v1", "Deployment", "web")),
		"job-1": ptr.To(ctrl("batch/v1", "CronJob", "nightly")),
	}
	lookup := func(_ context.Context, _ string, ref *metav1.OwnerReference) (*metav1.OwnerReference, error) {
		if ref.Name == "broken" {
			return nil, errors.New("cache not synced")
		}
		return parents[ref.Name], nil
	}
	tests := []struct {
		name    string
		owners  []metav1.OwnerReference
		want    string
		wantErr bool
	}{
		{"bare pod", nil, "", false},
		{"deployment through its replicaset", []metav1.OwnerReference{ctrl("apps/v1", "ReplicaSet", "rs-1")}, "Deployment/web", false},
		{"cronjob through its job", []metav1.OwnerReference{ctrl("batch/v1", "Job", "job-1")}, "CronJob/nightly", false},
		{"orphan replicaset", []metav1.OwnerReference{ctrl("apps/v1", "ReplicaSet", "rs-gone")}, "ReplicaSet/rs-gone", false},
		{"statefulset directly", []metav1.OwnerReference{ctrl("apps/v1", "StatefulSet", "db")}, "StatefulSet/db", false},
		{"a ReplicaSet kind of another group is not followed", []metav1.OwnerReference{ctrl("example.com/v1", "ReplicaSet", "rs-1")}, "ReplicaSet/rs-1", false},
		{"lookup error", []metav1.OwnerReference{ctrl("apps/v1", "ReplicaSet", "broken")}, "", true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			pod := &corev1.Pod{ObjectMeta: metav1.ObjectMeta{Namespace: "ns", Name: "p", OwnerReferences: tt.owners}}
			ref, err := TopController(t.Context(), pod, lookup)
			if (err != nil) != tt.wantErr {
				t.Fatalf("err = %v, want error %v", err, tt.wantErr)
			}
			got := ""
			if ref != nil {
				got = ref.Kind + "/" + ref.Name
			}
			if got != tt.want {
				t.Fatalf("TopController = %q, want %q", got, tt.want)
			}
		})
	}
}

func TestPoolOfNamesTheField(t *testing.T) {
	p := func(mod func(*v2beta1.SpiderIPPoolSpec)) *v2beta1.SpiderIPPool {
		pool := &v2beta1.SpiderIPPool{ObjectMeta: metav1.ObjectMeta{Name: "p1"}, Spec: v2beta1.SpiderIPPoolSpec{
			Subnet: "10.6.0.0/16", IPs: []string{"10.6.168.101-10.6.168.110"}, ExcludeIPs: []string{"10.6.168.105"}, Gateway: ptr.To("10.6.0.1"),
		}}
		if mod != nil {
			mod(&pool.Spec)
		}
		return pool
	}
	got, err := PoolOf(p(nil))
	if err != nil {
		t.Fatal(err)
	}
	if got.Subnet != netip.MustParsePrefix("10.6.0.0/16") || got.Gateway != netip.MustParseAddr("10.6.0.1") || got.Free().Count().Int64() != 9 {
		t.Fatalf("PoolOf = %+v (free %s), want subnet 10.6.0.0/16, gateway 10.6.0.1 and 9 free", got, got.Free().Count())
	}
	for field, mod := range map[string]func(*v2beta1.SpiderIPPoolSpec){
		"spec.subnet":     func(s *v2beta1.SpiderIPPoolSpec) { s.Subnet = "10.6.0.0" },
		"spec.ips":        func(s *v2beta1.SpiderIPPoolSpec) { s.IPs = []string{"10.7.0.1"} },
		"spec.excludeIPs": func(s *v2beta1.SpiderIPPoolSpec) { s.ExcludeIPs = []string{"fd00::1"} },
		"spec.gateway":    func(s *v2beta1.SpiderIPPoolSpec) { s.Gateway = ptr.To("10.6.0.x") },
	} {
		if _, err := PoolOf(p(mod)); err == nil || !strings.Contains(err.Error(), "SpiderIPPool p1: "+field) {
			t.Errorf("%s: err = %v, want it to name SpiderIPPool p1 and %s", field, err, field)
		}
	}
}

func TestPoolFamily(t *testing.T) {
	for subnet, want := range map[string]int{"10.6.0.0/16": 4, "fd00::/64": 6, "::ffff:10.6.0.0/112": 6, "bad": 4} {
		if got := PoolFamily(&v2beta1.SpiderIPPool{Spec: v2beta1.SpiderIPPoolSpec{Subnet: subnet}}); got != want {
			t.Errorf("PoolFamily(%s) = %d, want %d", subnet, got, want)
		}
	}
	v6 := v2beta1.IPVersion(6)
	if got := PoolFamily(&v2beta1.SpiderIPPool{Spec: v2beta1.SpiderIPPoolSpec{Subnet: "10.6.0.0/16", IPVersion: &v6}}); got != 6 {
		t.Errorf("spec.ipVersion 6: PoolFamily = %d, want 6", got)
	}
}

func TestParseOrdinalIPsAndRoutes(t *testing.T) {
	// A stray closing bracket is trailing data too, in every annotation.
	if _, err := ParsePoolAnnotation(AnnoPool, `{"ipv4":["p"]}}`); err == nil || !strings.Contains(err.Error(), "trailing data") {
		t.Errorf(`ParsePoolAnnotation({"ipv4":["p"]}}) = %v, want a trailing-data error`, err)
	}
	addrs, err := ParseOrdinalIPs("10.6.168.101, fd00::101,10.6.168.102")
	if err != nil || len(addrs) != 3 || addrs[1] != netip.MustParseAddr("fd00::101") {
		t.Fatalf("ParseOrdinalIPs = %v, %v", addrs, err)
	}
	var ae *AnnotationError
	if _, err := ParseOrdinalIPs("10.6.168.101,nope"); !errors.As(err, &ae) || ae.Key != AnnoOrdinalIPs || !strings.Contains(ae.Reason, `"nope"`) {
		t.Fatalf("err = %v, want an AnnotationError on %s naming \"nope\"", err, AnnoOrdinalIPs)
	}
	routes, err := ParseRoutes(`[{"dst":"10.0.0.0/8","gw":"10.6.0.253"},{"dst":"fd00:20::/64","gw":"fd00:10:6::1"}]`)
	if err != nil || len(routes) != 2 || routes[0].Dst != netip.MustParsePrefix("10.0.0.0/8") {
		t.Fatalf("ParseRoutes = %v, %v; want both routes", routes, err)
	}
	for value, want := range map[string]string{
		`[{"dst":"bad","gw":"10.6.0.1"}]`:         `entry 0: dst "bad" is not a CIDR`,
		`[{"dst":"0.0.0.0/0","gw":"10.6.0.1"}]`:   "is a default route",
		`[{"dst":"10.0.0.0/8","gw":"nope"}]`:      `gw "nope" is not an IP address`,
		`[{"dst":"10.0.0.0/8","gw":"10.6.0.1"}]]`: "trailing data",
	} {
		if _, err := ParseRoutes(value); !errors.As(err, &ae) || ae.Key != AnnoRoutes || !strings.Contains(ae.Reason, want) {
			t.Errorf("ParseRoutes(%s) = %v, want an AnnotationError on %s containing %q", value, err, AnnoRoutes, want)
		}
	}
	if _, err := ParseRoutes(`{"dst":"10.0.0.0/8"}`); !errors.As(err, &ae) || ae.Key != AnnoRoutes {
		t.Fatalf("err = %v, want an AnnotationError on %s", err, AnnoRoutes)
	}
}
