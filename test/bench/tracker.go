package main

import (
	"context"
	"errors"
	"fmt"

	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/labels"
	"k8s.io/apimachinery/pkg/types"
	"k8s.io/client-go/informers"
	"k8s.io/client-go/kubernetes"
	corelisters "k8s.io/client-go/listers/core/v1"
	"k8s.io/client-go/tools/cache"
)

// tracker follows the bench namespace's pods through one watch, so that
// polling for a condition costs the API server nothing.
type tracker struct {
	lister corelisters.PodNamespaceLister
	stop   context.CancelFunc
}

func startTracker(ctx context.Context, cs kubernetes.Interface) (*tracker, error) {
	ctx, cancel := context.WithCancel(ctx)
	f := informers.NewSharedInformerFactoryWithOptions(cs, 0, informers.WithNamespace(benchNamespace))
	pods := f.Core().V1().Pods()
	inf := pods.Informer()
	f.Start(ctx.Done())
	if !cache.WaitForCacheSync(ctx.Done(), inf.HasSynced) {
		cancel()
		return nil, errors.New("pod watch did not sync")
	}
	return &tracker{lister: pods.Lister().Pods(benchNamespace), stop: cancel}, nil
}

// pods returns the cached pods; the cache's objects must not be modified.
func (t *tracker) pods() []*corev1.Pod {
	out, _ := t.lister.List(labels.Everything())
	return out
}

// running reports whether a pod counts as up: Running with an address and
// not being deleted.
func running(p *corev1.Pod) bool {
	return p.DeletionTimestamp == nil && p.Status.Phase == corev1.PodRunning && p.Status.PodIP != ""
}

// podCounts summarises the pods for a condition and a progress line.
type podCounts struct {
	total, running, terminating int
	// fresh and freshRunning count pods whose UID is not in the old set.
	fresh, freshRunning int
}

func (t *tracker) count(old map[types.UID]bool) podCounts {
	var c podCounts
	for _, p := range t.pods() {
		c.total++
		if p.DeletionTimestamp != nil {
			c.terminating++
		}
		if running(p) {
			c.running++
		}
		if !old[p.UID] {
			c.fresh++
			if running(p) {
				c.freshRunning++
			}
		}
	}
	return c
}

func (c podCounts) String() string {
	return fmt.Sprintf("%d pods exist, %d terminating", c.total, c.terminating)
}

// uids returns the set of the current pods' UIDs.
func (t *tracker) uids() map[types.UID]bool {
	out := map[types.UID]bool{}
	for _, p := range t.pods() {
		out[p.UID] = true
	}
	return out
}
