package ipam

import (
	"context"
	"errors"
	"fmt"
	"strconv"
	"sync"

	appsv1 "k8s.io/api/apps/v1"
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/types"

	"github.com/ipkeeper/ipkeeper/api/ipkeeper/v1alpha1"
	"github.com/ipkeeper/ipkeeper/api/v2beta1"
)

// memStore is an in-memory Store with the API server's semantics that the
// allocator relies on: create fails on an existing name, update and delete
// check the resourceVersion and UID. Every index subscribed to it sees each
// change, as an agent's informers would: its node's claims whole, every
// claim by its metadata.
type memStore struct {
	mu        sync.Mutex
	claims    map[string]*v1alpha1.IPClaim
	endpoints map[types.NamespacedName]*v2beta1.SpiderEndpoint
	watchers  []memWatcher
	seq       int
	writes    int
	// lostAnswers makes that many creates commit, unseen by the watchers
	// (their informers have not caught up), and fail as a time-out would:
	// the one fault a real API server cannot be made to produce on demand.
	lostAnswers int
	// failedGets makes that many reads fail (the API server is down).
	failedGets int
	// created, when set, is called with each claim a create commits, before
	// the watchers see it: a concurrent change lands while the create is
	// in flight.
	created func(c *v1alpha1.IPClaim)
}

var errAPIDown = errors.New("connection refused")

var errLostAnswer = errors.New("the request timed out (it may have been committed)")

func (s *memStore) GetClaim(_ context.Context, name string) (*v1alpha1.IPClaim, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.failedGets > 0 {
		s.failedGets--
		return nil, errAPIDown
	}
	c, ok := s.claims[name]
	if !ok {
		return nil, ErrNotFound
	}
	return c.DeepCopy(), nil
}

func newMemStore() *memStore {
	return &memStore{claims: map[string]*v1alpha1.IPClaim{}, endpoints: map[types.NamespacedName]*v2beta1.SpiderEndpoint{}}
}

// memWatcher is one agent's index and node.
type memWatcher struct {
	x    *Index
	node string
}

func (s *memStore) watch(x *Index, node string) {
	s.mu.Lock()
	defer s.mu.Unlock()
	w := memWatcher{x: x, node: node}
	s.watchers = append(s.watchers, w)
	for _, c := range s.claims {
		w.set(nil, c)
	}
}

// set tells the watcher that claim c was written (old is its state before,
// or nil): the node label selector of the agent's claim informer turns a
// claim moved away to another node into a delete.
func (w memWatcher) set(old, c *v1alpha1.IPClaim) {
	quarantinedIn := ""
	if c.Quarantined() {
		quarantinedIn = c.Spec.Pool
	}
	w.x.SetClaimRef(c.Name, c.UID, c.ResourceVersion, quarantinedIn)
	switch {
	case c.Spec.Node == w.node:
		w.x.SetClaim(c.DeepCopy())
	case old != nil && old.Spec.Node == w.node:
		w.x.DeleteClaim(c.DeepCopy())
	}
}

func (w memWatcher) deleted(c *v1alpha1.IPClaim) {
	w.x.DeleteClaimRef(c.Name, c.UID)
	if c.Spec.Node == w.node {
		w.x.DeleteClaim(c.DeepCopy())
	}
}

func (s *memStore) ClaimsOfPod(_ context.Context, pod types.NamespacedName) ([]*v1alpha1.IPClaim, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.failedGets > 0 {
		s.failedGets--
		return nil, errAPIDown
	}
	var out []*v1alpha1.IPClaim
	for _, c := range s.claims {
		if c.Spec.Holder.Namespace == pod.Namespace && c.Spec.Holder.Name == pod.Name {
			out = append(out, c.DeepCopy())
		}
	}
	return out, nil
}

func (s *memStore) CreateClaim(_ context.Context, c *v1alpha1.IPClaim) (*v1alpha1.IPClaim, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.writes++
	if _, ok := s.claims[c.Name]; ok {
		return nil, ErrTaken
	}
	s.seq++
	out := c.DeepCopy()
	out.UID = types.UID("uid-" + strconv.Itoa(s.seq))
	out.ResourceVersion = strconv.Itoa(s.seq)
	s.claims[c.Name] = out
	if s.created != nil {
		s.created(out)
	}
	if s.lostAnswers > 0 {
		s.lostAnswers--
		return nil, errLostAnswer
	}
	for _, w := range s.watchers {
		w.set(nil, out)
	}
	return out.DeepCopy(), nil
}

func (s *memStore) UpdateClaim(_ context.Context, c *v1alpha1.IPClaim) (*v1alpha1.IPClaim, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.writes++
	cur, ok := s.claims[c.Name]
	if !ok || cur.ResourceVersion != c.ResourceVersion {
		return nil, ErrConflict
	}
	s.seq++
	out := c.DeepCopy()
	out.ResourceVersion = strconv.Itoa(s.seq)
	s.claims[c.Name] = out
	for _, w := range s.watchers {
		w.set(cur, out)
	}
	return out.DeepCopy(), nil
}

func (s *memStore) DeleteClaim(_ context.Context, c *v1alpha1.IPClaim) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.writes++
	cur, ok := s.claims[c.Name]
	if !ok || cur.UID != c.UID || c.ResourceVersion != "" && cur.ResourceVersion != c.ResourceVersion {
		return nil
	}
	delete(s.claims, c.Name)
	for _, w := range s.watchers {
		w.deleted(cur)
	}
	return nil
}

func (s *memStore) PutEndpoint(_ context.Context, ep *v2beta1.SpiderEndpoint) (EndpointVersion, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.writes++
	s.seq++
	key := types.NamespacedName{Namespace: ep.Namespace, Name: ep.Name}
	obj := ep.DeepCopy()
	obj.UID = types.UID("ep-" + strconv.Itoa(s.seq))
	if cur, ok := s.endpoints[key]; ok {
		obj.UID = cur.UID
	}
	obj.ResourceVersion = strconv.Itoa(s.seq)
	s.endpoints[key] = obj
	return EndpointVersion{UID: obj.UID, ResourceVersion: obj.ResourceVersion}, nil
}

func (s *memStore) DeleteEndpoint(_ context.Context, pod types.NamespacedName, at *EndpointVersion) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.writes++
	cur, ok := s.endpoints[pod]
	if !ok || at != nil && (cur.UID != at.UID || cur.ResourceVersion != at.ResourceVersion) {
		return nil
	}
	delete(s.endpoints, pod)
	return nil
}

func (s *memStore) holders() map[string]string {
	s.mu.Lock()
	defer s.mu.Unlock()
	out := map[string]string{}
	for _, c := range s.claims {
		out[c.Spec.Address] = c.Spec.Holder.Namespace + "/" + c.Spec.Holder.Name
	}
	return out
}

// memCluster is a Cluster over maps.
type memCluster struct {
	mu   sync.Mutex
	pods map[types.NamespacedName]*corev1.Pod
	sts  map[types.NamespacedName]*appsv1.StatefulSet
	node string
}

func newMemCluster(node string) *memCluster {
	return &memCluster{pods: map[types.NamespacedName]*corev1.Pod{}, sts: map[types.NamespacedName]*appsv1.StatefulSet{}, node: node}
}

func (c *memCluster) addPod(p *corev1.Pod) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.pods[types.NamespacedName{Namespace: p.Namespace, Name: p.Name}] = p
}

func (c *memCluster) Pod(_ context.Context, key types.NamespacedName, _ types.UID) (*corev1.Pod, error) {
	c.mu.Lock()
	defer c.mu.Unlock()
	p, ok := c.pods[key]
	if !ok {
		return nil, fmt.Errorf("pod %s: %w", key, ErrNotFound)
	}
	return p, nil
}

// endPod marks a pod as being deleted, as the runtime sees it when it
// tears the pod's sandboxes down for good.
func (c *memCluster) endPod(p *corev1.Pod) {
	c.mu.Lock()
	defer c.mu.Unlock()
	key := types.NamespacedName{Namespace: p.Namespace, Name: p.Name}
	if cur, ok := c.pods[key]; ok && cur.UID == p.UID {
		ended := cur.DeepCopy()
		ended.DeletionTimestamp = &metav1.Time{}
		c.pods[key] = ended
	}
}

func (c *memCluster) PodEnded(_ context.Context, key types.NamespacedName, uid types.UID) (bool, error) {
	c.mu.Lock()
	defer c.mu.Unlock()
	p, ok := c.pods[key]
	return !ok || p.UID != uid || p.DeletionTimestamp != nil || p.Status.Phase == corev1.PodSucceeded || p.Status.Phase == corev1.PodFailed, nil
}

func (c *memCluster) Namespace(_ context.Context, name string) (*corev1.Namespace, error) {
	return &corev1.Namespace{ObjectMeta: metav1.ObjectMeta{Name: name}}, nil
}

func (c *memCluster) Node(_ context.Context) (*corev1.Node, error) {
	return &corev1.Node{ObjectMeta: metav1.ObjectMeta{Name: c.node}}, nil
}

func (c *memCluster) StatefulSet(_ context.Context, key types.NamespacedName) (*appsv1.StatefulSet, error) {
	c.mu.Lock()
	defer c.mu.Unlock()
	s, ok := c.sts[key]
	if !ok {
		return nil, ErrNotFound
	}
	return s, nil
}

func (c *memCluster) TopOwner(_ context.Context, pod *corev1.Pod) (v1alpha1.ClaimOwner, error) {
	if ref := metav1.GetControllerOf(pod); ref != nil {
		return v1alpha1.ClaimOwner{Kind: ref.Kind, Name: ref.Name, UID: ref.UID}, nil
	}
	return v1alpha1.ClaimOwner{Kind: "Pod", Name: pod.Name, UID: pod.UID}, nil
}
