//go:build e2e

package cni

import (
	"context"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/ipkeeper/ipkeeper/internal/agentapi"
)

// startAgent runs an ipkeeper-agent process for node n listening on
// socketPath, waits until it is ready, and returns a function that stops it
// with SIGTERM (idempotent; also called at the end of the test); args are
// added to the agent's command line. The agent
// keeps its state in the API server: starting one again for the same node
// is an agent restart that finds what the previous one claimed.
func startAgent(t *testing.T, n *node, socketPath string, args ...string) (stop func()) {
	t.Helper()
	logPath := filepath.Join(t.TempDir(), "agent.log")
	logFile, err := os.Create(logPath)
	if err != nil {
		t.Fatal(err)
	}
	args = append([]string{"--node-name", n.name, "--socket", socketPath, "--metrics-bind-address", "0", "--health-probe-bind-address", "0"}, args...)
	cmd := exec.Command(filepath.Join(pluginDir, "ipkeeper-agent"), args...)
	cmd.Env = append(os.Environ(), "KUBECONFIG="+kube.kubeconfig)
	cmd.Stdout, cmd.Stderr = logFile, logFile
	err = cmd.Start()
	logFile.Close() // the agent has its own descriptor
	if err != nil {
		t.Fatalf("start agent: %v", err)
	}
	done := make(chan struct{})
	var exitErr error
	go func() {
		exitErr = cmd.Wait()
		close(done)
	}()

	var once sync.Once
	stop = func() {
		once.Do(func() {
			_ = cmd.Process.Signal(syscall.SIGTERM)
			select {
			case <-done:
				if exitErr != nil {
					t.Errorf("agent of node %s stopped with %v", n.name, exitErr)
				}
			case <-time.After(10 * time.Second):
				_ = cmd.Process.Kill()
				<-done
				t.Errorf("agent of node %s did not stop within 10s of SIGTERM", n.name)
			}
		})
	}
	t.Cleanup(func() {
		stop()
		if t.Failed() {
			logTail(t, logPath)
		}
	})

	client := agentapi.NewClient(socketPath, 5*time.Second)
	poll(t, time.Minute, "agent of node "+n.name+" to be ready", func(ctx context.Context) (bool, error) {
		select {
		case <-done:
			logTail(t, logPath)
			return false, fmt.Errorf("agent exited: %w", exitErr)
		default:
		}
		return client.Ready(ctx) == nil, nil
	})
	return stop
}

// logTail logs the end of an agent's log.
func logTail(t *testing.T, path string) {
	data, err := os.ReadFile(path)
	if err != nil {
		t.Logf("agent log: %v", err)
		return
	}
	lines := strings.Split(strings.TrimSpace(string(data)), "\n")
	lines = lines[max(0, len(lines)-40):]
	t.Logf("agent log %s (last %d lines):\n%s", path, len(lines), strings.Join(lines, "\n"))
}
