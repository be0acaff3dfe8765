package main

import (
	"os/exec"
	"strings"
	"testing"
)

// TestLinksNoKubernetes proves for the coordinator what the linter's import rules only suggest:
// nothing of Kubernetes is in the plugin's whole dependency graph, so the
// binary the runtime starts for every pod stays small and quick to start.
func TestLinksNoKubernetes(t *testing.T) {
	out, err := exec.Command("go", "list", "-deps", ".").Output()
	if err != nil {
		t.Fatalf("go list -deps: %v", err)
	}
	var bad []string
	for _, pkg := range strings.Fields(string(out)) {
		if strings.HasPrefix(pkg, "k8s.io/") || strings.HasPrefix(pkg, "sigs.k8s.io/") {
			bad = append(bad, pkg)
		}
	}
	if len(bad) > 0 {
		t.Fatalf("cmd/coordinator links %d Kubernetes packages, want none: %v", len(bad), bad)
	}
	if !strings.Contains(string(out), "github.com/ipkeeper/ipkeeper/internal/agentapi") {
		t.Fatalf("go list -deps printed no ipkeeper package; is the test running in cmd/coordinator?\n%s", out)
	}
}
