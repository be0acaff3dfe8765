package main

import (
	"math"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
)

func TestParseSamples(t *testing.T) {
	text := `# HELP apiserver_request_total Counter of apiserver requests.
# TYPE apiserver_request_total counter
apiserver_request_total{code="201",component="apiserver",group="ipkeeper.io",resource="ipclaims",scope="cluster",subresource="",verb="POST",version="v1alpha1"} 1000
apiserver_request_total{code="409",group="ipkeeper.io",resource="ipclaims",subresource="",verb="POST"} 12
apiserver_request_total{code="200",group="",resource="pods",subresource="status",verb="PUT"} 2.5e+03
other_metric{a="b"} 7
escaped{path="a\"b\\c"} 1 1700000000000
`
	got, err := parseSamples(text, func(name string) bool { return name != "other_metric" })
	if err != nil {
		t.Fatal(err)
	}
	if len(got) != 4 {
		t.Fatalf("got %d samples, want 4", len(got))
	}
	if got[2].value != 2500 || got[2].labels["subresource"] != "status" {
		t.Errorf("third sample = %+v", got[2])
	}
	if got[3].labels["path"] != `a"b\c` || got[3].value != 1 {
		t.Errorf("escaped sample = %+v", got[3])
	}
}

func TestRequests(t *testing.T) {
	claims := requestKey{verb: "POST", group: "ipkeeper.io", resource: "ipclaims", code: "201"}
	before := requests{claims: 10}
	after := requests{
		claims: 1000,
		{verb: "POST", group: "ipkeeper.io", resource: "ipclaims", code: "409"}:                    12,
		{verb: "POST", group: "spiderpool.spidernet.io", resource: "spiderendpoints", code: "201"}: 1000,
		{verb: "GET", group: "spiderpool.spidernet.io", resource: "spiderendpoints", code: "200"}:  50,
		{verb: "PUT", resource: "pods", subresource: "status", code: "200"}:                        2000,
		{verb: "DELETE", group: "ipkeeper.io", resource: "ipclaims", code: "200"}:                  3,
		{verb: "WATCH", group: "ipkeeper.io", resource: "ipclaims", code: "0"}:                     1,
	}
	d := after.minus(before)
	all, conflicts := d.ipamWrites()
	if want := 990.0 + 12 + 1000 + 3; all != want || conflicts != 12 {
		t.Errorf("ipamWrites = %v, %v, want %v, 12", all, conflicts, want)
	}
	if got, want := d.total(), 990.0+12+1000+50+2000+3+1; got != want {
		t.Errorf("total = %v, want %v", got, want)
	}
	want := []requestCount{{"PUT pods/status", 2000}, {"POST ipclaims", 1002}}
	if diff := cmp.Diff(want, d.top(2)); diff != "" {
		t.Errorf("top (-want +got):\n%s", diff)
	}
}

func TestHistogramQuantile(t *testing.T) {
	h := histogram{
		bounds: []float64{0.01, 0.1, 1, math.Inf(1)},
		counts: []float64{0, 50, 100, 100},
	}
	for _, tc := range []struct {
		q, want float64
	}{
		{0.5, 0.1},    // the 50th request is the last of the second bucket
		{0.25, 0.055}, // halfway through the second bucket
		{0.99, 0.982}, // 49 of 50 through the third bucket
		{1.0, 1},      // the last finite bound
	} {
		if got := h.quantile(tc.q); math.Abs(got-tc.want) > 1e-9 {
			t.Errorf("quantile(%v) = %v, want %v", tc.q, got, tc.want)
		}
	}
	over := histogram{bounds: []float64{1, math.Inf(1)}, counts: []float64{1, 10}}
	if got := over.quantile(0.99); got != 1 {
		t.Errorf("quantile in +Inf = %v, want the largest finite bound 1", got)
	}
	if got := (histogram{}).quantile(0.5); !math.IsNaN(got) {
		t.Errorf("empty quantile = %v, want NaN", got)
	}
	before := histogram{bounds: h.bounds, counts: []float64{0, 10, 10, 10}}
	if got := h.minus(before).count(); got != 90 {
		t.Errorf("count after minus = %v, want 90", got)
	}
}

func TestPercentile(t *testing.T) {
	var d []time.Duration
	for i := 1; i <= 200; i++ {
		d = append(d, time.Duration(i)*time.Millisecond)
	}
	for _, tc := range []struct{ p, want float64 }{{50, 100}, {99, 198}, {100, 200}, {0, 1}} {
		if got := percentile(d, tc.p); got != tc.want {
			t.Errorf("percentile(%v) = %v, want %v", tc.p, got, tc.want)
		}
	}
	if got := percentile(nil, 50); got != 0 {
		t.Errorf("percentile of nothing = %v", got)
	}
}

func TestPoolRange(t *testing.T) {
	for _, tc := range []struct {
		n    int
		last string
	}{{1, "10.6.100.1"}, {100, "10.6.100.100"}, {1000, "10.6.103.232"}, {maxPods, "10.6.200.0"}} {
		first, last := poolRange(tc.n)
		if first.String() != "10.6.100.1" || last.String() != tc.last {
			t.Errorf("poolRange(%d) = %s-%s, want 10.6.100.1-%s", tc.n, first, last, tc.last)
		}
	}
}

func TestField(t *testing.T) {
	line := `time=2026-11-22T10:00:00.123Z level=INFO msg="sandbox ready" node=node1 pod=ns/p netns=/run/netns/x took=12.5ms`
	if got := field(line, "took"); got != "12.5ms" {
		t.Errorf("took = %q", got)
	}
	if got := field(line, "time"); got != "2026-11-22T10:00:00.123Z" {
		t.Errorf("time = %q", got)
	}
	if got := field(line, "missing"); got != "" {
		t.Errorf("missing = %q", got)
	}
}

func TestValidate(t *testing.T) {
	ok := config{nodes: 2, deployments: 10, replicas: 10, rounds: 1, modes: []string{modeIpkeeper, modeHostLocal}}
	if err := ok.validate(); err != nil {
		t.Errorf("valid config: %v", err)
	}
	real := ok
	real.realNodes, real.deployments, real.replicas, real.maxPods = true, 2, 100, 102
	if err := real.validate(); err != nil {
		t.Errorf("200 pods on 2 real nodes of maxPods 102: %v", err)
	}
	for name, mut := range map[string]func(*config){
		"no nodes":          func(c *config) { c.nodes = 0 },
		"too many per node": func(c *config) { c.replicas = 200 },
		"unknown mode":      func(c *config) { c.modes = []string{"calico"} },
		"no replicas":       func(c *config) { c.replicas = 0 },
		"no rounds":         func(c *config) { c.rounds = 0 },
		"over real maxPods": func(c *config) { c.realNodes, c.replicas = true, 22 }, // 220 pods; 2 nodes of 110, 2 each kept for ipkeeper
	} {
		c := ok
		mut(&c)
		if err := c.validate(); err == nil {
			t.Errorf("%s: no error", name)
		}
	}
}

func TestRoundsAlternateTheOrder(t *testing.T) {
	modes := []string{modeIpkeeper, modeHostLocal}
	want := [][]string{{modeIpkeeper, modeHostLocal}, {modeHostLocal, modeIpkeeper}, {modeIpkeeper, modeHostLocal}}
	for i, w := range want {
		if got := roundOrder(modes, i); !cmp.Equal(got, w) {
			t.Errorf("round %d: %v, want %v", i, got, w)
		}
	}
	if !cmp.Equal(modes, []string{modeIpkeeper, modeHostLocal}) {
		t.Errorf("roundOrder changed its argument: %v", modes)
	}
}

// The ratios of several rounds divide summed times: 60 + 30 s of ipkeeper
// over 50 + 25 s of host-local is 1.2. Rounds where a mode did not complete
// are left out.
func TestRatiosSumTheRounds(t *testing.T) {
	mode := func(create float64) *modeResult {
		return &modeResult{CreateS: create, RecreateS: 2 * create, DeleteS: 1, Phases: make([]phaseResult, 3)}
	}
	rounds := []round{
		{Ipkeeper: mode(60), HostLocal: mode(50)},
		{Ipkeeper: mode(30), HostLocal: mode(25)},
		{Ipkeeper: mode(99), HostLocal: &modeResult{}}, // incomplete: ignored
	}
	got := ratios(rounds)
	want := map[string]float64{phaseCreate: 1.2, phaseRecreate: 1.2, phaseDelete: 1}
	if !cmp.Equal(got, want) {
		t.Errorf("ratios %v, want %v", got, want)
	}
	if r := ratios(rounds[2:]); r != nil {
		t.Errorf("ratios of incomplete rounds %v, want nil", r)
	}
}
