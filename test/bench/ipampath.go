package main

import (
	"context"
	"errors"
	"fmt"
	"net/netip"
	"os"
	"path/filepath"
	"runtime"
	"slices"
	"strconv"
	"strings"
	"sync/atomic"
	"time"

	"k8s.io/apimachinery/pkg/util/wait"

	"github.com/ipkeeper/ipkeeper/test/ipampath"
	"github.com/ipkeeper/ipkeeper/test/localcluster"
)

// The IPAM-path run (-ipam-path, make bench-ipam): one ipkeeper cluster, the
// IPAM plugin called directly as a kubelet would (test/ipampath) for bare
// pods bound to the nodes, ipkeeper's spiderpool plugin against Debian's
// host-local on the same cluster, in ABBA order.

// hostLocalPlugin is Debian's host-local IPAM plugin.
const hostLocalPlugin = "/usr/lib/cni/host-local"

// pathReport is the result file of an IPAM-path run.
type pathReport struct {
	Machine     string `json:"machine"`
	Nodes       int    `json:"nodes"`
	Pods        int    `json:"pods"`
	Concurrency int    `json:"concurrency_per_node"`
	// PoolSize is the bench pool's addresses (= pods).
	PoolSize    int         `json:"pool_size"`
	Runs        []pathRun   `json:"runs"`
	Ratios      pathRatios  `json:"ratios"`
	Totals      []pathTotal `json:"totals"`
	Duplicates  int         `json:"duplicates"`
	LoadAverage string      `json:"load_average_before"`
	LoadAfter   string      `json:"load_average_after"`
	Go          string      `json:"go"`
	Kubernetes  string      `json:"kubernetes"`
	Etcd        string      `json:"etcd"`
	Started     string      `json:"started"`
	Command     string      `json:"command"`
	TotalS      float64     `json:"total_s"`
	Notes       []string    `json:"notes"`
	Failures    []string    `json:"failures,omitempty"`
}

var pathNotes = []string{
	"add/del: one CNI ADD (then DEL) per pod, the plugin run directly by the bench with the node's netconf, at most concurrency_per_node runs in flight per node; timed from the first call to the last answer",
	"pods are bare (spec.nodeName set, the node simulator leaves them alone), created before ADD and gracefully deleted (deletionTimestamp set) before DEL, as a kubelet sees them; both outside the timed phases",
	"latency: each plugin run, exact percentiles; plugin_cpu_ms_per_call: the plugin process's user+system time",
	"cpu_ms_per_pod: CPU per pod over the phase from /proc, per component; bench-driver is the bench (forking the plugins); other = machine busy time not accounted to the cluster or the bench",
	"api_per_pod: apiserver_request_total differences over the phase per pod, every client, by verb and resource",
	"claims_left: IPClaims of the bench pool after DEL (ipkeeper); host-local: allocation files left in the nodes' stores",
}

// pathRun is one mode's ADD and DEL of every pod.
type pathRun struct {
	Mode       string    `json:"mode"`
	Round      int       `json:"round"`
	Add        pathPhase `json:"add"`
	Del        pathPhase `json:"del"`
	ClaimsLeft int       `json:"claims_left"`
	// MemoryMiB is the resident memory (VmRSS) of the cluster's components
	// with every pod holding its address, after ADD; agents: the largest.
	MemoryMiB  map[string]float64 `json:"memory_mib_full"`
	Duplicates int                `json:"duplicates"`
}

// pathPhase is one phase of a run.
type pathPhase struct {
	Seconds     float64            `json:"seconds"`
	P50Ms       float64            `json:"p50_ms"`
	P99Ms       float64            `json:"p99_ms"`
	MaxMs       float64            `json:"max_ms"`
	Failures    int                `json:"failures"`
	FirstErrors []string           `json:"first_errors,omitempty"`
	PluginCPUMs float64            `json:"plugin_cpu_ms_per_call"`
	CPUMsPerPod map[string]float64 `json:"cpu_ms_per_pod"`
	APIPerPod   float64            `json:"api_requests_per_pod"`
	APIByVerb   []requestCount     `json:"api_per_pod"`
	CPUSeconds  cpuTimes           `json:"cpu_s"`
}

// pathRatios are ipkeeper's summed phase times over host-local's.
type pathRatios struct {
	Add float64 `json:"add"`
	Del float64 `json:"del"`
}

// pathTotal sums a mode's phases over its runs.
type pathTotal struct {
	Mode     string  `json:"mode"`
	Phase    string  `json:"phase"`
	Seconds  float64 `json:"seconds"`
	Failures int     `json:"failures"`
}

func runIPAMPath(ctx context.Context, cfg config) (*pathReport, error) {
	if os.Geteuid() != 0 {
		return nil, errors.New("the local cluster needs root (network namespaces, bind mounts)")
	}
	started := time.Now()
	dir, cleanup, err := workDir(cfg.workDir)
	if err != nil {
		return nil, err
	}
	fmt.Printf("bench: IPAM path, %d nodes, %d pods, %d calls per node; work dir %s\n", cfg.nodes, cfg.ipamPods, cfg.concurrency, dir)
	b, err := buildBinaries(dir, cfg.k8sBinDir, cfg.nodes, false, 0)
	if err != nil {
		return nil, errors.Join(err, cleanup(false))
	}
	if cfg.profileDir != "" {
		b.cluster.APIServerArgs = append(b.cluster.APIServerArgs, "--profiling=true")
	}
	rep := &pathReport{
		Machine: machine(), Nodes: cfg.nodes, Pods: cfg.ipamPods, Concurrency: cfg.concurrency, PoolSize: cfg.ipamPods,
		LoadAverage: loadAverage(), Go: runtime.Version(), Kubernetes: k8sVersion(b.cluster.K8sBinDir), Etcd: etcdVersion(),
		Started: time.Now().UTC().Format("2006-01-02T1504Z"),
		Command: strings.TrimSpace("go run ./test/bench " + strings.Join(cfg.args, " ")), Notes: pathNotes,
	}
	say := func(line string) { fmt.Printf("[ipam-path ] %s\n", line) }
	e, err := startCluster(ctx, modeIpkeeper, filepath.Join(dir, "cluster"), b, cfg.nodes, say)
	if err != nil {
		err = fmt.Errorf("start the cluster: %w", err)
	} else {
		err = runPaths(ctx, cfg, e, b, dir, rep)
		rep.finish(started)
		if err == nil && len(rep.Failures) > 0 {
			err = fmt.Errorf("checks failed: %s", strings.Join(rep.Failures, "; "))
		}
	}
	// The cluster goes down before the work dir, which holds its state:
	// removed first, the processes it lists would be left running.
	if e != nil {
		if derr := e.down(err != nil || cfg.keepLogs, filepath.Join(dir, "logs")); derr != nil {
			err = errors.Join(err, derr)
		}
	}
	return rep, errors.Join(err, cleanup(err != nil))
}

func runPaths(ctx context.Context, cfg config, e *env, b binaries, dir string, rep *pathReport) error {
	if err := e.createNamespace(ctx); err != nil {
		return err
	}
	create := func() error { return e.createPool(ctx, cfg.ipamPods) }
	if cfg.whole16 {
		create = func() error { return e.createPoolOf(ctx, whole16Subnet, whole16Range, whole16Size) }
	}
	if err := create(); err != nil {
		return err
	}
	for i := range cfg.rounds {
		for _, mode := range roundOrder(cfg.modes, i) {
			fmt.Printf("bench: round %d of %d, %s\n", i+1, cfg.rounds, mode)
			run, err := pathMode(ctx, cfg, e, b, dir, mode, i+1)
			rep.Runs = append(rep.Runs, run)
			rep.Duplicates += run.Duplicates
			for _, f := range run.problems() {
				rep.Failures = append(rep.Failures, fmt.Sprintf("round %d, %s: %s", i+1, mode, f))
			}
			if err != nil {
				return fmt.Errorf("round %d, %s: %w", i+1, mode, err)
			}
		}
	}
	return nil
}

func (r pathRun) problems() []string {
	var out []string
	if r.Add.Failures > 0 || r.Del.Failures > 0 {
		out = append(out, fmt.Sprintf("%d ADD and %d DEL failures: %s", r.Add.Failures, r.Del.Failures, strings.Join(append(r.Add.FirstErrors, r.Del.FirstErrors...), "; ")))
	}
	if r.Duplicates > 0 {
		out = append(out, fmt.Sprintf("%d addresses given twice", r.Duplicates))
	}
	if r.ClaimsLeft > 0 {
		out = append(out, fmt.Sprintf("%d allocations left after DEL", r.ClaimsLeft))
	}
	return out
}

// pathMode creates the pods, runs ADD for all, checks, marks them deleted,
// runs DEL for all, checks, and removes them.
func pathMode(ctx context.Context, cfg config, e *env, b binaries, dir, mode string, round int) (pathRun, error) {
	run := pathRun{Mode: mode, Round: round}
	dcfg := ipampath.Config{
		Namespace: benchNamespace, Concurrency: cfg.concurrency,
		Annotations: map[string]string{"ipam.spidernet.io/ippool": `{"ipv4":["` + benchPool + `"]}`},
	}
	hostLocalStore := filepath.Join(dir, fmt.Sprintf("host-local-%d", round))
	switch mode {
	case modeIpkeeper:
		dcfg.Plugin = filepath.Join(b.ipkeeper.PluginDir, "spiderpool")
	case modeHostLocal:
		dcfg.Plugin = hostLocalPlugin
		dcfg.NetConf = ipampath.HostLocalNetConf(func(n localcluster.Node) string { return filepath.Join(hostLocalStore, n.Name) })
	}
	d, err := ipampath.New(dcfg, e.cs, e.nodes)
	if err != nil {
		return run, err
	}
	prefix := fmt.Sprintf("[%-10s] round %d:", mode, round)
	steps := func(what string, fn func(ctx context.Context, i int) error) error {
		var done atomic.Int64
		stop := progress(prefix, what, cfg.ipamPods, cfg.progressEvery, func() int { return int(done.Load()) })
		defer stop()
		return parallel(ctx, cfg.ipamPods, 50, func(ctx context.Context, i int) error {
			defer done.Add(1)
			return fn(ctx, i)
		})
	}
	pods := make([]*ipampath.Pod, cfg.ipamPods)
	err = steps("pods created", func(ctx context.Context, i int) error {
		p, err := d.CreatePod(ctx, e.nodes[i%len(e.nodes)].Name, fmt.Sprintf("%s-%d-%d", shortMode(mode), round, i))
		pods[i] = p
		return err
	})
	if err != nil {
		return run, fmt.Errorf("create pods: %w", err)
	}
	settle(ctx)
	profile := func(op string) func() {
		if cfg.profileDir == "" || mode != modeIpkeeper || round != 1 {
			return func() {}
		}
		return e.profile(ctx, filepath.Join(cfg.profileDir, strings.ToLower(op)))
	}
	stopProfile := profile("ADD")
	run.Add, err = e.pathPhase(ctx, d, pods, "ADD", cfg.ipamPods, prefix, cfg.progressEvery)
	stopProfile()
	if err != nil {
		return run, err
	}
	addCalls := d.Calls()
	run.MemoryMiB = e.memory()
	fmt.Printf("[%-10s] round %d: %d pods created; ADD %.2f s (p50 %.0f, p99 %.0f ms, %d failed); memory %v\n",
		mode, round, len(pods), run.Add.Seconds, run.Add.P50Ms, run.Add.P99Ms, len(addCalls)-countOK(addCalls), run.MemoryMiB)
	run.Add.fill(addCalls, cfg.ipamPods)
	run.Duplicates = duplicates(addCalls)
	if err := steps("pods marked deleted", func(ctx context.Context, i int) error { return d.TerminatePod(ctx, pods[i]) }); err != nil {
		return run, fmt.Errorf("terminate pods: %w", err)
	}
	settle(ctx)
	stopProfile = profile("DEL")
	run.Del, err = e.pathPhase(ctx, d, pods, "DEL", cfg.ipamPods, prefix, cfg.progressEvery)
	stopProfile()
	if err != nil {
		return run, err
	}
	run.Del.fill(d.Calls(), cfg.ipamPods)
	if run.ClaimsLeft, err = e.allocationsLeft(ctx, mode, hostLocalStore); err != nil {
		return run, err
	}
	if err := steps("pods deleted", func(ctx context.Context, i int) error { return d.DeletePod(ctx, pods[i]) }); err != nil {
		return run, fmt.Errorf("delete pods: %w", err)
	}
	fmt.Printf("[%-10s] round %d: ADD %.2f s (p50 %.0f, p99 %.0f ms, %d failed), DEL %.2f s (p50 %.0f, p99 %.0f ms, %d failed), %d duplicates, %d left\n",
		mode, round, run.Add.Seconds, run.Add.P50Ms, run.Add.P99Ms, run.Add.Failures,
		run.Del.Seconds, run.Del.P50Ms, run.Del.P99Ms, run.Del.Failures, run.Duplicates, run.ClaimsLeft)
	return run, e.poolEmpty(ctx)
}

func shortMode(mode string) string {
	if mode == modeHostLocal {
		return "hl"
	}
	return "ik"
}

// progress prints, every interval until the returned stop is called, how
// many of total steps of what are done: the /16 run's steps last minutes.
func progress(prefix, what string, total int, every time.Duration, done func() int) (stop func()) {
	quit, over := make(chan struct{}), make(chan struct{})
	start := time.Now()
	go func() {
		defer close(over)
		tick := time.NewTicker(every)
		defer tick.Stop()
		for {
			select {
			case <-quit:
				return
			case <-tick.C:
				fmt.Printf("%s %s %d/%d (%.0fs)\n", prefix, what, done(), total, time.Since(start).Seconds())
			}
		}
	}()
	return func() { close(quit); <-over }
}

// settle lets the watch fan-out of the step before finish outside the timed
// phase.
func settle(ctx context.Context) {
	select {
	case <-ctx.Done():
	case <-time.After(2 * time.Second):
	}
}

// pathPhase runs op for every pod, measuring time, CPU and API requests,
// and prints its progress every interval.
func (e *env) pathPhase(ctx context.Context, d *ipampath.Driver, pods []*ipampath.Pod, op string, n int, prefix string, every time.Duration) (pathPhase, error) {
	var ph pathPhase
	cpu0, err := e.cpu()
	if err != nil {
		return ph, err
	}
	api0, err := e.apiRequests(ctx)
	if err != nil {
		return ph, err
	}
	start := time.Now()
	stop := progress(prefix, op+" calls ended", n, every, d.Recorded)
	ipampath.ForEach(ctx, pods, func(ctx context.Context, p *ipampath.Pod) error {
		if op == "ADD" {
			_, err := d.Add(ctx, p)
			return err
		}
		return d.Del(ctx, p)
	})
	ph.Seconds = round3(time.Since(start).Seconds())
	stop()
	cpu1, err := e.cpu()
	if err != nil {
		return ph, err
	}
	api1, err := e.apiRequests(ctx)
	if err != nil {
		return ph, err
	}
	ph.CPUSeconds = cpu1.minus(cpu0)
	ph.CPUMsPerPod = map[string]float64{}
	for k, v := range ph.CPUSeconds {
		ph.CPUMsPerPod[k] = round3(v * 1000 / float64(n))
	}
	reqs := api1.minus(api0)
	ph.APIPerPod = round3(reqs.total() / float64(n))
	for _, rc := range reqs.top(12) {
		ph.APIByVerb = append(ph.APIByVerb, requestCount{Request: rc.Request, Count: round3(rc.Count / float64(n))})
	}
	return ph, ctx.Err()
}

// fill adds the calls' latencies, failures and plugin CPU.
func (ph *pathPhase) fill(calls []ipampath.Call, n int) {
	lat := make([]time.Duration, 0, len(calls))
	var cpu time.Duration
	for _, c := range calls {
		lat = append(lat, c.Latency)
		cpu += c.CPU
		if c.Err != nil {
			ph.Failures++
			if len(ph.FirstErrors) < 5 {
				ph.FirstErrors = append(ph.FirstErrors, c.Err.Error())
			}
		}
	}
	slices.Sort(lat)
	if len(lat) > 0 {
		ph.P50Ms, ph.P99Ms = round3(percentile(lat, 50)), round3(percentile(lat, 99))
		ph.MaxMs = round3(float64(lat[len(lat)-1].Microseconds()) / 1000)
		ph.PluginCPUMs = round3(float64(cpu.Microseconds()) / 1000 / float64(len(calls)))
	}
	ph.CPUSeconds[cpuPlugins] = round3(cpu.Seconds())
	ph.CPUMsPerPod[cpuPlugins] = round3(float64(cpu.Microseconds()) / 1000 / float64(n))
}

func countOK(calls []ipampath.Call) int {
	n := 0
	for _, c := range calls {
		if c.Err == nil {
			n++
		}
	}
	return n
}

// duplicates counts addresses the ADDs gave more than once.
func duplicates(calls []ipampath.Call) int {
	seen := map[netip.Addr]bool{}
	n := 0
	for _, c := range calls {
		for _, a := range c.Addresses {
			if seen[a.Addr()] {
				n++
			}
			seen[a.Addr()] = true
		}
	}
	return n
}

// allocationsLeft counts what DEL did not release: the bench pool's
// IPClaims, or host-local's allocation files.
func (e *env) allocationsLeft(ctx context.Context, mode, hostLocalStore string) (int, error) {
	if mode == modeIpkeeper {
		cs, err := e.claims(ctx, 0)
		return len(cs), err
	}
	n := 0
	err := filepath.WalkDir(hostLocalStore, func(path string, de os.DirEntry, err error) error {
		if err != nil {
			return err
		}
		if _, perr := netip.ParseAddr(de.Name()); perr == nil && !de.IsDir() {
			n++
		}
		return nil
	})
	if errors.Is(err, os.ErrNotExist) {
		return 0, nil
	}
	return n, err
}

// poolEmpty waits until the pool's status counts no allocation, so that the
// next run starts from the same pool.
func (e *env) poolEmpty(ctx context.Context) error {
	var seen poolCounts
	err := wait.PollUntilContextTimeout(ctx, 200*time.Millisecond, time.Minute, true, func(ctx context.Context) (bool, error) {
		c, err := e.poolStatus(ctx)
		seen = c
		return err == nil && c.allocated == 0, nil
	})
	if err != nil {
		return fmt.Errorf("pool %s still counts %d allocations: %w", benchPool, seen.allocated, err)
	}
	return nil
}

func (rep *pathReport) finish(started time.Time) {
	rep.TotalS = round3(time.Since(started).Seconds())
	rep.LoadAfter = loadAverage()
	sums := map[string]*pathTotal{}
	for _, r := range rep.Runs {
		for _, ph := range []struct {
			name string
			p    pathPhase
		}{{"add", r.Add}, {"del", r.Del}} {
			k := r.Mode + "/" + ph.name
			if sums[k] == nil {
				sums[k] = &pathTotal{Mode: r.Mode, Phase: ph.name}
			}
			sums[k].Seconds = round3(sums[k].Seconds + ph.p.Seconds)
			sums[k].Failures += ph.p.Failures
		}
	}
	for _, k := range []string{"ipkeeper/add", "host-local/add", "ipkeeper/del", "host-local/del"} {
		if t := sums[k]; t != nil {
			rep.Totals = append(rep.Totals, *t)
		}
	}
	ratio := func(phase string) float64 {
		ik, hl := sums[modeIpkeeper+"/"+phase], sums[modeHostLocal+"/"+phase]
		if ik == nil || hl == nil || hl.Seconds == 0 {
			return 0
		}
		return round3(ik.Seconds / hl.Seconds)
	}
	rep.Ratios = pathRatios{Add: ratio("add"), Del: ratio("del")}
}

func printPathSummary(rep *pathReport) {
	fmt.Printf("\n%s\nIPAM path: %d nodes, %d pods, %d calls per node, %s, kube %s, load before %s, after %s\n",
		rep.Machine, rep.Nodes, rep.Pods, rep.Concurrency, rep.Go, rep.Kubernetes, rep.LoadAverage, rep.LoadAfter)
	for _, r := range rep.Runs {
		fmt.Printf("  round %d %-10s ADD %6.2f s p50 %5.0f p99 %5.0f ms | DEL %6.2f s p50 %5.0f p99 %5.0f ms | apiserver %.1f/%.1f agents %.1f/%.1f etcd %.1f/%.1f plugin %.1f/%.1f ms per pod (ADD/DEL) | API req/pod %.2f/%.2f\n",
			r.Round, r.Mode, r.Add.Seconds, r.Add.P50Ms, r.Add.P99Ms, r.Del.Seconds, r.Del.P50Ms, r.Del.P99Ms,
			r.Add.CPUMsPerPod["kube-apiserver"], r.Del.CPUMsPerPod["kube-apiserver"],
			r.Add.CPUMsPerPod["ipkeeper-agent"], r.Del.CPUMsPerPod["ipkeeper-agent"],
			r.Add.CPUMsPerPod["etcd"], r.Del.CPUMsPerPod["etcd"],
			r.Add.CPUMsPerPod[cpuPlugins], r.Del.CPUMsPerPod[cpuPlugins], r.Add.APIPerPod, r.Del.APIPerPod)
	}
	for _, r := range rep.Runs {
		if r.Mode == modeIpkeeper && len(r.MemoryMiB) > 0 {
			fmt.Printf("  round %d %s, memory with every address held (VmRSS MiB; agent: the largest): %v\n", r.Round, r.Mode, r.MemoryMiB)
		}
	}
	fmt.Printf("ratios (summed over rounds): ADD %.2f, DEL %.2f; duplicates %d\n", rep.Ratios.Add, rep.Ratios.Del, rep.Duplicates)
	if len(rep.Failures) > 0 {
		fmt.Printf("FAILURES:\n  %s\n", strings.Join(rep.Failures, "\n  "))
	}
}

// memory reads VmRSS of the cluster's processes, in MiB, by component
// (agents: the largest of them).
func (e *env) memory() map[string]float64 {
	procs, err := e.cluster.Processes()
	if err != nil {
		return nil
	}
	out := map[string]float64{}
	for _, p := range procs {
		kb, err := strconv.ParseFloat(strings.Fields(firstValue(fmt.Sprintf("/proc/%d/status", p.PID), "VmRSS", ":") + " x")[0], 64)
		if err != nil {
			continue
		}
		name := component(p.Name)
		out[name] = max(out[name], round3(kb/1024))
	}
	return out
}

// loadAverage is the machine's load over 1, 5 and 15 minutes.
func loadAverage() string {
	data, _ := os.ReadFile("/proc/loadavg")
	f := strings.Fields(string(data))
	return strings.Join(f[:min(3, len(f))], " ")
}

// writePathResults writes latest.json and the dated copy under
// dir/ipam-path; an empty dir writes nothing.
func writePathResults(dir string, rep *pathReport) error {
	if dir == "" {
		return nil
	}
	return writeJSON(filepath.Join(dir, "ipam-path"), rep, fmt.Sprintf("%s-%dx%d.json", rep.Started, rep.Nodes, rep.Pods))
}
