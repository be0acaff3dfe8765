package main

import (
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"syscall"

	"github.com/ipkeeper/ipkeeper/test/localcluster"
)

// clockTicks is USER_HZ, the unit of /proc's CPU times on Linux.
const clockTicks = 100

// Components whose CPU time is reported, besides the processes' own names.
const (
	cpuPlugins = "cni-plugins"  // the plugins the node simulators ran (reaped children)
	cpuBench   = "bench-driver" // this process
	cpuMachine = "machine-busy" // every process on the machine, other tenants included
	cpuOther   = "other"        // machine-busy minus everything above
	// Real nodes, from their cgroups: the kubelet, containerd, its shims,
	// kube-proxy and the CNI plugins; and every pod's containers (ipkeeper's
	// agents and controller, the workload's pause containers).
	cpuNodeSystem = "node-system"
	cpuNodePods   = "node-pods"
)

// cpuTimes is CPU seconds per component.
type cpuTimes map[string]float64

// cpu reads the CPU time each cluster process has used so far, grouped by
// component (the node simulators of all nodes are one component). The CNI
// plugins a simulator ran are its reaped children, reported apart.
func (e *env) cpu() (cpuTimes, error) {
	procs, err := e.cluster.Processes()
	if err != nil {
		return nil, err
	}
	out := cpuTimes{}
	for _, p := range procs {
		if e.cluster.RealNodes() && inNodeCgroup(p.PID, e.nodes) {
			continue // counted with its node's cgroup below
		}
		self, children, err := procCPU(p.PID)
		if err != nil {
			continue // exited; its time is gone with it
		}
		name := component(p.Name)
		out[name] += self
		if name == "nodesim" {
			out[cpuPlugins] += children
		}
	}
	if e.cluster.RealNodes() {
		for _, n := range e.nodes {
			for part, name := range map[string]string{"system": cpuNodeSystem, "kubepods": cpuNodePods} {
				s, err := cgroupCPU(filepath.Join(n.Cgroup(), part))
				if err != nil {
					return nil, err
				}
				out[name] += s
			}
		}
	}
	var ru syscall.Rusage
	if err := syscall.Getrusage(syscall.RUSAGE_SELF, &ru); err == nil {
		out[cpuBench] = float64(ru.Utime.Nano()+ru.Stime.Nano()) / 1e9
	}
	busy, err := machineBusy()
	if err != nil {
		return nil, err
	}
	out[cpuMachine] = busy
	return out, nil
}

// component maps a process name to its component: nodesim-node3 and
// ipkeeper-agent-node3 lose the node.
func component(name string) string {
	for _, c := range []string{"nodesim", "ipkeeper-agent"} {
		if strings.HasPrefix(name, c+"-node") {
			return c
		}
	}
	return name
}

// procCPU returns a process's own CPU seconds and those of its reaped
// children, from /proc/<pid>/stat (utime, stime, cutime, cstime).
func procCPU(pid int) (self, children float64, err error) {
	data, err := os.ReadFile(fmt.Sprintf("/proc/%d/stat", pid))
	if err != nil {
		return 0, 0, fmt.Errorf("read stat of %d: %w", pid, err)
	}
	// The command name may hold spaces; the fields after it are fixed.
	s := string(data)
	fields := strings.Fields(s[strings.LastIndexByte(s, ')')+1:])
	if len(fields) < 15 {
		return 0, 0, fmt.Errorf("stat of %d: %d fields", pid, len(fields))
	}
	var t [4]float64 // fields 14–17 of proc(5), 12–15 after the name
	for i := range t {
		v, err := strconv.ParseFloat(fields[11+i], 64)
		if err != nil {
			return 0, 0, fmt.Errorf("stat of %d: %w", pid, err)
		}
		t[i] = v / clockTicks
	}
	return t[0] + t[1], t[2] + t[3], nil
}

// cgroupCPU is the CPU seconds of every task ever in the cgroup v1 cpuacct
// group cg (a path under the hierarchy's root); 0 when it does not exist yet.
func cgroupCPU(cg string) (float64, error) {
	data, err := os.ReadFile(filepath.Join("/sys/fs/cgroup/cpuacct", cg, "cpuacct.usage"))
	if errors.Is(err, fs.ErrNotExist) {
		return 0, nil
	}
	if err != nil {
		return 0, fmt.Errorf("read CPU of cgroup %s: %w", cg, err)
	}
	ns, err := strconv.ParseFloat(strings.TrimSpace(string(data)), 64)
	if err != nil {
		return 0, fmt.Errorf("CPU of cgroup %s: %w", cg, err)
	}
	return ns / 1e9, nil
}

// inNodeCgroup reports whether a process runs in a real node's cgroup (the
// kubelet, containerd and kube-proxy do), whose CPU its node's cgroup counts.
func inNodeCgroup(pid int, nodes []localcluster.Node) bool {
	data, err := os.ReadFile(fmt.Sprintf("/proc/%d/cgroup", pid))
	if err != nil {
		return false
	}
	for _, line := range strings.Split(string(data), "\n") {
		// hierarchy-ID:controllers:path; the cpuacct line names the group.
		f := strings.SplitN(line, ":", 3)
		if len(f) == 3 && strings.Contains(f[1], "cpuacct") {
			return slices.ContainsFunc(nodes, func(n localcluster.Node) bool {
				return f[2] == n.Cgroup() || strings.HasPrefix(f[2], n.Cgroup()+"/")
			})
		}
	}
	return false
}

// machineBusy is the CPU seconds all CPUs spent neither idle nor waiting
// for I/O since boot.
func machineBusy() (float64, error) {
	data, err := os.ReadFile("/proc/stat")
	if err != nil {
		return 0, fmt.Errorf("read /proc/stat: %w", err)
	}
	line, _, _ := strings.Cut(string(data), "\n")
	fields := strings.Fields(line)
	if len(fields) < 6 || fields[0] != "cpu" {
		return 0, fmt.Errorf("unexpected /proc/stat line %q", line)
	}
	var busy float64
	for i, f := range fields[1:] {
		v, err := strconv.ParseFloat(f, 64)
		if err != nil {
			return 0, fmt.Errorf("/proc/stat: %w", err)
		}
		if i != 3 && i != 4 && i < 7 { // not idle, iowait, steal; guest time is already in user
			busy += v
		}
	}
	return busy / clockTicks, nil
}

// minus returns the CPU used since before and the share of the machine not
// accounted for by the cluster and the bench (other tenants).
func (c cpuTimes) minus(before cpuTimes) cpuTimes {
	out := cpuTimes{}
	var ours float64
	for k, v := range c {
		out[k] = round3(v - before[k])
		if k != cpuMachine {
			ours += v - before[k]
		}
	}
	out[cpuOther] = round3(out[cpuMachine] - ours)
	return out
}
