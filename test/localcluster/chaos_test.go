package localcluster

import (
	"context"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"k8s.io/apimachinery/pkg/util/wait"
)

// A killed process is gone at once, keeps its pid file, and restarts with
// the argv and environment it was first started with.
func TestKillAndRestartProcess(t *testing.T) {
	state := t.TempDir()
	c := &Cluster{cfg: Config{StateDir: state}}
	out := filepath.Join(state, "env")
	p := Process{Name: "sleeper", Argv: []string{"/bin/sh", "-c", `echo "$CHAOS_MARK" >> ` + out + `; exec sleep 60`}, Env: []string{"CHAOS_MARK=first-env"}}
	first, err := c.spawn(p, tierExtra, 0)
	if err != nil {
		t.Fatalf("spawn: %v", err)
	}
	t.Cleanup(func() { _ = c.StopProcess(t.Context(), "sleeper") })

	if err := c.RestartProcess(t.Context(), "sleeper"); err == nil {
		t.Fatal("restart of a running process succeeded")
	}
	waitMarks(t, out, 1)
	killed, err := c.KillProcess(t.Context(), "sleeper")
	if err != nil {
		t.Fatalf("kill: %v", err)
	}
	if killed.PID != first.PID || c.ProcessAlive("sleeper") {
		t.Fatalf("after kill: pid %d (first %d), alive %t", killed.PID, first.PID, c.ProcessAlive("sleeper"))
	}
	if err := c.RestartProcess(t.Context(), "sleeper"); err != nil {
		t.Fatalf("restart: %v", err)
	}
	again, ok := c.info("sleeper")
	if !ok || again.PID == first.PID || !again.Alive() {
		t.Fatalf("after restart: %+v (first pid %d)", again, first.PID)
	}
	if !slices.Equal(again.Argv, first.Argv) || !slices.Equal(again.Env, p.Env) {
		t.Errorf("restarted with argv %q env %q, want %q %q", again.Argv, again.Env, first.Argv, p.Env)
	}
	waitMarks(t, out, 2)
	if _, err := c.KillProcess(t.Context(), "nope"); err == nil {
		t.Error("kill of an unknown process succeeded")
	}
}

// waitMarks waits until the sleeper has written its environment n times.
func waitMarks(t *testing.T, out string, n int) {
	t.Helper()
	err := wait.PollUntilContextTimeout(t.Context(), 20*time.Millisecond, 10*time.Second, true, func(context.Context) (bool, error) {
		data, _ := os.ReadFile(out)
		return strings.Count(string(data), "first-env") == n, nil
	})
	if err != nil {
		data, _ := os.ReadFile(out)
		t.Fatalf("want the environment written %d times, got %q", n, data)
	}
}
