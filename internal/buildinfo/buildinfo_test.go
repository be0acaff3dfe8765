package buildinfo

import (
	"runtime"
	"testing"

	"github.com/google/go-cmp/cmp"
	"github.com/prometheus/client_golang/prometheus"
)

func TestCollector(t *testing.T) {
	version, revision = "v1.2.3", "abc123"
	t.Cleanup(func() { version, revision = "", "" })
	reg := prometheus.NewPedanticRegistry()
	reg.MustRegister(Collector())
	mfs, err := reg.Gather()
	if err != nil {
		t.Fatal(err)
	}
	if len(mfs) != 1 || mfs[0].GetName() != "ipkeeper_build_info" || len(mfs[0].GetMetric()) != 1 {
		t.Fatalf("gathered %v, want one ipkeeper_build_info series", mfs)
	}
	m := mfs[0].GetMetric()[0]
	labels := map[string]string{}
	for _, l := range m.GetLabel() {
		labels[l.GetName()] = l.GetValue()
	}
	want := map[string]string{"version": "v1.2.3", "revision": "abc123", "goversion": runtime.Version()}
	if diff := cmp.Diff(want, labels); diff != "" || m.GetGauge().GetValue() != 1 {
		t.Errorf("labels (-want +got):\n%s\nvalue %v, want 1", diff, m.GetGauge().GetValue())
	}
}

func TestUnstamped(t *testing.T) {
	if Version() != "dev" || Revision() != "unknown" {
		t.Errorf("Version() = %q, Revision() = %q; want dev, unknown", Version(), Revision())
	}
}
