package ipam

import (
	"errors"
	"strings"
	"testing"

	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/utils/ptr"

	"github.com/ipkeeper/ipkeeper/api/v2beta1"
	"github.com/ipkeeper/ipkeeper/internal/spiderpool"
)

// configured is agentFor with a configuration of the switches under test.
func configured(t *testing.T, cfg Config, pools ...*v2beta1.SpiderIPPool) (*Allocator, *memStore, *memCluster) {
	t.Helper()
	s, c := newMemStore(), newMemCluster("node1")
	x := NewIndex("node1")
	for _, p := range pools {
		x.SetPool(p)
	}
	s.watch(x, "node1")
	cfg.Node = "node1"
	return New(cfg, x, s, c), s, c
}

func dualPools() []*v2beta1.SpiderIPPool {
	v6 := &v2beta1.SpiderIPPool{ObjectMeta: metav1.ObjectMeta{Name: "p6"}, Spec: v2beta1.SpiderIPPoolSpec{
		Subnet: "fd00:10:6::/64", IPs: []string{"fd00:10:6::101-fd00:10:6::110"}, Gateway: ptr.To("fd00:10:6::1"),
	}}
	return []*v2beta1.SpiderIPPool{testPool("10.6.168.101-10.6.168.110"), v6}
}

func TestEnableIPvSwitches(t *testing.T) {
	dual := map[string]string{spiderpool.AnnoPool: `{"ipv4":["p"],"ipv6":["p6"]}`}
	v4only := map[string]string{spiderpool.AnnoPool: `{"ipv4":["p"]}`}
	tests := []struct {
		name       string
		v4, v6     *bool
		ann        map[string]string
		wantIPs    int
		wantErrHas string
	}{
		{name: "unset: one address per family named", ann: dual, wantIPs: 2},
		{name: "IPv6 off: the IPv6 pool is not used", v4: ptr.To(true), v6: ptr.To(false), ann: dual, wantIPs: 1},
		{name: "IPv6 on and only IPv4 named", v4: ptr.To(true), v6: ptr.To(true), ann: v4only, wantErrHas: "IPv6 is on in this cluster (enableIPv6)"},
		{name: "both on, both named", v4: ptr.To(true), v6: ptr.To(true), ann: dual, wantIPs: 2},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			a, s, c := configured(t, Config{EnableIPv4: tt.v4, EnableIPv6: tt.v6}, dualPools()...)
			pod := statelessPod("p", tt.ann)
			c.addPod(pod)
			got, err := a.Add(t.Context(), addReq(pod, "c1"))
			if tt.wantErrHas != "" {
				var ae *AllocationError
				if !errors.As(err, &ae) || !strings.Contains(err.Error(), tt.wantErrHas) {
					t.Fatalf("err = %v, want an AllocationError containing %q", err, tt.wantErrHas)
				}
				if n := len(s.holders()); n != 0 {
					t.Fatalf("%d claims left after the refusal, want none", n)
				}
				return
			}
			if err != nil || len(got.IPs) != tt.wantIPs {
				t.Fatalf("Add = %+v, %v; want %d addresses", got, err, tt.wantIPs)
			}
			if tt.wantIPs == 1 && !got.IPs[0].Address.Addr().Is4() {
				t.Fatalf("got %s, want the IPv4 address only", got.IPs[0].Address)
			}
		})
	}
}

func TestAutoPoolsOffRefusesASubnetAnnotation(t *testing.T) {
	a, _, c := configured(t, Config{DisableAutoPools: true}, testPool("10.6.168.101-10.6.168.110"))
	pod := statelessPod("p", map[string]string{spiderpool.AnnoSubnet: `{"ipv4":["s4"]}`})
	c.addPod(pod)
	_, err := a.Add(t.Context(), addReq(pod, "c1"))
	var ae *spiderpool.AnnotationError
	if !errors.As(err, &ae) || ae.Key != spiderpool.AnnoSubnet || !strings.Contains(ae.Reason, "automatic pools are off") {
		t.Fatalf("err = %v, want an AnnotationError on %s saying automatic pools are off", err, spiderpool.AnnoSubnet)
	}
}
