package config

import (
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"
)

func write(t *testing.T, body string) string {
	t.Helper()
	p := filepath.Join(t.TempDir(), "conf.yml")
	if err := os.WriteFile(p, []byte(body), 0o600); err != nil {
		t.Fatal(err)
	}
	return p
}

func TestLoadTheChartsFile(t *testing.T) {
	got, err := Load(write(t, `ipamUnixSocketPath: /var/run/spidernet/spiderpool.sock
enableIPv4: true
enableIPv6: false
enableStatefulSet: false
enableSpiderSubnet: true
enableAutoPoolForApplication: false
clusterSubnetDefaultFlexibleIPNumber: 3
autoPoolWaitSeconds: 12
multusNamespace: ipkeeper-system
clusterNetwork: macvlan-ens192
enableIPConflictDetection: true
ipConflictDetectionTimeoutMs: 250
enableGatewayDetection: true
gatewayDetectionTimeoutMs: 1500
gc:
  enabled: false
  scanIntervalSeconds: 600
`))
	if err != nil {
		t.Fatal(err)
	}
	on, off := true, false
	want := Config{IPAMUnixSocketPath: DefaultSocketPath, EnableIPv4: &on, EnableIPv6: &off, EnableSpiderSubnet: true,
		ClusterSubnetDefaultFlexibleIPNumber: 3, AutoPoolWaitSeconds: 12,
		MultusNamespace: "ipkeeper-system", ClusterNetwork: "macvlan-ens192", GC: GC{ScanIntervalSeconds: 600},
		EnableIPConflictDetection: true, IPConflictDetectionTimeoutMs: 250, EnableGatewayDetection: true, GatewayDetectionTimeoutMs: 1500}
	if diff := cmp.Diff(want, got); diff != "" {
		t.Fatalf("Load (-want +got):\n%s", diff)
	}
}

func TestLoadWithoutAFileIsTheDefault(t *testing.T) {
	got, err := Load("")
	if err != nil || !cmp.Equal(got, Default()) {
		t.Fatalf("Load(\"\") = %+v, %v; want Default()", got, err)
	}
	if got.EnableIPv4 != nil || got.EnableIPv6 != nil || !got.EnableStatefulSet || !got.GC.Enabled {
		t.Fatalf("Default() = %+v: want families as the pools name them and every feature on", got)
	}
}

func TestLoadRefusesNamingTheKey(t *testing.T) {
	for body, want := range map[string]string{
		"enableStatefullSet: false\n":                `unknown field "enableStatefullSet"`,
		"enableIPv4: false\nenableIPv6: false\n":     "enableIPv4 and enableIPv6 are both false",
		"enableSpiderSubnet: false\n":                "enableAutoPoolForApplication is true but enableSpiderSubnet is false",
		"gc:\n  scanIntervalSeconds: 0\n":            "gc.scanIntervalSeconds 0",
		"ipamUnixSocketPath: \"\"\n":                 "ipamUnixSocketPath is empty",
		"clusterSubnetDefaultFlexibleIPNumber: -1\n": "clusterSubnetDefaultFlexibleIPNumber -1",
		"enableStatefulSet: maybe\n":                 "enableStatefulSet",
		"autoPoolWaitSeconds: 90\n":                  "autoPoolWaitSeconds 90: want 0 to 50",
		"multusNamespace: \"\"\n":                    "multusNamespace is empty",
		"ipConflictDetectionTimeoutMs: 0\n":          "ipConflictDetectionTimeoutMs 0: want 10 to 10000 milliseconds",
		"gatewayDetectionTimeoutMs: 60000\n":         "gatewayDetectionTimeoutMs 60000: want 10 to 10000 milliseconds",
	} {
		_, err := Load(write(t, body))
		if err == nil || !strings.Contains(err.Error(), want) {
			t.Errorf("Load(%q) = %v, want an error containing %q", body, err, want)
		}
	}
}
