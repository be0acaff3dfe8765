package ipam

import (
	"errors"
	"strings"
	"testing"
	"time"

	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/utils/ptr"

	"github.com/ipkeeper/ipkeeper/api/v2beta1"
	"github.com/ipkeeper/ipkeeper/internal/spiderpool"
)

// autoPool is the automatic pool the controller makes for the ReplicaSet of
// statelessPod, interface eth0.
func autoPool(name, subnet, ips string) *v2beta1.SpiderIPPool {
	return &v2beta1.SpiderIPPool{
		ObjectMeta: metav1.ObjectMeta{Name: name, Labels: map[string]string{
			spiderpool.LabelAutoPoolOwnerUID: "rs-uid", spiderpool.LabelAutoPoolInterface: "eth0"}},
		Spec: v2beta1.SpiderIPPoolSpec{Subnet: subnet, IPs: []string{ips}},
	}
}

func spiderSubnet(name string, total, given int64) *v2beta1.SpiderSubnet {
	return &v2beta1.SpiderSubnet{ObjectMeta: metav1.ObjectMeta{Name: name},
		Status: v2beta1.SpiderSubnetStatus{TotalIPCount: ptr.To(total), AllocatedIPCount: ptr.To(given)}}
}

const dualSubnetAnno = `{"ipv4":["sub4"],"ipv6":["sub6"]}`

// A pod whose automatic pools are missing fails after the configured wait,
// naming the subnet, the family and why, and holds nothing: never a
// "success" without an address, never only some of its families.
func TestMissingAutoPoolFailsWithTheReasonAndAllocatesNothing(t *testing.T) {
	v4 := autoPool("auto4-web-eth0-00001", "10.6.0.0/16", "10.6.1.1-10.6.1.9")
	tests := []struct {
		name    string
		ann     string
		pools   []*v2beta1.SpiderIPPool
		subnets []*v2beta1.SpiderSubnet
		want    []string
	}{
		{name: "auto pool not created yet", ann: `{"ipv4":["sub4"]}`, subnets: []*v2beta1.SpiderSubnet{spiderSubnet("sub4", 100, 10)},
			want: []string{"interface eth0 IPv4 from SpiderSubnet sub4: auto pool not created yet"}},
		{name: "subnet not found", ann: `{"ipv4":["sub4"]}`,
			want: []string{"interface eth0 IPv4 from SpiderSubnet sub4: subnet not found"}},
		{name: "subnet full", ann: `{"ipv4":["sub4"]}`, subnets: []*v2beta1.SpiderSubnet{spiderSubnet("sub4", 100, 100)},
			want: []string{"interface eth0 IPv4 from SpiderSubnet sub4: subnet full"}},
		{name: "dual stack, IPv6 pool missing", ann: dualSubnetAnno, pools: []*v2beta1.SpiderIPPool{v4},
			subnets: []*v2beta1.SpiderSubnet{spiderSubnet("sub4", 100, 10), spiderSubnet("sub6", 100, 10)},
			want:    []string{"IPv6 from SpiderSubnet sub6: auto pool not created yet"}},
		{name: "second interface's pool missing", ann: "", pools: []*v2beta1.SpiderIPPool{v4},
			want: []string{"interface net1 IPv4 from SpiderSubnet subn: subnet not found"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			a, s, c := configured(t, Config{AutoPoolWait: 50 * time.Millisecond}, tt.pools...)
			for _, sub := range tt.subnets {
				a.index.SetSubnet(sub)
			}
			ann := map[string]string{spiderpool.AnnoSubnet: tt.ann}
			if tt.ann == "" {
				ann = map[string]string{spiderpool.AnnoSubnets: `[{"interface":"eth0","ipv4":["sub4"]},{"interface":"net1","ipv4":["subn"]}]`}
			}
			pod := statelessPod("web", ann)
			c.addPod(pod)
			got, err := a.Add(t.Context(), addReq(pod, "c1"))
			var ae *AllocationError
			if !errors.As(err, &ae) {
				t.Fatalf("Add = %+v, %v; want an AllocationError", got, err)
			}
			for _, w := range append(tt.want, "after waiting 50ms") {
				if !strings.Contains(err.Error(), w) {
					t.Errorf("error %q does not say %q", err, w)
				}
			}
			if n := len(s.holders()); n != 0 {
				t.Errorf("%d claims left after the failed ADD, want none", n)
			}
		})
	}
}

// An automatic pool created while the ADD waits is used at once: the wait
// follows the index's events, and ends well before its bound.
func TestAddWaitsForTheAutoPool(t *testing.T) {
	a, _, c := configured(t, Config{AutoPoolWait: time.Minute})
	pod := statelessPod("web", map[string]string{spiderpool.AnnoSubnet: dualSubnetAnno})
	c.addPod(pod)
	type result struct {
		alloc *Allocation
		err   error
	}
	done := make(chan result, 1)
	start := time.Now()
	go func() {
		alloc, err := a.Add(t.Context(), addReq(pod, "c1"))
		done <- result{alloc, err}
	}()
	a.index.SetPool(autoPool("auto4-web-eth0-00001", "10.6.0.0/16", "10.6.1.1-10.6.1.9"))
	p6 := autoPool("auto6-web-eth0-00001", "fd00:10:6::/64", "fd00:10:6::1-fd00:10:6::9")
	a.index.SetPool(p6)
	r := <-done
	if r.err != nil {
		t.Fatal(r.err)
	}
	if len(r.alloc.IPs) != 2 {
		t.Fatalf("got %+v, want an IPv4 and an IPv6 address", r.alloc.IPs)
	}
	if took := time.Since(start); took > 30*time.Second {
		t.Fatalf("ADD took %s: it did not notice the pools appear", took)
	}
}

// A pool inside a SpiderSubnet that sets no gateway or routes hands out the
// subnet's; what the pool sets, even "routes: []", is its own (issue 13,
// defect 16).
func TestPoolInheritsItsSubnetsGatewayAndRoutes(t *testing.T) {
	subnetRoutes := []v2beta1.Route{{Dst: "172.16.0.0/16", Gw: "10.6.0.254"}}
	tests := []struct {
		name       string
		gateway    *string
		routes     []v2beta1.Route
		wantGW     string
		wantRoutes int
	}{
		{name: "nothing set: both inherited", wantGW: "10.6.0.1", wantRoutes: 1},
		{name: "own gateway, routes inherited", gateway: ptr.To("10.6.0.2"), wantGW: "10.6.0.2", wantRoutes: 1},
		{name: "routes: [] keeps none", routes: []v2beta1.Route{}, wantGW: "10.6.0.1", wantRoutes: 0},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			p := testPool("10.6.168.101-10.6.168.110")
			p.Spec.Gateway, p.Spec.Routes = tt.gateway, tt.routes
			a, _, c := configured(t, Config{}, p)
			sub := spiderSubnet("sub", 100, 10)
			sub.Spec = v2beta1.SpiderSubnetSpec{Subnet: "10.6.0.0/16", IPs: []string{"10.6.168.1-10.6.168.200"}, Gateway: ptr.To("10.6.0.1"), Routes: subnetRoutes}
			a.index.SetSubnet(sub)
			pod := statelessPod("web", poolAnno)
			c.addPod(pod)
			got, err := a.Add(t.Context(), addReq(pod, "c1"))
			if err != nil {
				t.Fatal(err)
			}
			if gw := got.IPs[0].Gateway.String(); gw != tt.wantGW || len(got.Routes) != tt.wantRoutes {
				t.Fatalf("gateway %s, routes %v; want %s and %d routes", gw, got.Routes, tt.wantGW, tt.wantRoutes)
			}
		})
	}
}
