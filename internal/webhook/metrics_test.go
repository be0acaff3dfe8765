package webhook

import (
	"context"
	"errors"
	"testing"

	"github.com/prometheus/client_golang/prometheus"
	dto "github.com/prometheus/client_model/go"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/util/validation/field"

	"github.com/ipkeeper/ipkeeper/api/v2beta1"
)

func TestRefusalReason(t *testing.T) {
	obj := &v2beta1.SpiderReservedIP{ObjectMeta: metav1.ObjectMeta{Name: "r"}}
	spec := field.NewPath("spec")
	tests := []struct {
		err  error
		want string
	}{
		{invalid("SpiderReservedIP", obj, field.ErrorList{field.Invalid(spec.Child("ips"), "x", "not an address")}), "invalid"},
		{invalid("SpiderReservedIP", obj, field.ErrorList{field.Required(spec.Child("subnet"), ""), field.Invalid(spec, "", "")}), "required"},
		{invalid("SpiderReservedIP", obj, field.ErrorList{field.Forbidden(spec.Child("subnet"), "immutable")}), "forbidden"},
		{invalid("SpiderReservedIP", obj, field.ErrorList{field.TooMany(spec.Child("ips"), 3, 2)}), "too_long"},
		{errors.New("list pools: timeout"), "internal"},
	}
	for _, tt := range tests {
		if got := refusalReason(tt.err); got != tt.want {
			t.Errorf("refusalReason(%v) = %q, want %q", tt.err, got, tt.want)
		}
	}
}

// A refused SpiderReservedIP counts once under its kind, operation and
// reason; an accepted one does not count.
func TestCountedRefusals(t *testing.T) {
	reg := prometheus.NewPedanticRegistry()
	refusals, err := newRefusals(reg)
	if err != nil {
		t.Fatal(err)
	}
	v := countRefusals(ReservedIPs{}, "SpiderReservedIP", refusals)
	good := &v2beta1.SpiderReservedIP{ObjectMeta: metav1.ObjectMeta{Name: "good"}, Spec: v2beta1.SpiderReservedIPSpec{IPs: []string{"10.0.0.1"}}}
	bad := &v2beta1.SpiderReservedIP{ObjectMeta: metav1.ObjectMeta{Name: "bad"}, Spec: v2beta1.SpiderReservedIPSpec{IPs: []string{"not-an-address"}}}
	if _, err := v.ValidateCreate(context.Background(), good); err != nil {
		t.Fatalf("good reservation refused: %v", err)
	}
	if _, err := v.ValidateCreate(context.Background(), bad); err == nil {
		t.Fatal("bad reservation accepted")
	}
	var m dto.Metric
	if err := refusals.WithLabelValues("SpiderReservedIP", "create", "invalid").Write(&m); err != nil {
		t.Fatal(err)
	}
	if got := m.GetCounter().GetValue(); got != 1 {
		t.Errorf("refusals{SpiderReservedIP,create,invalid} = %v, want 1", got)
	}
	again, err := newRefusals(reg)
	if err != nil || again != refusals {
		t.Errorf("second registration: %v, same counter %v; want the first one", err, again == refusals)
	}
}
