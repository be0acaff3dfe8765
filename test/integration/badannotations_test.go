//go:build integration

package integration

import (
	"context"
	"errors"
	"fmt"
	"maps"
	"strings"
	"testing"
	"time"

	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/types"
	"k8s.io/utils/ptr"
	"sigs.k8s.io/controller-runtime/pkg/client"

	"github.com/ipkeeper/ipkeeper/internal/agentapi"
	"github.com/ipkeeper/ipkeeper/internal/spiderpool"
)

// A pod whose ipam annotations (or whose namespace's default-pool
// annotations) are malformed gets, from a real agent, CNI error 7 and a
// Warning event that name the annotation, repeat what was written and say
// what is accepted; it gets no address, and the address a well-formed pod
// already holds is untouched.
func TestIntegrationMalformedAnnotationsAreReportedAndChangeNothing(t *testing.T) {
	const ns, badNS, pool, node = "bad-anno", "bad-anno-ns-default", "bad-anno", "bad-anno-node"
	namespace(t, ns)
	mustCreate(t, &corev1.Node{ObjectMeta: metav1.ObjectMeta{Name: node}}, ipPool(pool, "10.74.0.0/16", "10.74.0.1-10.74.0.10"))
	t.Cleanup(func() { deleteClaimsOf(t, pool) })
	namespace(t, badNS)
	nsObj := &corev1.Namespace{ObjectMeta: metav1.ObjectMeta{Name: badNS}}
	patch := fmt.Sprintf(`{"metadata":{"annotations":{%q:%q}}}`, spiderpool.AnnoNSDefaultIPv4Pool, `["bad-anno"`)
	if err := env.client.Patch(t.Context(), nsObj, client.RawPatch(types.MergePatchType, []byte(patch))); err != nil {
		t.Fatal(err)
	}
	agent := startAgent(t, node, t.TempDir())

	good := annotatedPod(t, ns, "good", map[string]string{spiderpool.AnnoPool: `{"ipv4":["bad-anno"]}`})
	resp, err := add(t.Context(), agent, good, "c-good")
	if err != nil || len(resp.IPs) != 1 {
		t.Fatalf("ADD of the well-formed pod: %+v, %v", resp, err)
	}
	before := claimsOf(t, pool)

	withPool := func(key, value string) map[string]string {
		return map[string]string{spiderpool.AnnoPool: `{"ipv4":["bad-anno"]}`, key: value}
	}
	cases := []struct {
		name, ns string
		ann      map[string]string
		want     []string
	}{
		{"ippool not JSON", ns, map[string]string{spiderpool.AnnoPool: `{"ipv4": [bad-anno]}`},
			[]string{spiderpool.AnnoPool + `='{"ipv4": [bad-anno]}'`, "not valid JSON", `want {"ipv4":["pool"],"ipv6":["pool"]}`}},
		{"ippool trailing garbage", ns, map[string]string{spiderpool.AnnoPool: `{"ipv4":["bad-anno"]}}`},
			[]string{spiderpool.AnnoPool + `='{"ipv4":["bad-anno"]}}'`, "trailing data"}},
		{"ippool names no pool", ns, map[string]string{spiderpool.AnnoPool: `{"ipv4":[]}`},
			[]string{spiderpool.AnnoPool + `='{"ipv4":[]}'`, "names no pool", `want at least one of "ipv4" or "ipv6"`}},
		{"ippools not JSON", ns, map[string]string{spiderpool.AnnoPools: `[{"interface":"eth0","ipv4":["bad-anno"]}`},
			[]string{spiderpool.AnnoPools + `='[{"interface":"eth0","ipv4":["bad-anno"]}'`, "not valid JSON", `want [{"interface":"eth0","ipv4":["pool"]}`}},
		{"ippools interface twice", ns, map[string]string{spiderpool.AnnoPools: `[{"interface":"eth0","ipv4":["bad-anno"]},{"interface":"eth0","ipv4":["bad-anno"]}]`},
			[]string{spiderpool.AnnoPools, `interface "eth0" appears twice`}},
		{"subnet not JSON", ns, map[string]string{spiderpool.AnnoSubnet: `{"ipv4":"bad-anno-subnet"}`},
			[]string{spiderpool.AnnoSubnet + `='{"ipv4":"bad-anno-subnet"}'`, "not valid JSON", `want {"interface":"eth0","ipv4":["subnet-v4"]`}},
		{"subnets empty", ns, map[string]string{spiderpool.AnnoSubnets: `[]`},
			[]string{spiderpool.AnnoSubnets + `='[]'`, "is an empty list"}},
		{"ippool-ip-number not a number", ns, map[string]string{spiderpool.AnnoSubnet: `{"ipv4":["bad-anno-subnet"]}`, spiderpool.AnnoPoolIPNumber: "five"},
			[]string{spiderpool.AnnoPoolIPNumber, `"five" is not a size`, `want a number of addresses such as "5", or "+3"`}},
		{"routes not JSON", ns, withPool(spiderpool.AnnoRoutes, `[{"dst":"10.0.0.0/8","gw":"10.74.0.254"}`),
			[]string{spiderpool.AnnoRoutes + `='[{"dst":"10.0.0.0/8","gw":"10.74.0.254"}'`, "not valid JSON", `want [{"dst":"10.0.0.0/16","gw":"10.6.0.1"}]`}},
		{"routes default route", ns, withPool(spiderpool.AnnoRoutes, `[{"dst":"0.0.0.0/0","gw":"10.74.0.254"}]`),
			[]string{spiderpool.AnnoRoutes, `dst "0.0.0.0/0" is a default route`}},
		{"routes dst not a CIDR", ns, withPool(spiderpool.AnnoRoutes, `[{"dst":"10.0.0.0","gw":"10.74.0.254"}]`),
			[]string{spiderpool.AnnoRoutes, `dst "10.0.0.0" is not a CIDR`}},
		{"routes gw in no subnet of the pod", ns, withPool(spiderpool.AnnoRoutes, `[{"dst":"172.16.0.0/16","gw":"192.168.9.9"}]`),
			[]string{spiderpool.AnnoRoutes, "gw 192.168.9.9 is in none of the subnets of interface eth0 (10.74.0.0/16)"}},
		{"namespace default pool not JSON", badNS, nil,
			[]string{spiderpool.AnnoNSDefaultIPv4Pool + `='["bad-anno"'`, "not valid JSON", `want ["pool1","pool2"]`}},
	}
	for i, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			p := annotatedPod(t, tc.ns, fmt.Sprintf("bad-%d", i), tc.ann)
			_, err := add(t.Context(), agent, p, fmt.Sprintf("c-bad-%d", i))
			var apiErr *agentapi.Error
			if !errors.As(err, &apiErr) || apiErr.Code != agentapi.CodeInvalidConfig {
				t.Fatalf("ADD: %v; want CNI error %d", err, agentapi.CodeInvalidConfig)
			}
			for _, w := range tc.want {
				if !strings.Contains(apiErr.Msg, w) {
					t.Errorf("error %q does not say %q", apiErr.Msg, w)
				}
			}
			t.Logf("CNI error %d: %s", apiErr.Code, apiErr.Msg)
			event := podWarning(t, p, "IPAllocationFailed")
			if !strings.Contains(event, tc.want[0]) {
				t.Errorf("event %q does not say %q", event, tc.want[0])
			}
		})
	}
	// A pool that does not exist is no syntax error: the allocation fails,
	// naming the pool and why.
	unknown := annotatedPod(t, ns, "unknown-pool", map[string]string{spiderpool.AnnoPool: `{"ipv4":["no-such-pool"]}`})
	_, err = add(t.Context(), agent, unknown, "c-unknown")
	var apiErr *agentapi.Error
	if !errors.As(err, &apiErr) || apiErr.Code != agentapi.CodeAllocationFailed || !strings.Contains(apiErr.Msg, "no-such-pool: no such SpiderIPPool") {
		t.Fatalf("ADD naming an unknown pool: %v; want code %d naming the pool", err, agentapi.CodeAllocationFailed)
	}
	t.Logf("CNI error %d: %s", apiErr.Code, apiErr.Msg)
	if event := podWarning(t, unknown, "IPAllocationFailed"); !strings.Contains(event, "no such SpiderIPPool") {
		t.Errorf("event %q does not name the missing pool", event)
	}
	if after := claimsOf(t, pool); !maps.Equal(before, after) {
		t.Fatalf("claims of %s changed: before %v, after %v", pool, before, after)
	}
}

// annotatedPod creates a bare pod in ns, bound to no real node, with ann.
func annotatedPod(t *testing.T, ns, name string, ann map[string]string) *corev1.Pod {
	t.Helper()
	p := &corev1.Pod{
		ObjectMeta: metav1.ObjectMeta{Namespace: ns, Name: name, Annotations: ann},
		Spec: corev1.PodSpec{NodeName: "bad-anno-node", AutomountServiceAccountToken: ptr.To(false),
			Containers: []corev1.Container{{Name: "c", Image: "nginx"}}},
	}
	mustCreate(t, p)
	return p
}

// podWarning waits for a Warning event of reason on p and returns its message.
func podWarning(t *testing.T, p *corev1.Pod, reason string) string {
	t.Helper()
	var msg string
	poll(t, 30*time.Second, reason+" event on "+p.Name, func(ctx context.Context) (bool, error) {
		var events corev1.EventList
		if err := env.client.List(ctx, &events, client.InNamespace(p.Namespace)); err != nil {
			return false, err
		}
		for _, e := range events.Items {
			if e.InvolvedObject.Name == p.Name && e.Reason == reason && e.Type == corev1.EventTypeWarning {
				msg = e.Message
				return true, nil
			}
		}
		return false, nil
	})
	return msg
}
