package spiderpool

import (
	"net/netip"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/types"
	"k8s.io/utils/ptr"

	"github.com/ipkeeper/ipkeeper/api/ipkeeper/v1alpha1"
	"github.com/ipkeeper/ipkeeper/api/v2beta1"
)

func recordsPool(allocated *string, imported metav1.ConditionStatus) *v2beta1.SpiderIPPool {
	p := &v2beta1.SpiderIPPool{ObjectMeta: metav1.ObjectMeta{Name: "p1"}}
	p.Status.AllocatedIPs = allocated
	if imported != "" {
		p.Status.Conditions = []metav1.Condition{{Type: v1alpha1.ConditionSpiderpoolImported, Status: imported}}
	}
	return p
}

func TestAwaitsImport(t *testing.T) {
	const one = `{"10.6.0.5":{"pod":"default/a","podUid":"u1"}}`
	tests := []struct {
		name      string
		allocated *string
		imported  metav1.ConditionStatus
		want      bool
	}{
		{"no field", nil, "", false},
		{"empty string", ptr.To(""), "", false},
		{"empty map", ptr.To(" {} "), "", false},
		{"records, not imported", ptr.To(one), "", true},
		{"records, import not true", ptr.To(one), metav1.ConditionFalse, true},
		{"records, imported", ptr.To(one), metav1.ConditionTrue, false},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			if got := AwaitsImport(recordsPool(tc.allocated, tc.imported)); got != tc.want {
				t.Errorf("AwaitsImport = %v, want %v", got, tc.want)
			}
		})
	}
}

func TestAllocatedIPs(t *testing.T) {
	tests := []struct {
		name    string
		value   string
		want    map[netip.Addr]PoolRecord
		wantErr string
	}{
		{
			name:  "current format, both families",
			value: `{"10.6.0.5":{"pod":"default/a","podUid":"u1"},"fd00::5":{"pod":"ns2/b","podUid":"u2"}}`,
			want: map[netip.Addr]PoolRecord{
				netip.MustParseAddr("10.6.0.5"): {Pod: types.NamespacedName{Namespace: "default", Name: "a"}, UID: "u1"},
				netip.MustParseAddr("fd00::5"):  {Pod: types.NamespacedName{Namespace: "ns2", Name: "b"}, UID: "u2"},
			},
		},
		{
			name:  "before v0.9, with the interface",
			value: `{"10.6.0.5":{"pod":"default/a","podUid":"u1","interface":"net1"}}`,
			want: map[netip.Addr]PoolRecord{
				netip.MustParseAddr("10.6.0.5"): {Pod: types.NamespacedName{Namespace: "default", Name: "a"}, UID: "u1", Interface: "net1"},
			},
		},
		{name: "not JSON", value: `{"10.6.0.5":`, wantErr: "SpiderIPPool p1: status.allocatedIPs"},
		{name: "key not an address", value: `{"10.6.0.500":{"pod":"default/a","podUid":"u1"}}`, wantErr: `key "10.6.0.500"`},
		{name: "pod without namespace", value: `{"10.6.0.5":{"pod":"a","podUid":"u1"}}`, wantErr: `status.allocatedIPs[10.6.0.5].pod "a"`},
		{name: "same address twice", value: `{"fd00::5":{"pod":"default/a","podUid":"u1"},"fd00:0::5":{"pod":"default/b","podUid":"u2"}}`, wantErr: "lists fd00::5 twice"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			got, err := AllocatedIPs(recordsPool(ptr.To(tc.value), ""))
			if tc.wantErr != "" {
				if err == nil || !strings.Contains(err.Error(), tc.wantErr) {
					t.Fatalf("error %v, want one containing %q", err, tc.wantErr)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if d := cmp.Diff(tc.want, got); d != "" {
				t.Errorf("records (-want +got):\n%s", d)
			}
		})
	}
}
