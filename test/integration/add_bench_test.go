//go:build integration

package integration

import (
	"bufio"
	"fmt"
	"slices"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/client-go/kubernetes"

	"github.com/ipkeeper/ipkeeper/test/localcluster"
)

// BenchmarkAdd measures ADD through the agent's socket with warm caches:
// five concurrent requests, as a kubelet makes, on one agent. It reports the
// p50 and p99 latency and the API writes per pod, counted by the API server.
//
//	go test -tags integration -run '^$' -bench BenchmarkAdd -benchtime 1000x ./test/integration/
func BenchmarkAdd(b *testing.B) {
	ns := fmt.Sprintf("bench-add-%d", time.Now().UnixNano()%100000)
	node := ns + "-node"
	pool := ns + "-pool"
	ctx := b.Context()
	namespace(b, ns)
	mustCreate(b, &corev1.Node{ObjectMeta: metav1.ObjectMeta{Name: node}},
		ipPool(pool, "10.8.0.0/16", "10.8.0.1-10.8.255.254"))
	pods := createPods(b, ns, pool, b.N, []string{node})
	agent := startAgent(b, node, b.TempDir())
	before := writes(b)

	lat := make([]time.Duration, b.N)
	sem := make(chan struct{}, 5)
	var wg sync.WaitGroup
	b.ResetTimer()
	for i := range b.N {
		wg.Go(func() {
			sem <- struct{}{}
			defer func() { <-sem }()
			start := time.Now()
			if _, err := add(ctx, agent, pods[i], fmt.Sprint("bench-", i)); err != nil {
				b.Errorf("ADD pod-%d: %v", i, err)
			}
			lat[i] = time.Since(start)
		})
	}
	wg.Wait()
	b.StopTimer()
	after := writes(b)
	slices.Sort(lat)
	b.ReportMetric(float64(lat[len(lat)/2].Microseconds())/1000, "p50-ms")
	b.ReportMetric(float64(lat[len(lat)*99/100].Microseconds())/1000, "p99-ms")
	b.ReportMetric((after-before)/float64(b.N), "writes/pod")
}

// writes sums the API server's count of create, update, patch and delete
// requests on claims and endpoints.
func writes(tb testing.TB) float64 {
	return requestCount(tb, func(line string) bool {
		return (strings.Contains(line, `resource="ipclaims"`) || strings.Contains(line, `resource="spiderendpoints"`)) &&
			containsAny(line, `verb="POST"`, `verb="PUT"`, `verb="PATCH"`, `verb="DELETE"`)
	})
}

// requestCount sums apiserver_request_total over the series match selects.
func requestCount(tb testing.TB, match func(line string) bool) float64 {
	tb.Helper()
	cfg, err := localcluster.RESTConfigFrom(env.kubeconfig)
	if err != nil {
		tb.Fatal(err)
	}
	raw, err := kubernetes.NewForConfigOrDie(cfg).Discovery().RESTClient().Get().AbsPath("/metrics").DoRaw(tb.Context())
	if err != nil {
		tb.Fatal(err)
	}
	var sum float64
	sc := bufio.NewScanner(strings.NewReader(string(raw)))
	sc.Buffer(make([]byte, 1<<20), 1<<20)
	for sc.Scan() {
		line := sc.Text()
		if !strings.HasPrefix(line, "apiserver_request_total{") || !match(line) {
			continue
		}
		if v, err := strconv.ParseFloat(line[strings.LastIndexByte(line, ' ')+1:], 64); err == nil {
			sum += v
		}
	}
	return sum
}

func containsAny(s string, subs ...string) bool {
	for _, sub := range subs {
		if strings.Contains(s, sub) {
			return true
		}
	}
	return false
}
