//go:build e2e

package chart

import (
	"strings"
	"testing"
)

// TestSchemaRefuses checks that values.schema.json refuses Spiderpool values
// ipkeeper does not implement, and bad values, with a message that names the
// value — in helm template and helm lint alike.
func TestSchemaRefuses(t *testing.T) {
	tests := []struct {
		set  string
		want []string
	}{
		{"ipam.enableKubevirtStaticIP=true", []string{"/ipam/enableKubevirtStaticIP", "ipkeeper does not implement static IPs for KubeVirt"}},
		{"ipam.ipConflictDetectionTimeoutMs=0", []string{"/ipam/ipConflictDetectionTimeoutMs", "minimum"}},
		{"ipam.gatewayDetectionTimeoutMs=60000", []string{"/ipam/gatewayDetectionTimeoutMs", "maximum"}},
		{"multus.multusCNI.install=true", []string{"/multus/multusCNI/install", "ipkeeper does not implement installing Multus"}},
		{"multus.multusCNI.defaultCniCRName=1", []string{"/multus/multusCNI/defaultCniCRName"}},
		{"coordinator.mode=overlay", []string{"/coordinator/mode", "underlay"}},
		{"coordinator.podMACPrefix=0a1b", []string{"/coordinator/podMACPrefix"}},
		{"coordinator.hostRuleTable=254", []string{"/coordinator/hostRuleTable"}},
		{"coordinator.txQueueLen=1", []string{"/coordinator", "ipkeeper does not implement this coordinator value"}},
		{"sriov.install=true", []string{"/sriov", "ipkeeper does not implement"}},
		{"rdma.rdmaSharedDevicePlugin.install=true", []string{"/rdma", "ipkeeper does not implement"}},
		{"spiderpoolInit.image.tag=v1", []string{"/spiderpoolInit", "ipkeeper does not implement the init Job"}},
		{"spiderpoolController.tls.method=foo", []string{"/spiderpoolController/tls/method", "'auto', 'provided', 'certmanager'"}},
		{"spiderpoolAgent.updateStrategy.rollingUpdate.maxSurge=1", []string{"/spiderpoolAgent/updateStrategy/rollingUpdate/maxSurge", "must be 0"}},
		{"spiderpoolAgent.image.pullPolicy=Sometimes", []string{"/spiderpoolAgent/image/pullPolicy"}},
		{"clusterDefaultPool.ipv4Subnet=10.6.0.0/33", []string{"/clusterDefaultPool/ipv4Subnet"}},
		{"ipam.noSuchValue=true", []string{"additional properties 'noSuchValue' not allowed"}},
	}
	for _, tt := range tests {
		t.Run(tt.set, func(t *testing.T) {
			for _, cmd := range []string{"template", "lint"} {
				args := []string{cmd, chartDir(t), "--set", tt.set}
				if cmd == "template" {
					args = []string{cmd, release, chartDir(t), "--set", tt.set}
				}
				out, stderr, err := runHelm(t, args...)
				if err == nil {
					t.Fatalf("helm %s accepted --set %s", cmd, tt.set)
				}
				for _, w := range tt.want {
					if !strings.Contains(out+stderr, w) {
						t.Errorf("helm %s --set %s: output lacks %q:\n%s%s", cmd, tt.set, w, out, stderr)
					}
				}
			}
		})
	}
}

// TestSchemaAccepts checks the Spiderpool values that spell out an absence.
func TestSchemaAccepts(t *testing.T) {
	for _, set := range []string{"multus.multusCNI.install=false", "coordinator.enabled=false", "coordinator.mode=underlay", "ipam.enableKubevirtStaticIP=false"} {
		if _, stderr, err := runHelm(t, "template", release, chartDir(t), "--set", set); err != nil {
			t.Errorf("--set %s refused: %v\n%s", set, err, stderr)
		}
	}
}

// TestTemplateChecks checks what the schema cannot: values that conflict.
func TestTemplateChecks(t *testing.T) {
	tests := []struct {
		args []string
		want string
	}{
		{[]string{"--set", "ipam.enableIPv4=false"}, "enable at least one family"},
		{[]string{"--set", "clusterDefaultPool.installIPv4IPPool=true"}, "needs clusterDefaultPool.ipv4Subnet"},
		{[]string{"--set", "clusterDefaultPool.installIPv6IPPool=true", "--set", "clusterDefaultPool.ipv6Subnet=fd00::/64",
			"--set", "clusterDefaultPool.ipv6IPRanges={fd00::10}"}, "needs ipam.enableIPv6"},
		{[]string{"--set", "spiderpoolController.tls.method=provided"}, "needs spiderpoolController.tls.provided.tlsCert"},
		{[]string{"--set", "k8sServiceHost=192.0.2.10"}, "set both or neither"},
	}
	for _, tt := range tests {
		_, stderr, err := runHelm(t, append([]string{"template", release, chartDir(t)}, tt.args...)...)
		if err == nil || !strings.Contains(stderr, tt.want) {
			t.Errorf("helm template %v: err %v, stderr %q: want an error containing %q", tt.args, err, stderr, tt.want)
		}
	}
}
