package autopool

import (
	"testing"

	"github.com/google/go-cmp/cmp"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	"github.com/ipkeeper/ipkeeper/api/v2beta1"
	"github.com/ipkeeper/ipkeeper/internal/ipnet"
)

func set(t *testing.T, entries ...string) ipnet.Set {
	t.Helper()
	s, err := ipnet.ParseSet(entries)
	if err != nil {
		t.Fatal(err)
	}
	return s
}

func TestSubnetFree(t *testing.T) {
	gw := "10.244.0.1"
	sub := &v2beta1.SpiderSubnet{ObjectMeta: metav1.ObjectMeta{Name: "s"}, Spec: v2beta1.SpiderSubnetSpec{
		Subnet: "10.244.0.0/24", IPs: []string{"10.244.0.0-10.244.0.255"}, ExcludeIPs: []string{"10.244.0.10-10.244.0.19"}, Gateway: &gw,
	}}
	pools := []v2beta1.SpiderIPPool{
		{ObjectMeta: metav1.ObjectMeta{Name: "a"}, Spec: v2beta1.SpiderIPPoolSpec{Subnet: "10.244.0.0/24", IPs: []string{"10.244.0.2-10.244.0.5"}}},
		{ObjectMeta: metav1.ObjectMeta{Name: "other-subnet-overlap"}, Spec: v2beta1.SpiderIPPoolSpec{Subnet: "10.244.0.0/16", IPs: []string{"10.244.0.100"}}},
		{ObjectMeta: metav1.ObjectMeta{Name: "v6"}, Spec: v2beta1.SpiderIPPoolSpec{Subnet: "fd00::/64", IPs: []string{"fd00::1-fd00::9"}}},
	}
	reserved := []v2beta1.SpiderReservedIP{
		{ObjectMeta: metav1.ObjectMeta{Name: "r"}, Spec: v2beta1.SpiderReservedIPSpec{IPs: []string{"10.244.0.200-10.244.0.254"}}},
		{ObjectMeta: metav1.ObjectMeta{Name: "r6"}, Spec: v2beta1.SpiderReservedIPSpec{IPs: []string{"fd00::5"}}},
	}
	got, err := subnetFree(sub, pools, reserved)
	if err != nil {
		t.Fatal(err)
	}
	// Network, gateway, pool a, excludes, pool overlap, reserved, broadcast.
	want := []string{"10.244.0.6-10.244.0.9", "10.244.0.20-10.244.0.99", "10.244.0.101-10.244.0.199"}
	if diff := cmp.Diff(want, got.Entries()); diff != "" {
		t.Errorf("free (-want +got):\n%s", diff)
	}

	bad := sub.DeepCopy()
	bad.Spec.IPs = []string{"10.245.0.1"}
	if _, err := subnetFree(bad, nil, nil); err == nil {
		t.Error("subnetFree accepted ips outside the subnet")
	}
}

func TestResize(t *testing.T) {
	tests := []struct {
		name      string
		current   []string
		free      []string
		claimed   []string
		want      uint64
		wantIPs   []string
		exhausted *ExhaustedError
	}{
		{name: "create", free: []string{"10.0.0.1-10.0.0.100"}, want: 5, wantIPs: []string{"10.0.0.1-10.0.0.5"}},
		{name: "create empty", free: []string{"10.0.0.1-10.0.0.100"}, want: 0},
		{name: "grow across holes", current: []string{"10.0.0.1-10.0.0.5"}, free: []string{"10.0.0.8", "10.0.0.20-10.0.0.30"},
			want: 7, wantIPs: []string{"10.0.0.1-10.0.0.5", "10.0.0.8", "10.0.0.20"}},
		{name: "exactly enough", current: []string{"10.0.0.1"}, free: []string{"10.0.0.9-10.0.0.10"}, want: 3,
			wantIPs: []string{"10.0.0.1", "10.0.0.9-10.0.0.10"}},
		{name: "too few free: unchanged", current: []string{"10.0.0.1"}, free: []string{"10.0.0.9-10.0.0.10"}, want: 5,
			wantIPs: []string{"10.0.0.1"}, exhausted: &ExhaustedError{Required: 4, Free: 2}},
		{name: "same size", current: []string{"10.0.0.1-10.0.0.4"}, free: []string{"10.0.0.9"}, want: 4, wantIPs: []string{"10.0.0.1-10.0.0.4"}},
		{name: "shrink drops the highest", current: []string{"10.0.0.1-10.0.0.6"}, want: 4, wantIPs: []string{"10.0.0.1-10.0.0.4"}},
		{name: "shrink spares claimed", current: []string{"10.0.0.1-10.0.0.6"}, claimed: []string{"10.0.0.5", "10.0.0.6"}, want: 4,
			wantIPs: []string{"10.0.0.1-10.0.0.2", "10.0.0.5-10.0.0.6"}},
		{name: "shrink stops at claimed", current: []string{"10.0.0.1-10.0.0.4"}, claimed: []string{"10.0.0.1", "10.0.0.3", "10.0.0.4"}, want: 0,
			wantIPs: []string{"10.0.0.1", "10.0.0.3-10.0.0.4"}},
		{name: "all claimed", current: []string{"10.0.0.1-10.0.0.4"}, claimed: []string{"10.0.0.1-10.0.0.4"}, want: 1,
			wantIPs: []string{"10.0.0.1-10.0.0.4"}},
		{name: "claims elsewhere ignored", current: []string{"10.0.0.1-10.0.0.4"}, claimed: []string{"10.0.0.9"}, want: 2,
			wantIPs: []string{"10.0.0.1-10.0.0.2"}},
		{name: "ipv6", current: []string{"fd00::1"}, free: []string{"fd00::100-fd00::ffff"}, want: 3, wantIPs: []string{"fd00::1", "fd00::100-fd00::101"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, short := resize(set(t, tt.current...), set(t, tt.free...), set(t, tt.claimed...), tt.want)
			if diff := cmp.Diff(tt.exhausted, short); diff != "" {
				t.Errorf("shortage (-want +got):\n%s", diff)
			}
			if diff := cmp.Diff(tt.wantIPs, got.Entries()); diff != "" {
				t.Errorf("ips (-want +got):\n%s", diff)
			}
			if short == nil && tt.free != nil && !got.Difference(set(t, tt.current...)).Difference(set(t, tt.free...)).IsEmpty() {
				t.Errorf("grew with addresses that were not free: %s", got)
			}
		})
	}
}

func TestWithSubnetOwner(t *testing.T) {
	sub := &v2beta1.SpiderSubnet{ObjectMeta: metav1.ObjectMeta{Name: "s", UID: "sub-uid"}}
	other := metav1.OwnerReference{APIVersion: "v1", Kind: "ConfigMap", Name: "c", UID: "cm"}
	oldCtrl := metav1.OwnerReference{APIVersion: "x/v1", Kind: "X", Name: "x", UID: "x", Controller: new(true)}
	refs := withSubnetOwner([]metav1.OwnerReference{other, oldCtrl}, sub)
	if len(refs) != 2 || refs[0].UID != "sub-uid" || !*refs[0].Controller || refs[1] != other {
		t.Fatalf("refs = %+v", refs)
	}
	again := withSubnetOwner([]metav1.OwnerReference{other, refs[0]}, sub)
	if diff := cmp.Diff([]metav1.OwnerReference{other, refs[0]}, again); diff != "" {
		t.Errorf("unchanged refs were reordered (-want +got):\n%s", diff)
	}
}
