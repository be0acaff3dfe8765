package spiderpool

import (
	"errors"
	"testing"
)

// The annotation parsers read what users write: whatever the value, they
// never panic, and every refusal is an AnnotationError naming its key.
func FuzzAnnotations(f *testing.F) {
	for _, seed := range []string{
		`{"ipv4":["p"]}`, `{"ipv4":["p"]}}`, `[{"interface":"eth0","ipv4":["a"]},{"ipv4":["b"]}]`, `[]`, ``, `null`,
		`[{"dst":"10.0.0.0/8","gw":"10.6.0.1"}]`, `[{"dst":"0.0.0.0/0","gw":"x"}]`, `10.6.168.101,fd00::1`, `+3`, `0`, `["a","b"]`, `a`,
		`{"interface":"net1","ipv4":["s4"],"ipv6":["s6"]}`,
	} {
		f.Add(seed)
	}
	f.Fuzz(func(t *testing.T, value string) {
		check := func(key string, err error) {
			if err == nil {
				return
			}
			var ae *AnnotationError
			if !errors.As(err, &ae) || ae.Key != key || ae.Reason == "" {
				t.Fatalf("%s %q: error %v is not an AnnotationError naming the key", key, value, err)
			}
		}
		_, err := ParsePoolAnnotation(AnnoPool, value)
		check(AnnoPool, err)
		_, err = ParsePoolsAnnotation(AnnoPools, value)
		check(AnnoPools, err)
		_, err = ParseRoutes(value)
		check(AnnoRoutes, err)
		_, err = ParseOrdinalIPs(value)
		check(AnnoOrdinalIPs, err)
		_, err = ParseNamespaceDefault(AnnoNSDefaultIPv4Pool, value)
		check(AnnoNSDefaultIPv4Pool, err)
		_, err = ParsePoolSize(value)
		check(AnnoPoolIPNumber, err)
		for _, key := range []string{AnnoSubnet, AnnoSubnets} {
			_, _, err = ParseAutoPoolRequest(map[string]string{key: value})
			if err != nil {
				var ae *AnnotationError
				if !errors.As(err, &ae) || ae.Reason == "" {
					t.Fatalf("%s %q: error %v is not an AnnotationError", key, value, err)
				}
			}
		}
	})
}
