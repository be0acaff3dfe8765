//go:build e2e

package chaos

import (
	"context"
	"fmt"
	"math/rand/v2"
	"time"

	"github.com/ipkeeper/ipkeeper/test/localcluster"
)

// The kinds of fault.
const (
	faultAgent      = "agent"
	faultController = "controller"
	faultAPIServer  = "kube-apiserver"
	faultEtcd       = "etcd"
	faultNode       = "node-notready"
)

// faultKinds are the kinds of fault; faultNode is last (faults picks it
// less often).
var faultKinds = []string{faultAgent, faultController, faultAPIServer, faultEtcd, faultNode}

// faults kills a process or silences a node, one at a time, every few
// seconds until ctx ends; the first round takes every kind once, in a
// seeded order, so that even a short run has each. A fault in progress when
// ctx ends is finished: its process is restarted, its node brought back.
func (r *run) faults(ctx context.Context, gapMin, gapMax time.Duration) {
	rnd := rng(r.seed, 2000)
	first := append([]string(nil), faultKinds...)
	rnd.Shuffle(len(first), func(i, j int) { first[i], first[j] = first[j], first[i] })
	for i := 0; ; i++ {
		gap := gapMin + time.Duration(rnd.Int64N(int64(gapMax-gapMin)+1))
		select {
		case <-ctx.Done():
			return
		case <-time.After(gap):
		}
		// A NotReady node costs a quarter of the cluster for a minute or
		// more (the node grace, then its pods' restarts): after the first
		// round, one fault in ten.
		kind := faultKinds[rnd.IntN(len(faultKinds)-1)]
		if rnd.IntN(10) == 0 {
			kind = faultNode
		}
		if i < len(first) {
			kind = first[i]
		}
		// A fault that could not be undone in time is logged and counted;
		// the supervisor brings its process back, and the quiet period
		// waits for every process and node.
		if err := r.fault(rnd, kind); err != nil {
			inc(&r.counts.FaultErrors, kind)
			r.t.Logf("chaos: fault %s: %v", kind, err)
		}
	}
}

// fault injects one fault and undoes it; it does not stop for the end of
// the churn, so that every process is up when it returns.
func (r *run) fault(rnd *rand.Rand, kind string) error {
	ctx, cancel := context.WithTimeout(context.WithoutCancel(r.t.Context()), 5*time.Minute)
	defer cancel()
	c := r.env.Cluster
	nodes := c.Nodes()
	node := nodes[rnd.IntN(len(nodes))].Name
	down := time.Duration(500+rnd.IntN(4500)) * time.Millisecond
	var name string
	var ready func(context.Context) error
	switch kind {
	case faultNode:
		name := localcluster.NodesimProcessName(node)
		r.hold(name, true)
		defer r.hold(name, false)
		begin := time.Now()
		if err := c.MakeNodeNotReady(ctx, node, nodeGrace+time.Minute); err != nil {
			return err
		}
		inc(&r.counts.Kills, kind)
		r.t.Logf("chaos: %s NotReady after %s", node, time.Since(begin).Round(time.Second))
		if err := sleep(ctx, down); err != nil {
			return err
		}
		return c.StartNode(ctx, node, 2*time.Minute)
	case faultAgent:
		name = "ipkeeper-agent-" + node + "-" + node
	case faultController:
		name = "ipkeeper-controller"
	case faultAPIServer:
		name, ready = localcluster.APIServerProcess, c.WaitAPIServerReady
	case faultEtcd:
		name, ready = localcluster.EtcdProcess, c.WaitEtcdHealthy
	default:
		return fmt.Errorf("unknown fault %q", kind)
	}
	r.hold(name, true)
	defer r.hold(name, false)
	if _, err := c.KillProcess(ctx, name); err != nil {
		return err
	}
	inc(&r.counts.Kills, kind)
	if err := sleep(ctx, down); err != nil {
		return err
	}
	if err := c.RestartProcess(ctx, name); err != nil {
		return err
	}
	if ready == nil {
		return nil
	}
	// The readiness wait gives up after 90 s; a loaded machine may need
	// more, and the fault's context bounds the whole.
	var err error
	for ctx.Err() == nil {
		if err = ready(ctx); err == nil || !c.ProcessAlive(name) {
			return err
		}
	}
	return err
}

func sleep(ctx context.Context, d time.Duration) error {
	select {
	case <-ctx.Done():
		return ctx.Err()
	case <-time.After(d):
		return nil
	}
}

// hold marks a process as down on purpose (a fault), so that supervise does
// not restart it.
func (r *run) hold(name string, on bool) {
	r.mu.Lock()
	defer r.mu.Unlock()
	if on {
		r.held[name] = true
	} else {
		delete(r.held, name)
	}
}

func (r *run) isHeld(name string) bool {
	r.mu.Lock()
	defer r.mu.Unlock()
	return r.held[name]
}

// supervise restarts, as the kubelet restarts a container, every process
// that exited on its own (the controller exits when it loses its leader
// lease, for one) and counts it, until ctx ends.
func (r *run) supervise(ctx context.Context) {
	c := r.env.Cluster
	tick := time.NewTicker(time.Second)
	defer tick.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case <-tick.C:
		}
		procs, err := c.Processes()
		if err != nil {
			continue
		}
		for _, p := range procs {
			if p.Alive() || r.isHeld(p.Name) {
				continue
			}
			if err := c.RestartProcess(ctx, p.Name); err != nil {
				if r.isHeld(p.Name) { // a fault took it meanwhile
					continue
				}
				r.t.Logf("chaos: restart %s after it exited: %v", p.Name, err)
				continue
			}
			inc(&r.counts.Exits, p.Name)
			r.t.Logf("chaos: %s had exited on its own (log %s); restarted", p.Name, p.Log)
		}
	}
}
