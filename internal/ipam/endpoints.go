package ipam

import (
	"sync"

	"k8s.io/apimachinery/pkg/types"
)

// writtenEndpoints remembers, by pod UID, the version of each stateless
// pod's endpoint this agent last wrote, so that the pod's last DEL deletes
// the endpoint itself: one request, at once, instead of the garbage
// collector's read and delete after the pod is gone. The delete is
// preconditioned on that version, so a record rewritten since (a same-name
// pod started meanwhile) is left alone. Memory only: what a restarted agent
// forgot, the garbage collector removes through the owner reference.
type writtenEndpoints struct {
	mu sync.Mutex
	m  map[types.UID]EndpointVersion
}

func (w *writtenEndpoints) put(pod types.UID, v EndpointVersion) {
	w.mu.Lock()
	defer w.mu.Unlock()
	if w.m == nil {
		w.m = map[types.UID]EndpointVersion{}
	}
	w.m[pod] = v
}

// take returns and forgets the version written for pod.
func (w *writtenEndpoints) take(pod types.UID) (EndpointVersion, bool) {
	w.mu.Lock()
	defer w.mu.Unlock()
	v, ok := w.m[pod]
	delete(w.m, pod)
	return v, ok
}
