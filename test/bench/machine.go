package main

import (
	"bufio"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"strconv"
	"strings"
)

// machine describes where the run happened: "2 vCPU AMD EPYC 7B13, 24 GiB,
// Debian GNU/Linux 12 (bookworm), Linux 6.1.0".
func machine() string {
	parts := []string{fmt.Sprintf("%d vCPU %s", runtime.NumCPU(), firstValue("/proc/cpuinfo", "model name", ":"))}
	if kb, err := strconv.ParseFloat(strings.Fields(firstValue("/proc/meminfo", "MemTotal", ":") + " 0")[0], 64); err == nil && kb > 0 {
		parts = append(parts, fmt.Sprintf("%.0f GiB", kb/(1<<20)))
	}
	if name := strings.Trim(firstValue("/etc/os-release", "PRETTY_NAME", "="), `"`); name != "" {
		parts = append(parts, name)
	}
	if rel, err := os.ReadFile("/proc/sys/kernel/osrelease"); err == nil {
		parts = append(parts, "Linux "+strings.TrimSpace(string(rel)))
	}
	return strings.Join(parts, ", ")
}

// firstValue returns the value of the first "key<sep>value" line of a file.
func firstValue(path, key, sep string) string {
	f, err := os.Open(path)
	if err != nil {
		return ""
	}
	defer f.Close()
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		k, v, ok := strings.Cut(sc.Text(), sep)
		if ok && strings.TrimSpace(k) == key {
			return strings.TrimSpace(v)
		}
	}
	return ""
}

// etcdVersion asks the etcd binary the local cluster runs.
func etcdVersion() string {
	out, err := exec.Command("/usr/bin/etcd", "--version").Output()
	if err != nil {
		return ""
	}
	return firstLineValue(string(out), "etcd Version")
}

func firstLineValue(text, key string) string {
	for line := range strings.SplitSeq(text, "\n") {
		if k, v, ok := strings.Cut(line, ":"); ok && strings.TrimSpace(k) == key {
			return strings.TrimSpace(v)
		}
	}
	return ""
}

// k8sVersion is the version in the name of the binary cache directory
// (k8s-v1.36.3), else the directory itself.
func k8sVersion(dir string) string {
	return strings.TrimPrefix(filepath.Base(dir), "k8s-")
}

// nodeMemory is each real node's resident memory in MiB: total_rss of its
// cgroup v1 memory group (hierarchical: the node's processes and its pods).
func (e *env) nodeMemory() (map[string]float64, error) {
	out := map[string]float64{}
	for _, n := range e.nodes {
		path := filepath.Join("/sys/fs/cgroup/memory", n.Cgroup(), "memory.stat")
		data, err := os.ReadFile(path)
		if err != nil {
			return nil, fmt.Errorf("read memory of %s: %w", n.Name, err)
		}
		for _, line := range strings.Split(string(data), "\n") {
			if v, ok := strings.CutPrefix(line, "total_rss "); ok {
				b, err := strconv.ParseFloat(v, 64)
				if err != nil {
					return nil, fmt.Errorf("%s: %q: %w", path, line, err)
				}
				out[n.Name] = round3(b / (1 << 20))
			}
		}
	}
	return out, nil
}
