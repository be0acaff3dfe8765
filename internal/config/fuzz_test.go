package config

import (
	"testing"

	"github.com/google/go-cmp/cmp"
	"github.com/google/go-cmp/cmp/cmpopts"
	"sigs.k8s.io/yaml"
)

// The configuration file is what an operator writes. Whatever it holds: no
// panic; a refusal has a message; what is accepted is valid and reads back
// the same once written out.
func FuzzParse(f *testing.F) {
	for _, seed := range []string{
		"ipamUnixSocketPath: /var/run/spidernet/spiderpool.sock\nenableIPv4: true\nenableIPv6: false\ngc:\n  enabled: false\n  scanIntervalSeconds: 600\n",
		"clusterDefaultPools:\n- name: default-v4\n  subnet: 10.6.0.0/16\n  ips: [10.6.168.101-10.6.168.110]\n  gateway: 10.6.0.1\n",
		"enableStatefullSet: false\n", "enableIPv4: false\nenableIPv6: false\n", "gc:\n  scanIntervalSeconds: 0\n",
		`{"enableSpiderSubnet": false, "enableAutoPoolForApplication": false}`, "", "null", "- a\n", "a: [\n",
	} {
		f.Add([]byte(seed))
	}
	f.Fuzz(func(t *testing.T, data []byte) {
		c, err := Parse(data)
		if err != nil {
			if err.Error() == "" {
				t.Fatalf("%q refused without a message", data)
			}
			return
		}
		if err := c.Validate(); err != nil {
			t.Fatalf("%q accepted but invalid: %v", data, err)
		}
		out, err := yaml.Marshal(c)
		if err != nil {
			t.Fatalf("marshal accepted configuration: %v", err)
		}
		again, err := Parse(out)
		if err != nil {
			t.Fatalf("configuration written back out %q is refused: %v", out, err)
		}
		if diff := cmp.Diff(c, again, cmpopts.EquateEmpty()); diff != "" {
			t.Fatalf("configuration changed on a round trip (-first +again):\n%s", diff)
		}
	})
}
