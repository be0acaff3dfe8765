//go:build e2e

package chaos

import (
	"bufio"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"strings"
	"testing"
	"time"

	"github.com/ipkeeper/ipkeeper/internal/audit"
)

// report is what a run writes to docs/reliability.md.
type report struct {
	Command     string
	Machine     string
	Commit      string
	Started     time.Time
	Seed        int64
	Target      int
	Allocations int
	Churn       time.Duration
	Quiet       time.Duration
	Total       time.Duration
	Kills       map[string]int64
	Exits       map[string]int64
	FaultErrors map[string]int64
	Actions     map[string]int64
	Errors      map[string]int64
	Samples     int64
	Paused      int64
	Duplicates  int64
	Leaks       int
	Findings    []audit.Finding
	Settled     string
	Nodes       int
	// Kubelet sums up the kubelet stream; empty when it was off.
	Kubelet string
}

func (r *run) report() report {
	leaks := 0
	for _, f := range r.final {
		if f.Kind == audit.ClaimWithoutHolder {
			leaks++
		}
	}
	settled := "yes"
	if r.settledErr != nil {
		settled = r.settledErr.Error()
	}
	return report{
		Command: "go test -tags e2e ./test/chaos -run TestChaos -v " + strings.Join(chaosArgs(), " "),
		Machine: machine(), Commit: r.commit, Started: r.begin.UTC(), Seed: r.seed, Target: *flagAllocations,
		Allocations: r.allocations(), Churn: r.churnEnd.Load().Sub(r.begin), Quiet: r.quietTime, Total: time.Since(r.begin),
		Kills: snapshot(&r.counts.Kills), Exits: snapshot(&r.counts.Exits), FaultErrors: snapshot(&r.counts.FaultErrors), Actions: snapshot(&r.counts.Actions), Errors: snapshot(&r.counts.ActionErrors),
		Samples: r.counts.Samples.Load(), Paused: r.counts.SamplesPaused.Load(), Duplicates: r.counts.Duplicates.Load(),
		Leaks: leaks, Findings: r.final, Settled: settled, Nodes: len(r.env.Nodes), Kubelet: r.kubelet.summary(),
	}
}

func (k *kubelet) summary() string {
	if k == nil {
		return ""
	}
	return fmt.Sprintf("%d pods (%d at a time per node): ADD retried %d times, DEL %d; sandboxes re-created %d (other addresses given: %d), lost with no DEL %d, pods given up %d",
		k.Pods.Load(), *flagKubelet, k.AddRetries.Load(), k.DelRetries.Load(), k.Restarts.Load(), k.Mismatches.Load(), k.Lost.Load(), k.GaveUp.Load())
}

// chaosArgs are the -chaos.* flags the test binary was given.
func chaosArgs() []string {
	var out []string
	for _, a := range os.Args[1:] {
		if strings.HasPrefix(a, "-chaos.") || strings.HasPrefix(a, "--chaos.") || strings.HasPrefix(a, "-test.timeout") {
			out = append(out, a)
		}
	}
	return out
}

func machine() string {
	mem := ""
	if f, err := os.Open("/proc/meminfo"); err == nil {
		s := bufio.NewScanner(f)
		for s.Scan() {
			if v, ok := strings.CutPrefix(s.Text(), "MemTotal:"); ok {
				var kb int64
				_, _ = fmt.Sscan(strings.TrimSpace(strings.TrimSuffix(strings.TrimSpace(v), "kB")), &kb)
				mem = fmt.Sprintf("%.1f GiB", float64(kb)/(1<<20))
			}
		}
		_ = f.Close()
	}
	model := ""
	if data, err := os.ReadFile("/proc/cpuinfo"); err == nil {
		for _, l := range strings.Split(string(data), "\n") {
			if v, ok := strings.CutPrefix(l, "model name"); ok {
				model = strings.TrimSpace(strings.TrimPrefix(strings.TrimSpace(v), ":"))
				break
			}
		}
	}
	load, _ := os.ReadFile("/proc/loadavg")
	return fmt.Sprintf("nproc %d (%s), %s memory, %s, load before the report %s", runtime.NumCPU(), model, mem, runtime.Version(),
		strings.Join(strings.Fields(string(load))[:3], " "))
}

// commit names the checked-out commit, and whether the tree differs from it.
func commit() string {
	out, err := exec.Command("git", "rev-parse", "--short=12", "HEAD").Output()
	if err != nil {
		return "unknown"
	}
	c := strings.TrimSpace(string(out))
	if st, err := exec.Command("git", "status", "--porcelain", "--untracked-files=no").Output(); err == nil && len(strings.TrimSpace(string(st))) > 0 {
		c += " (with uncommitted changes)"
	}
	return c
}

func (p report) markdown() string {
	var b strings.Builder
	w := func(format string, args ...any) { fmt.Fprintf(&b, format, args...) }
	rate := float64(p.Allocations) / p.Churn.Seconds()
	w("| | |\n|---|---|\n")
	w("| command | `%s` |\n", p.Command)
	w("| machine | %s |\n", p.Machine)
	w("| commit | %s |\n", p.Commit)
	w("| started (UTC) | %s |\n", p.Started.Format(time.RFC3339))
	w("| seed | %d |\n", p.Seed)
	w("| nodes | %d simulated |\n", p.Nodes)
	w("| allocations | **%d** (target %d) |\n", p.Allocations, p.Target)
	w("| churn time | %s |\n", p.Churn.Round(time.Second))
	w("| allocations/s | **%.1f** |\n", rate)
	w("| quiet period (settle + audit clean) | %s |\n", p.Quiet.Round(time.Second))
	w("| total time (after cluster start) | %s |\n", p.Total.Round(time.Second))
	var kills []string
	var total int64
	for _, k := range faultKinds {
		kills = append(kills, fmt.Sprintf("%s %d", k, p.Kills[k]))
		total += p.Kills[k]
	}
	w("| kills (SIGKILL + restart; node-notready: simulator killed until NotReady) | %d: %s |\n", total, strings.Join(kills, ", "))
	var ferrs []string
	for _, k := range sortedKeys(p.FaultErrors) {
		ferrs = append(ferrs, fmt.Sprintf("%s %d", k, p.FaultErrors[k]))
	}
	if len(ferrs) == 0 {
		ferrs = []string{"none"}
	}
	w("| faults not undone in time (left to the supervisor) | %s |\n", strings.Join(ferrs, ", "))
	var exits []string
	for _, k := range sortedKeys(p.Exits) {
		exits = append(exits, fmt.Sprintf("%s %d", k, p.Exits[k]))
	}
	if len(exits) == 0 {
		exits = []string{"none"}
	}
	w("| processes that exited on their own (restarted by the run, as a kubelet would) | %s |\n", strings.Join(exits, ", "))
	var acts []string
	for _, k := range sortedKeys(p.Actions) {
		acts = append(acts, fmt.Sprintf("%s %d (%d failed)", k, p.Actions[k], p.Errors[k]))
	}
	w("| churn actions | %s |\n", strings.Join(acts, ", "))
	if p.Kubelet != "" {
		w("| kubelet stream (bare pods whose CNI calls the run makes) | %s |\n", p.Kubelet)
	}
	w("| duplicate samples (1/s pod list) | %d taken, %d paused (API down) |\n", p.Samples, p.Paused)
	w("| **duplicates** (an address on two live pods) | **%d** |\n", p.Duplicates)
	w("| **leaks** (claim without a live holder after the GC window) | **%d** |\n", p.Leaks)
	w("| findings of the final audit | %d |\n", len(p.Findings))
	w("| settled | %s |\n", p.Settled)
	for _, f := range p.Findings {
		w("\n- %s", f)
	}
	return b.String()
}

// The report goes between these markers of docs/reliability.md; the
// hand-written text around them stays.
const (
	latestBegin = "<!-- make chaos writes the latest run from here -->"
	latestEnd   = "<!-- to here -->"
)

// write puts the report between the markers of the file at path, keeping
// the rest of it; a file without them gets them, under a heading, at its end.
func (p report) write(path string) error {
	old, err := os.ReadFile(path)
	if err != nil && !errors.Is(err, fs.ErrNotExist) {
		return fmt.Errorf("read report file: %w", err)
	}
	section := latestBegin + "\n\n" + strings.TrimRight(p.markdown(), "\n") + "\n\n" + latestEnd
	doc := string(old)
	if before, rest, found := strings.Cut(doc, latestBegin); found {
		_, after, ok := strings.Cut(rest, latestEnd)
		if !ok {
			return fmt.Errorf("report file %s: marker %q has no %q after it", path, latestBegin, latestEnd)
		}
		doc = before + section + after
	} else {
		doc = strings.TrimRight(doc, "\n") + "\n\n## Latest run\n\n" + section + "\n"
	}
	return os.WriteFile(path, []byte(strings.TrimLeft(doc, "\n")), 0o644)
}

// TestChaosReportWrite checks that a report replaces only the text between
// the markers (make test-chaos runs it: the name starts with TestChaos).
func TestChaosReportWrite(t *testing.T) {
	path := filepath.Join(t.TempDir(), "reliability.md")
	rep := func(n int) report { return report{Allocations: n, Churn: time.Minute, Target: n} }
	if err := rep(7).write(path); err != nil {
		t.Fatal(err)
	}
	first, _ := os.ReadFile(path)
	if !strings.HasPrefix(string(first), "## Latest run\n\n"+latestBegin) || !strings.Contains(string(first), "**7** (target 7)") {
		t.Fatalf("a new file got:\n%s", first)
	}
	doc := "# Reliability\n\nwords before\n\n" + latestBegin + "\nold table\n" + latestEnd + "\n\n## History\n\nwords after\n"
	if err := os.WriteFile(path, []byte(doc), 0o644); err != nil {
		t.Fatal(err)
	}
	if err := rep(9).write(path); err != nil {
		t.Fatal(err)
	}
	got, _ := os.ReadFile(path)
	want := "# Reliability\n\nwords before\n\n" + latestBegin + "\n\n" + strings.TrimRight(rep(9).markdown(), "\n") + "\n\n" + latestEnd + "\n\n## History\n\nwords after\n"
	if string(got) != want {
		t.Fatalf("got:\n%s\nwant:\n%s", got, want)
	}
	if err := os.WriteFile(path, []byte("x "+latestBegin+" no end"), 0o644); err != nil {
		t.Fatal(err)
	}
	if err := rep(1).write(path); err == nil || !strings.Contains(err.Error(), "has no") {
		t.Fatalf("a begin marker without its end: got %v, want an error", err)
	}
}
