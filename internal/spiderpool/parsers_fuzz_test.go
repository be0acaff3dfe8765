package spiderpool

import (
	"encoding/json"
	"net/netip"
	"os"
	"regexp"
	"strconv"
	"strings"
	"testing"
	"unicode"

	"github.com/google/go-cmp/cmp"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	"github.com/ipkeeper/ipkeeper/api/v2beta1"
	"github.com/ipkeeper/ipkeeper/internal/ipnet"
)

// What the annotation parsers accept is usable as it is and reads back the
// same once written out again.
func FuzzAcceptedAnnotationsRoundTrip(f *testing.F) {
	for _, seed := range []string{
		`[{"dst":"10.0.0.0/8","gw":"10.6.0.1"},{"dst":"fd00:1::/64","gw":"fd00::1"}]`, `[{"dst":"10.0.0.1/8","gw":"10.6.0.1"}]`,
		`10.6.168.101, fd00::1`, `+3`, ` 5 `, `0`, `+0`, `{"ipv4":["a"],"ipv6":["b"],"cleangateway":true}`,
	} {
		f.Add(seed)
	}
	f.Fuzz(func(t *testing.T, value string) {
		if routes, err := ParseRoutes(value); err == nil {
			type jr struct {
				Dst string `json:"dst"`
				GW  string `json:"gw"`
			}
			out := make([]jr, 0, len(routes))
			for _, r := range routes {
				if !r.Dst.IsValid() || r.Dst.Bits() == 0 || r.Dst != r.Dst.Masked() || !r.GW.IsValid() {
					t.Fatalf("routes %q: accepted route %+v is not a masked non-default CIDR via an address", value, r)
				}
				out = append(out, jr{r.Dst.String(), r.GW.String()})
			}
			data, _ := json.Marshal(out)
			again, err := ParseRoutes(string(data))
			if err != nil || !cmp.Equal(routes, again, cmp.Comparer(func(a, b netip.Prefix) bool { return a == b }), cmp.Comparer(func(a, b netip.Addr) bool { return a == b })) {
				t.Fatalf("routes %q: written back as %s, parsed %v, %v", value, data, again, err)
			}
		}
		if addrs, err := ParseOrdinalIPs(value); err == nil {
			texts := make([]string, len(addrs))
			for i, a := range addrs {
				texts[i] = a.String()
			}
			again, err := ParseOrdinalIPs(strings.Join(texts, ","))
			if err != nil || !slicesEqual(addrs, again) {
				t.Fatalf("ordinal-ips %q: written back, parsed %v, %v; want %v", value, again, err, addrs)
			}
		}
		if size, err := ParsePoolSize(value); err == nil {
			if !size.Relative && size.N == 0 {
				t.Fatalf("ippool-ip-number %q: accepted a fixed size of 0", value)
			}
			if again, err := ParsePoolSize(size.String()); err != nil || again != size {
				t.Fatalf("ippool-ip-number %q: %v written as %q parsed %v, %v", value, size, size.String(), again, err)
			}
		}
		if c, err := ParsePoolAnnotation(AnnoPool, value); err == nil {
			if c.empty() {
				t.Fatalf("ippool %q: accepted a choice naming no pool", value)
			}
			data, _ := json.Marshal(c)
			if again, err := ParsePoolAnnotation(AnnoPool, string(data)); err != nil || !cmp.Equal(c, again) {
				t.Fatalf("ippool %q: written back as %s, parsed %+v, %v", value, data, again, err)
			}
		}
	})
}

func slicesEqual(a, b []netip.Addr) bool {
	if len(a) != len(b) {
		return false
	}
	for i := range a {
		if a[i] != b[i] {
			return false
		}
	}
	return true
}

// Spiderpool's status.allocatedIPs, which the importer reads: refusals name
// the pool and the field; what is accepted holds addresses and pods, and an
// encoding of it reads back the same.
func FuzzAllocatedIPs(f *testing.F) {
	for _, seed := range []string{
		`{"10.6.168.101":{"pod":"default/web-0","podUid":"u1"},"fd00::1":{"pod":"ns/p","podUid":"u2","interface":"net1"}}`,
		`{}`, `{"x":{"pod":"a/b"}}`, `{"10.0.0.1":{"pod":"nope"}}`, `{"::ffff:10.0.0.1":{"pod":"a/b"},"10.0.0.1":{"pod":"a/c"}}`, `[`,
	} {
		f.Add(seed)
	}
	f.Fuzz(func(t *testing.T, value string) {
		p := &v2beta1.SpiderIPPool{ObjectMeta: metav1.ObjectMeta{Name: "fz"}, Status: v2beta1.SpiderIPPoolStatus{AllocatedIPs: &value}}
		recs, err := AllocatedIPs(p)
		if err != nil {
			if !strings.Contains(err.Error(), "SpiderIPPool fz: status.allocatedIPs") {
				t.Fatalf("%q: refusal %q does not name the pool and the field", value, err)
			}
			return
		}
		enc := map[string]allocatedIP{}
		for a, r := range recs {
			if !a.IsValid() || a.Is4In6() || r.Pod.Namespace == "" || r.Pod.Name == "" {
				t.Fatalf("%q: accepted record %s %+v", value, a, r)
			}
			enc[a.String()] = allocatedIP{Pod: r.Pod.String(), PodUID: r.UID, Interface: r.Interface}
		}
		if len(recs) == 0 {
			return
		}
		data, _ := json.Marshal(enc)
		s := string(data)
		p.Status.AllocatedIPs = &s
		again, err := AllocatedIPs(p)
		if err != nil || !cmp.Equal(recs, again) {
			t.Fatalf("%q: written back as %s, parsed %v, %v", value, data, again, err)
		}
	})
}

// OrdinalOf reads "<sts>-<n>": any ordinal it returns is the number after
// the StatefulSet's name, and every ordinal's pod name reads back as it.
func FuzzOrdinalOf(f *testing.F) {
	f.Add("web-0", "web", uint32(3))
	f.Add("web-web-01", "web-web", uint32(0))
	f.Add("web--1", "web", uint32(2147483647))
	f.Fuzz(func(t *testing.T, pod, sts string, n uint32) {
		if o := OrdinalOf(pod, sts); o != nil {
			if *o < 0 || !strings.HasPrefix(pod, sts+"-") {
				t.Fatalf("OrdinalOf(%q, %q) = %d", pod, sts, *o)
			}
		}
		want := int32(n & 0x7fffffff)
		if o := OrdinalOf(sts+"-"+strconv.Itoa(int(want)), sts); o == nil || *o != want {
			t.Fatalf("OrdinalOf(%q) = %v, want %d", sts+"-"+strconv.Itoa(int(want)), o, want)
		}
	})
}

// The CRD schema checks the shape of address entries while the webhook is
// down. It must never refuse what the parser accepts (written without
// spaces, as Spiderpool requires), nor anything ipkeeper itself writes (the
// canonical form: automatic pools, the importer).
func FuzzSchemaPatternAcceptsWhatTheParserDoes(f *testing.F) {
	patterns := schemaPatterns(f)
	for _, seed := range []string{"10.6.168.101", "10.6.168.101-10.6.168.110", "fd00::1-fd00::ff", "1:2:3:4:5:6:7::", "::1:2:3:4:5:6:7", "64:ff9b::10.0.0.1", "0:0:0:0:0:0:0:1"} {
		f.Add(seed)
	}
	f.Fuzz(func(t *testing.T, entry string) {
		r, err := ipnet.ParseRange(entry)
		if err != nil {
			return
		}
		for _, p := range patterns {
			if canonical := r.String(); !p.re.MatchString(canonical) || len(canonical) > p.maxLen {
				t.Fatalf("%s refuses %q, the canonical form of %q", p.where, canonical, entry)
			}
			if !strings.ContainsFunc(entry, unicode.IsSpace) && (!p.re.MatchString(entry) || len(entry) > p.maxLen) {
				t.Fatalf("%s refuses %q, which the parser accepts", p.where, entry)
			}
		}
	})
}

type schemaPattern struct {
	where  string
	re     *regexp.Regexp
	maxLen int
}

// schemaPatterns reads the item pattern and maximum length of every address
// list in the generated CRDs.
func schemaPatterns(tb testing.TB) []schemaPattern {
	tb.Helper()
	var out []schemaPattern
	for _, crd := range []string{"spiderippools", "spidersubnets", "spiderreservedips"} {
		path := "../../config/crd/bases/spiderpool.spidernet.io_" + crd + ".yaml"
		data, err := os.ReadFile(path)
		if err != nil {
			tb.Fatal(err)
		}
		lines := strings.Split(string(data), "\n")
		for i, l := range lines {
			pat, ok := strings.CutPrefix(strings.TrimSpace(l), "pattern: ")
			if !ok || i == 0 || !strings.Contains(pat, "[0-9a-fA-F]") {
				continue
			}
			maxLen, err := strconv.Atoi(strings.TrimPrefix(strings.TrimSpace(lines[i-1]), "maxLength: "))
			if err != nil {
				tb.Fatalf("%s:%d: pattern not preceded by maxLength", path, i+1)
			}
			out = append(out, schemaPattern{where: path + ":" + strconv.Itoa(i+1), re: regexp.MustCompile(pat), maxLen: maxLen})
		}
	}
	if len(out) != 5 {
		tb.Fatalf("found %d address-list patterns in the CRDs, want 5 (ips and excludeIPs of pools and subnets, ips of reserved IPs)", len(out))
	}
	return out
}
