//go:build e2e

package e2e

import (
	"bytes"
	"context"
	"fmt"
	"io"
	"net/http"
	"os/exec"
	"path/filepath"
	"runtime"
	"slices"
	"strings"
	"testing"
	"time"

	dto "github.com/prometheus/client_model/go"
	"github.com/prometheus/common/expfmt"
	"github.com/prometheus/common/model"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"k8s.io/client-go/dynamic"

	"github.com/ipkeeper/ipkeeper/api/v2beta1"
	"github.com/ipkeeper/ipkeeper/test/seedwalk"
)

// synthesized are names the rules read that Prometheus makes itself, not
// the agents or the controller.
var synthesized = []string{"up"}

// TestMetricsReadByDashboardAndAlertsAreExported does ADDs, DELs and a
// webhook refusal, then scrapes every agent and the controller and checks
// that each metric the chart's Grafana dashboard and alert rules read is
// exported (names from Prometheus's own PromQL parser, hack/tools/prometheus),
// and that the counters moved.
func TestMetricsReadByDashboardAndAlertsAreExported(t *testing.T) {
	env := localCluster.Get(t)
	if env.Cluster == nil {
		t.Skip("the cluster's processes are unknown (a reused cluster without state)")
	}
	ns := env.Namespace(t)
	dyn, err := dynamic.NewForConfig(env.Config)
	if err != nil {
		t.Fatalf("dynamic client: %v", err)
	}
	// A SpiderSubnet of its own CIDR (no pool of it exists, so it owns none),
	// so that the subnet gauges have a series.
	subnets := dyn.Resource(v2beta1.GroupVersion.WithResource("spidersubnets"))
	subnet := &unstructured.Unstructured{Object: map[string]any{
		"apiVersion": v2beta1.GroupVersion.String(), "kind": "SpiderSubnet",
		"metadata": map[string]any{"name": ns + "-metrics"},
		"spec":     map[string]any{"subnet": "10.250.0.0/24", "ips": []any{"10.250.0.10-10.250.0.20"}},
	}}
	if _, err := subnets.Create(t.Context(), subnet, metav1.CreateOptions{}); err != nil {
		t.Fatalf("create SpiderSubnet: %v", err)
	}
	t.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
		defer cancel()
		_ = subnets.Delete(ctx, ns+"-metrics", metav1.DeleteOptions{})
	})
	// A refusal only the webhook can make: addresses outside the pool's subnet.
	bad := &unstructured.Unstructured{Object: map[string]any{
		"apiVersion": v2beta1.GroupVersion.String(), "kind": "SpiderIPPool",
		"metadata": map[string]any{"name": ns + "-refused"},
		"spec":     map[string]any{"subnet": "10.251.0.0/24", "ips": []any{"10.252.0.5"}},
	}}
	_, err = dyn.Resource(v2beta1.GroupVersion.WithResource("spiderippools")).Create(t.Context(), bad, metav1.CreateOptions{})
	if !apierrors.IsInvalid(err) {
		t.Fatalf("create a pool with addresses outside its subnet: %v, want the webhook's refusal", err)
	}
	// ADDs and DELs on both nodes.
	for i, node := range env.Nodes[:2] {
		name := fmt.Sprintf("metrics-%d", i)
		createPod(t, env, ns, name, node, nil)
		seedwalk.WaitPodReady(t, env, ns, name)
		if err := env.Client.CoreV1().Pods(ns).Delete(t.Context(), name, metav1.DeleteOptions{GracePeriodSeconds: ptr[int64](0)}); err != nil {
			t.Fatalf("delete pod %s: %v", name, err)
		}
	}

	read := namesReadByChart(t)
	var agentAddrs []string
	for _, node := range env.Nodes {
		addr, err := env.Cluster.AgentMetricsAddress(node)
		if err != nil {
			t.Fatal(err)
		}
		agentAddrs = append(agentAddrs, addr)
	}
	ctrlAddr, err := env.Cluster.ControllerMetricsAddress()
	if err != nil {
		t.Fatal(err)
	}
	// The pool gauges come from the leader once it is elected (the new
	// subnet's within a scrape); the DELs are counted once the pods are gone.
	var controller map[string]*dto.MetricFamily
	var agents []map[string]*dto.MetricFamily
	env.WaitFor(t, time.Minute, "the new subnet's gauge and both DELs", func(context.Context) (bool, error) {
		controller, agents = scrape(t, ctrlAddr), nil
		for _, addr := range agentAddrs {
			agents = append(agents, scrape(t, addr))
		}
		return total([]map[string]*dto.MetricFamily{controller}, "ipkeeper_subnet_addresses", "subnet", ns+"-metrics") > 0 &&
			total(agents, "ipkeeper_agent_requests_total", "op", "del", "result", "ok") >= 2, nil
	})
	if testing.Verbose() {
		logExcerpt(t, "controller", controller)
		logExcerpt(t, "agent of "+env.Nodes[0], agents[0])
	}
	if m := missing(read, append(agents, controller)); len(m) > 0 {
		t.Errorf("the dashboard or the alert rules read %v, which no agent or controller exports", m)
	}
	if got := total(agents, "ipkeeper_agent_requests_total", "op", "add", "result", "ok"); got < 2 {
		t.Errorf("ipkeeper_agent_requests_total{op=add,result=ok} = %v over the agents, want ≥ 2", got)
	}
	if got := total([]map[string]*dto.MetricFamily{controller}, "ipkeeper_webhook_refusals_total", "kind", "SpiderIPPool", "operation", "create", "reason", "invalid"); got < 1 {
		t.Errorf("ipkeeper_webhook_refusals_total{kind=SpiderIPPool,operation=create,reason=invalid} = %v, want ≥ 1", got)
	}
	if got := total([]map[string]*dto.MetricFamily{controller}, "ipkeeper_subnet_addresses", "subnet", ns+"-metrics"); got != 11 {
		t.Errorf("ipkeeper_subnet_addresses{subnet=%s-metrics} = %v, want 11", ns, got)
	}
	for i, fams := range append(agents, controller) {
		if fams["ipkeeper_build_info"] == nil {
			t.Errorf("scrape %d has no ipkeeper_build_info", i)
		}
	}
}

// namesReadByChart lists the metrics the chart's dashboard and rules read,
// parsed by hack/tools/prometheus/promexprs (which also fails when one of
// their expressions does not parse).
func namesReadByChart(t *testing.T) []string {
	t.Helper()
	_, file, _, _ := runtime.Caller(0)
	root := filepath.Join(filepath.Dir(file), "..", "..")
	cmd := exec.CommandContext(t.Context(), "go", "run", "./promexprs",
		"-dashboard", filepath.Join(root, "charts/ipkeeper/files/dashboards/ipkeeper.json"),
		"-rules", filepath.Join(root, "charts/ipkeeper/files/alerts/ipkeeper.rules.yaml"))
	cmd.Dir = filepath.Join(root, "hack/tools/prometheus")
	var stderr bytes.Buffer
	cmd.Stderr = &stderr
	out, err := cmd.Output()
	if err != nil {
		t.Fatalf("promexprs: %v\n%s", err, stderr.String())
	}
	names := strings.Fields(string(out))
	if len(names) < 10 {
		t.Fatalf("promexprs named only %v", names)
	}
	return names
}

func scrape(t *testing.T, addr string) map[string]*dto.MetricFamily {
	t.Helper()
	ctx, cancel := context.WithTimeout(t.Context(), 10*time.Second)
	defer cancel()
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, "http://"+addr+"/metrics", nil)
	if err != nil {
		t.Fatal(err)
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatalf("scrape %s: %v", addr, err)
	}
	defer resp.Body.Close()
	body, err := io.ReadAll(resp.Body)
	if err != nil {
		t.Fatalf("scrape %s: %v", addr, err)
	}
	p := expfmt.NewTextParser(model.UTF8Validation)
	fams, err := p.TextToMetricFamilies(bytes.NewReader(body))
	if err != nil {
		t.Fatalf("parse the scrape of %s: %v", addr, err)
	}
	return fams
}

// logExcerpt logs the scrape's ipkeeper_ series that are not zero, in the
// exposition format (docs/operations.md shows such an excerpt).
func logExcerpt(t *testing.T, who string, fams map[string]*dto.MetricFamily) {
	var names []string
	for n := range fams {
		if strings.HasPrefix(n, "ipkeeper_") {
			names = append(names, n)
		}
	}
	slices.Sort(names)
	var b strings.Builder
	for _, n := range names {
		f := fams[n]
		kept := &dto.MetricFamily{Name: f.Name, Help: f.Help, Type: f.Type}
		for _, m := range f.GetMetric() {
			if m.GetCounter().GetValue()+m.GetGauge().GetValue()+float64(m.GetHistogram().GetSampleCount()) != 0 || n == "ipkeeper_pool_free_addresses" {
				kept.Metric = append(kept.Metric, m)
			}
		}
		if len(kept.Metric) > 0 {
			_, _ = expfmt.MetricFamilyToText(&b, kept)
		}
	}
	t.Logf("scrape of the %s, ipkeeper_ series that are not zero:\n%s", who, b.String())
}

// seriesNames are the names a family's samples carry: a histogram's
// _bucket, _sum and _count, a summary's _sum and _count besides its own.
func seriesNames(f *dto.MetricFamily) []string {
	n := f.GetName()
	switch f.GetType() {
	case dto.MetricType_HISTOGRAM:
		return []string{n + "_bucket", n + "_sum", n + "_count"}
	case dto.MetricType_SUMMARY:
		return []string{n, n + "_sum", n + "_count"}
	}
	return []string{n}
}

// missing returns the names no scrape exports with at least one series.
func missing(names []string, scrapes []map[string]*dto.MetricFamily) []string {
	exported := map[string]bool{}
	for _, fams := range scrapes {
		for _, f := range fams {
			if len(f.GetMetric()) == 0 {
				continue
			}
			for _, n := range seriesNames(f) {
				exported[n] = true
			}
		}
	}
	var out []string
	for _, n := range names {
		if !exported[n] && !slices.Contains(synthesized, n) {
			out = append(out, n)
		}
	}
	return out
}

// total sums the counter or gauge name over the scrapes' series that carry
// every label=value pair of kv.
func total(scrapes []map[string]*dto.MetricFamily, name string, kv ...string) float64 {
	sum := 0.0
	for _, fams := range scrapes {
		f := fams[name]
		if f == nil {
			continue
		}
	series:
		for _, m := range f.GetMetric() {
			labels := map[string]string{}
			for _, l := range m.GetLabel() {
				labels[l.GetName()] = l.GetValue()
			}
			for i := 0; i+1 < len(kv); i += 2 {
				if labels[kv[i]] != kv[i+1] {
					continue series
				}
			}
			sum += m.GetCounter().GetValue() + m.GetGauge().GetValue()
		}
	}
	return sum
}
