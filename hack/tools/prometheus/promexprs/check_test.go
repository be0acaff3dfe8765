package main

import (
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
)

const (
	chartDashboard = "../../../../charts/ipkeeper/files/dashboards/ipkeeper.json"
	chartRules     = "../../../../charts/ipkeeper/files/alerts/ipkeeper.rules.yaml"
)

// The chart's dashboard and rules parse, and read the series the e2e test
// then finds exported.
func TestChartFiles(t *testing.T) {
	names, err := check(chartDashboard, chartRules)
	if err != nil {
		t.Fatal(err)
	}
	for _, want := range []string{"ipkeeper_pool_allocated_addresses", "ipkeeper_agent_request_duration_seconds_bucket", "ipkeeper_webhook_refusals_total", "up"} {
		if !slices.Contains(names, want) {
			t.Errorf("names %v lack %s", names, want)
		}
	}
}

func write(t *testing.T, name, content string) string {
	t.Helper()
	p := filepath.Join(t.TempDir(), name)
	if err := os.WriteFile(p, []byte(content), 0o644); err != nil {
		t.Fatal(err)
	}
	return p
}

func TestRefuses(t *testing.T) {
	rules := write(t, "rules.yaml", "groups:\n- name: g\n  rules:\n  - alert: A\n    expr: up == 0\n")
	dash := write(t, "d.json", `{"panels":[{"id":1,"title":"p","type":"timeseries","targets":[{"refId":"A","expr":"rate(x_total[$__rate_interval])"}]}]}`)
	tests := []struct {
		name, dashboard, rules, want string
	}{
		{"not JSON", write(t, "d.json", `{"panels": [`), rules, "unexpected end of JSON"},
		{"no panels", write(t, "d.json", `{"panels": []}`), rules, "no panels"},
		{"panel without targets", write(t, "d.json", `{"panels":[{"id":3,"title":"empty","type":"stat"}]}`), rules, `panel 3 "empty" has no targets`},
		{"expression that does not parse", write(t, "d.json", `{"panels":[{"id":1,"title":"p","type":"stat","targets":[{"refId":"A","expr":"sum(rate(x[5m])"}]}]}`), rules, "parse"},
		{"selector without a name", write(t, "d.json", `{"panels":[{"id":1,"title":"p","type":"stat","targets":[{"refId":"A","expr":"{job=\"a\"}"}]}]}`), rules, "without a metric name"},
		{"rule that does not parse", dash, write(t, "r.yaml", "groups:\n- name: g\n  rules:\n  - alert: B\n    expr: up ==\n"), "rule B of group g"},
		{"no rules", dash, write(t, "r.yaml", "groups: []\n"), "no rules"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, err := check(tt.dashboard, tt.rules)
			if err == nil || !strings.Contains(err.Error(), tt.want) {
				t.Errorf("check: %v, want an error containing %q", err, tt.want)
			}
		})
	}
	names, err := check(dash, rules)
	if err != nil || !slices.Equal(names, []string{"up", "x_total"}) {
		t.Errorf("check of good files = %v, %v; want [up x_total]", names, err)
	}
}
