//go:build e2e

package realnodes

import (
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"
)

// hostState is what of the host the cluster must leave as it found it.
type hostState struct {
	iptables, ipForward, resolvConf string
	// prefix and stateDir name the cluster's own objects, known once it runs.
	prefix, stateDir string
}

func snapshotHost(t *testing.T) *hostState {
	t.Helper()
	return &hostState{iptables: iptablesRules(t), ipForward: readFile(t, "/proc/sys/net/ipv4/ip_forward"),
		resolvConf: readFile(t, "/etc/resolv.conf")}
}

// check compares the host with the snapshot and looks for anything carrying
// the cluster's prefix or state directory.
func (h *hostState) check(t *testing.T) {
	t.Helper()
	if diff := cmp.Diff(h.iptables, iptablesRules(t)); diff != "" {
		t.Errorf("the host's iptables changed (-before +after):\n%s", diff)
	}
	if got := readFile(t, "/proc/sys/net/ipv4/ip_forward"); got != h.ipForward {
		t.Errorf("ip_forward is %q, was %q", got, h.ipForward)
	}
	if got := readFile(t, "/etc/resolv.conf"); got != h.resolvConf {
		t.Errorf("/etc/resolv.conf changed:\n%s", got)
	}
	if h.prefix == "" {
		return
	}
	var left []string
	links, _ := exec.Command("ip", "-o", "link").Output()
	for _, l := range strings.Split(string(links), "\n") {
		if f := strings.Fields(l); len(f) > 1 && strings.HasPrefix(f[1], h.prefix) {
			left = append(left, "link "+f[1])
		}
	}
	for _, pattern := range []string{"/run/netns/" + h.prefix + "*", "/sys/fs/cgroup/*/" + h.prefix + "-*"} {
		matches, _ := filepath.Glob(pattern)
		left = append(left, matches...)
	}
	mounts := readFile(t, "/proc/self/mountinfo")
	if h.stateDir != "" && strings.Contains(mounts, h.stateDir) {
		left = append(left, "mounts under "+h.stateDir)
	}
	procs, _ := filepath.Glob("/proc/[0-9]*/cmdline")
	for _, p := range procs {
		if cmd, err := os.ReadFile(p); err == nil && h.stateDir != "" && strings.Contains(string(cmd), h.stateDir) {
			left = append(left, "process "+strings.ReplaceAll(string(cmd), "\x00", " "))
		}
	}
	for _, l := range left {
		t.Errorf("left behind by Down: %s", l)
	}
}

var counters = regexp.MustCompile(`\[\d+:\d+\]`)

// iptablesRules is the host's iptables-save without comments and counters.
func iptablesRules(t *testing.T) string {
	t.Helper()
	out, err := exec.Command("iptables-save").Output()
	if err != nil {
		t.Fatalf("iptables-save: %v", err)
	}
	var lines []string
	for _, l := range strings.Split(string(out), "\n") {
		if !strings.HasPrefix(l, "#") {
			lines = append(lines, counters.ReplaceAllString(l, ""))
		}
	}
	return strings.Join(lines, "\n")
}

func readFile(t *testing.T, path string) string {
	t.Helper()
	data, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	return string(data)
}
