package ipam

import (
	"sync"
	"time"

	"k8s.io/apimachinery/pkg/types"
)

// unsureFor is how long a create of unknown outcome is remembered: the
// agent's informer has long delivered the claim by then, if it exists.
const unsureFor = 10 * time.Minute

// unsureClaims remembers, per pod, the claims an ADD created without
// learning whether the API server committed them (the answer was lost and
// so was the read-back). Until the informer delivers such a claim the index
// does not know it, and the pod's next ADD, on a new sandbox, would take a
// second address; it reads these back first (Allocator.settleUnsure).
// Memory only: a restarted agent's index starts from a list made after the
// create.
type unsureClaims struct {
	mu sync.Mutex
	m  map[types.NamespacedName][]unsureClaim
}

type unsureClaim struct {
	name  string
	until time.Time
}

func (u *unsureClaims) add(pod types.NamespacedName, name string) {
	u.mu.Lock()
	defer u.mu.Unlock()
	if u.m == nil {
		u.m = map[types.NamespacedName][]unsureClaim{}
	}
	u.m[pod] = append(u.m[pod], unsureClaim{name: name, until: time.Now().Add(unsureFor)})
	u.expire()
}

// take returns and forgets the claims remembered for pod.
func (u *unsureClaims) take(pod types.NamespacedName) []string {
	u.mu.Lock()
	defer u.mu.Unlock()
	var out []string
	for _, c := range u.m[pod] {
		if time.Now().Before(c.until) {
			out = append(out, c.name)
		}
	}
	delete(u.m, pod)
	return out
}

// expire forgets what has been remembered long enough, so that pods never
// added again leave nothing behind.
func (u *unsureClaims) expire() {
	now := time.Now()
	for pod, cs := range u.m {
		if now.After(cs[len(cs)-1].until) {
			delete(u.m, pod)
		}
	}
}
