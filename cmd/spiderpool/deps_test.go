package main

import (
	"os/exec"
	"strings"
	"testing"
)

// TestLinksNoKubernetes proves what the linter's import rules only suggest:
// nothing of Kubernetes is in the whole dependency graph of either CNI plugin
// (this one and the coordinator chained after it), so the binaries the
// runtime starts for every pod stay small and quick to start.
func TestLinksNoKubernetes(t *testing.T) {
	for _, dir := range []string{".", "../coordinator"} {
		cmd := exec.Command("go", "list", "-deps", ".")
		cmd.Dir = dir
		out, err := cmd.Output()
		if err != nil {
			t.Fatalf("go list -deps in %s: %v", dir, err)
		}
		var bad []string
		for _, pkg := range strings.Fields(string(out)) {
			if strings.HasPrefix(pkg, "k8s.io/") || strings.HasPrefix(pkg, "sigs.k8s.io/") {
				bad = append(bad, pkg)
			}
		}
		if len(bad) > 0 {
			t.Errorf("the plugin in %s links %d Kubernetes packages, want none: %v", dir, len(bad), bad)
		}
		if !strings.Contains(string(out), "github.com/ipkeeper/ipkeeper/internal/agentapi") {
			t.Errorf("go list -deps in %s printed no ipkeeper package\n%s", dir, out)
		}
	}
}
