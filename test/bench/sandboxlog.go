package main

import (
	"bufio"
	"fmt"
	"math"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"time"

	"github.com/ipkeeper/ipkeeper/test/localcluster"
)

// sandboxLine is what the node simulator logs when a pod's sandbox is up:
// the time from the start of its setup (namespace, the whole CNI chain) to
// the end, before the status write.
const sandboxLine = `msg="sandbox ready"`

// sandboxTimes returns the sandbox setup times the node simulators logged
// between from and to, sorted.
func (e *env) sandboxTimes(from, to time.Time) ([]time.Duration, error) {
	var out []time.Duration
	for _, n := range e.nodes {
		path := filepath.Join(e.cluster.StateDir(), "logs", localcluster.NodesimProcessName(n.Name)+".log")
		d, err := readSandboxTimes(path, from, to)
		if err != nil {
			return nil, err
		}
		out = append(out, d...)
	}
	slices.Sort(out)
	return out, nil
}

func readSandboxTimes(path string, from, to time.Time) ([]time.Duration, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, fmt.Errorf("open simulator log: %w", err)
	}
	defer f.Close()
	var out []time.Duration
	sc := bufio.NewScanner(f)
	sc.Buffer(make([]byte, 1<<20), 1<<20)
	for sc.Scan() {
		line := sc.Text()
		if !strings.Contains(line, sandboxLine) {
			continue
		}
		at, err := time.Parse(time.RFC3339Nano, field(line, "time"))
		if err != nil || at.Before(from) || at.After(to) {
			continue
		}
		if d, err := time.ParseDuration(field(line, "took")); err == nil {
			out = append(out, d)
		}
	}
	if err := sc.Err(); err != nil {
		return nil, fmt.Errorf("read %s: %w", path, err)
	}
	return out, nil
}

// field returns the unquoted value of key=value in a slog text line.
func field(line, key string) string {
	i := strings.Index(" "+line, " "+key+"=")
	if i < 0 {
		return ""
	}
	v := line[i+len(key)+1:]
	if end := strings.IndexByte(v, ' '); end >= 0 {
		v = v[:end]
	}
	return v
}

// percentile is the nearest-rank p-th percentile of sorted durations, in
// milliseconds; 0 when there are none.
func percentile(sorted []time.Duration, p float64) float64 {
	if len(sorted) == 0 {
		return 0
	}
	i := int(math.Ceil(float64(len(sorted))*p/100)) - 1
	i = min(max(i, 0), len(sorted)-1)
	return float64(sorted[i].Microseconds()) / 1000
}
