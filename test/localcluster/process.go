package localcluster

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"sort"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"time"
)

// Tiers order the shutdown: lower tiers stop first.
const (
	tierNode    = 0 // node simulators and per-node processes
	tierExtra   = 1 // cluster-wide extra processes (controllers, webhooks)
	tierControl = 2 // kube-apiserver's clients: controller-manager, scheduler
	tierAPI     = 3 // kube-apiserver
	tierStore   = 4 // etcd
)

// ProcessInfo is the pid file of one process the cluster started.
type ProcessInfo struct {
	Name  string   `json:"name"`
	PID   int      `json:"pid"`
	Start uint64   `json:"start"` // start time in clock ticks, guards against pid reuse
	Tier  int      `json:"tier"`
	Argv  []string `json:"argv"`
	Log   string   `json:"log"`
	// Env and Cloneflags are what it was started with besides Argv, so that
	// RestartProcess starts it again the same way.
	Env        []string `json:"env,omitempty"`
	Cloneflags uintptr  `json:"cloneflags,omitempty"`
}

// Alive reports whether the recorded process still runs (same pid, same
// start). A zombie has exited: it only waits for its parent to reap it.
func (p ProcessInfo) Alive() bool {
	start, err := processStart(p.PID)
	return err == nil && start == p.Start && !isZombie(p.PID)
}

// spawn starts argv detached from the caller (own session, output to a log
// file, no stdin) so it outlives a `make up`, and records its pid file.
func (c *Cluster) spawn(p Process, tier int, cloneflags uintptr) (ProcessInfo, error) {
	if err := os.MkdirAll(c.logDir(), 0o755); err != nil {
		return ProcessInfo{}, fmt.Errorf("create log dir: %w", err)
	}
	if err := os.MkdirAll(c.runDir(), 0o755); err != nil {
		return ProcessInfo{}, fmt.Errorf("create pid dir: %w", err)
	}
	logPath := filepath.Join(c.logDir(), p.Name+".log")
	logf, err := os.OpenFile(logPath, os.O_WRONLY|os.O_CREATE|os.O_APPEND, 0o644)
	if err != nil {
		return ProcessInfo{}, fmt.Errorf("open log of %s: %w", p.Name, err)
	}
	defer logf.Close()
	cmd := exec.Command(p.Argv[0], p.Argv[1:]...)
	cmd.Env = append(os.Environ(), p.Env...)
	cmd.Dir = c.cfg.StateDir
	cmd.Stdout, cmd.Stderr = logf, logf
	cmd.SysProcAttr = &syscall.SysProcAttr{Setsid: true, Cloneflags: cloneflags}
	if err := cmd.Start(); err != nil {
		return ProcessInfo{}, fmt.Errorf("start %s: %w", p.Name, err)
	}
	go func() { _ = cmd.Wait() }() // reap it if it dies while we still run
	start, err := processStart(cmd.Process.Pid)
	if err != nil {
		return ProcessInfo{}, fmt.Errorf("read start time of %s: %w", p.Name, err)
	}
	info := ProcessInfo{Name: p.Name, PID: cmd.Process.Pid, Start: start, Tier: tier, Argv: p.Argv, Log: logPath,
		Env: p.Env, Cloneflags: cloneflags}
	return info, c.writePIDFile(info)
}

func (c *Cluster) writePIDFile(info ProcessInfo) error {
	data, err := json.MarshalIndent(info, "", "  ")
	if err != nil {
		return fmt.Errorf("encode pid file of %s: %w", info.Name, err)
	}
	if err := os.WriteFile(filepath.Join(c.runDir(), info.Name+".json"), data, 0o644); err != nil {
		return fmt.Errorf("write pid file of %s: %w", info.Name, err)
	}
	return nil
}

// Processes returns the pid files of every process the cluster started.
func (c *Cluster) Processes() ([]ProcessInfo, error) {
	entries, err := os.ReadDir(c.runDir())
	if errors.Is(err, os.ErrNotExist) {
		return nil, nil
	}
	if err != nil {
		return nil, fmt.Errorf("list pid files: %w", err)
	}
	var out []ProcessInfo
	for _, e := range entries {
		if !strings.HasSuffix(e.Name(), ".json") {
			continue
		}
		data, err := os.ReadFile(filepath.Join(c.runDir(), e.Name()))
		if err != nil {
			return nil, fmt.Errorf("read pid file %s: %w", e.Name(), err)
		}
		var info ProcessInfo
		if err := json.Unmarshal(data, &info); err != nil {
			return nil, fmt.Errorf("decode pid file %s: %w", e.Name(), err)
		}
		out = append(out, info)
	}
	sort.Slice(out, func(i, j int) bool { return out[i].Name < out[j].Name })
	return out, nil
}

// StopProcess stops one process by name (SIGTERM, then SIGKILL after a grace
// period) and removes its pid file.
func (c *Cluster) StopProcess(ctx context.Context, name string) error {
	procs, err := c.Processes()
	if err != nil {
		return err
	}
	for _, p := range procs {
		if p.Name == name {
			return c.stop(ctx, p)
		}
	}
	return fmt.Errorf("no process named %q", name)
}

const stopGrace = 10 * time.Second

func (c *Cluster) stop(ctx context.Context, p ProcessInfo) error {
	return c.signalStop(ctx, p, syscall.SIGTERM)
}

// signalStop sends sig (then SIGKILL after a grace period) and removes the
// pid file once the process is gone.
func (c *Cluster) signalStop(ctx context.Context, p ProcessInfo, sig syscall.Signal) error {
	if p.Alive() {
		_ = syscall.Kill(p.PID, sig)
		if !waitGone(ctx, p, stopGrace) {
			_ = syscall.Kill(p.PID, syscall.SIGKILL)
			if !waitGone(ctx, p, stopGrace) {
				return fmt.Errorf("process %s (pid %d) did not exit", p.Name, p.PID)
			}
		}
	}
	err := os.Remove(filepath.Join(c.runDir(), p.Name+".json"))
	if err != nil && !errors.Is(err, os.ErrNotExist) {
		return fmt.Errorf("remove pid file of %s: %w", p.Name, err)
	}
	return nil
}

// stopAll stops processes tier by tier, each tier concurrently. Node and
// extra processes get SIGTERM so they can finish what they are doing; the
// control plane and etcd are killed outright, since Down deletes their data.
func (c *Cluster) stopAll(ctx context.Context) error {
	procs, err := c.Processes()
	if err != nil {
		return err
	}
	byTier := map[int][]ProcessInfo{}
	for _, p := range procs {
		byTier[p.Tier] = append(byTier[p.Tier], p)
	}
	var errs []error
	for tier := tierNode; tier <= tierStore; tier++ {
		var wg sync.WaitGroup
		var mu sync.Mutex
		for _, p := range byTier[tier] {
			sig := syscall.SIGTERM
			if tier >= tierControl {
				sig = syscall.SIGKILL
			}
			wg.Go(func() {
				if err := c.signalStop(ctx, p, sig); err != nil {
					mu.Lock()
					errs = append(errs, err)
					mu.Unlock()
				}
			})
		}
		wg.Wait()
	}
	return errors.Join(errs...)
}

// waitGone polls until the process is gone (a zombie counts as gone).
func waitGone(ctx context.Context, p ProcessInfo, limit time.Duration) bool {
	deadline := time.Now().Add(limit)
	for time.Now().Before(deadline) && ctx.Err() == nil {
		if !p.Alive() || isZombie(p.PID) {
			return true
		}
		time.Sleep(50 * time.Millisecond)
	}
	return !p.Alive()
}

// processStart reads field 22 (starttime) of /proc/<pid>/stat.
func processStart(pid int) (uint64, error) {
	fields, err := statFields(pid)
	if err != nil {
		return 0, err
	}
	if len(fields) < 20 {
		return 0, fmt.Errorf("short stat of pid %d", pid)
	}
	return strconv.ParseUint(fields[19], 10, 64)
}

func isZombie(pid int) bool {
	fields, err := statFields(pid)
	return err == nil && len(fields) > 0 && fields[0] == "Z"
}

// statFields returns the fields of /proc/<pid>/stat after the command name,
// starting with the state (field 3).
func statFields(pid int) ([]string, error) {
	data, err := os.ReadFile(fmt.Sprintf("/proc/%d/stat", pid))
	if err != nil {
		return nil, fmt.Errorf("read stat of pid %d: %w", pid, err)
	}
	s := string(data)
	i := strings.LastIndexByte(s, ')')
	if i < 0 {
		return nil, fmt.Errorf("malformed stat of pid %d", pid)
	}
	return strings.Fields(s[i+1:]), nil
}
