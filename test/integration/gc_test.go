//go:build integration

package integration

import (
	"context"
	"fmt"
	"sync"
	"testing"
	"time"

	"github.com/go-logr/logr/testr"
	appsv1 "k8s.io/api/apps/v1"
	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/types"
	"k8s.io/utils/ptr"
	ctrl "sigs.k8s.io/controller-runtime"
	"sigs.k8s.io/controller-runtime/pkg/client"
	crmetrics "sigs.k8s.io/controller-runtime/pkg/metrics"

	"github.com/ipkeeper/ipkeeper/api/ipkeeper/v1alpha1"
	"github.com/ipkeeper/ipkeeper/internal/controller/gc"
)

const (
	// gcMargin is the collector's TerminatingMargin in these tests.
	gcMargin = 5 * time.Second
	// gcWindow is the longest a released claim may outlive its holder.
	gcWindow = 60 * time.Second
	// gcHoldFinalizer keeps a deleted pod terminating, as a pod on a NotReady
	// node is kept.
	gcHoldFinalizer = "ipkeeper.io/integration-hold"
)

// gcStart runs the garbage collector in its own manager, as the controller
// does (scan every 2 s). The returned stop waits for the manager to end.
func gcStart(t *testing.T) (stop func()) {
	t.Helper()
	return runManager(t, testr.New(t), func(mgr ctrl.Manager) error {
		r := &gc.Reconciler{Client: mgr.GetClient(), APIReader: mgr.GetAPIReader(), EnableStatefulSet: true,
			TerminatingMargin: gcMargin, ScanInterval: 2 * time.Second}
		return r.SetupWithManager(mgr)
	})
}

// gcScans reads ipkeeper_gc_scans_total, shared by every manager of the process.
func gcScans(t *testing.T) float64 {
	t.Helper()
	families, err := crmetrics.Registry.Gather()
	if err != nil {
		t.Fatal(err)
	}
	for _, f := range families {
		if f.GetName() == "ipkeeper_gc_scans_total" {
			return f.GetMetric()[0].GetCounter().GetValue()
		}
	}
	return 0
}

// gcWaitFullScan returns once a scan that started after the call has checked
// every claim: two passes more than now.
func gcWaitFullScan(t *testing.T) {
	t.Helper()
	from := gcScans(t)
	poll(t, 30*time.Second, "two more gc scans", func(context.Context) (bool, error) {
		return gcScans(t) >= from+2, nil
	})
}

// gcPod is a pod that stays Pending: no node matches its selector.
func gcPod(ns, name string) *corev1.Pod {
	return &corev1.Pod{
		ObjectMeta: metav1.ObjectMeta{Namespace: ns, Name: name},
		Spec:       gcPodSpec(),
	}
}

func gcPodSpec() corev1.PodSpec {
	return corev1.PodSpec{
		NodeSelector:                 map[string]string{"ipkeeper.io/integration": "nowhere"},
		AutomountServiceAccountToken: ptr.To(false),
		Containers:                   []corev1.Container{{Name: "c", Image: "nginx"}},
	}
}

// gcClaim is the claim an agent would have written for the pod's eth0.
func gcClaim(pool, addr string, pod *corev1.Pod, owner v1alpha1.ClaimOwner, ordinal *int32) *v1alpha1.IPClaim {
	return &v1alpha1.IPClaim{
		ObjectMeta: metav1.ObjectMeta{Name: addr, Labels: map[string]string{v1alpha1.LabelPool: pool, v1alpha1.LabelNode: "gc-node"}},
		Spec: v1alpha1.IPClaimSpec{
			Address: addr, Pool: pool, Node: "gc-node",
			Holder: v1alpha1.ClaimHolder{Namespace: pod.Namespace, Name: pod.Name, UID: pod.UID,
				ContainerID: "sandbox-" + pod.Name, Interface: "eth0", Network: "integration"},
			Owner: owner, Ordinal: ordinal,
		},
	}
}

func gcBareOwner(pod *corev1.Pod) v1alpha1.ClaimOwner {
	return v1alpha1.ClaimOwner{APIVersion: "v1", Kind: "Pod", Name: pod.Name, UID: pod.UID}
}

// gcCleanClaims deletes the claims of pool when the test ends.
func gcCleanClaims(t *testing.T, pool string) {
	t.Cleanup(func() {
		if err := env.client.DeleteAllOf(context.Background(), &v1alpha1.IPClaim{}, client.MatchingLabels{v1alpha1.LabelPool: pool}); err != nil {
			t.Errorf("delete claims of %s: %v", pool, err)
		}
	})
}

func gcClaimGone(ctx context.Context, name string) (bool, error) {
	err := env.client.Get(ctx, client.ObjectKey{Name: name}, &v1alpha1.IPClaim{})
	if apierrors.IsNotFound(err) {
		return true, nil
	}
	return false, err
}

// gcWaitReleased polls until every named claim is gone, within the GC window.
func gcWaitReleased(t *testing.T, names ...string) {
	t.Helper()
	poll(t, gcWindow, fmt.Sprintf("claims %v released", names), func(ctx context.Context) (bool, error) {
		for _, n := range names {
			if gone, err := gcClaimGone(ctx, n); !gone || err != nil {
				return false, err
			}
		}
		return true, nil
	})
}

// gcAssertKept fails unless every claim is still there, the same object.
func gcAssertKept(t *testing.T, claims ...*v1alpha1.IPClaim) {
	t.Helper()
	for _, c := range claims {
		var got v1alpha1.IPClaim
		if err := env.client.Get(t.Context(), client.ObjectKey{Name: c.Name}, &got); err != nil {
			t.Errorf("claim %s of pod %s/%s: %v; want it kept", c.Name, c.Spec.Holder.Namespace, c.Spec.Holder.Name, err)
		} else if got.UID != c.UID {
			t.Errorf("claim %s was re-created (uid %s, was %s); want it kept", c.Name, got.UID, c.UID)
		}
	}
}

func gcDeletePod(t *testing.T, pod *corev1.Pod) {
	t.Helper()
	if err := env.client.Delete(t.Context(), pod, client.GracePeriodSeconds(0)); err != nil {
		t.Fatalf("delete pod %s: %v", pod.Name, err)
	}
}

func TestIntegrationGCReleasesClaimsOfPodsThatAreGone(t *testing.T) {
	const ns, pool = "gc-pods", "gc-pods"
	namespace(t, ns)
	gcCleanClaims(t, pool)
	gcStart(t)

	alive, forced, succeeded, replaced, stuck := gcPod(ns, "alive"), gcPod(ns, "forced"), gcPod(ns, "succeeded"), gcPod(ns, "replaced"), gcPod(ns, "stuck")
	stuck.Finalizers = []string{gcHoldFinalizer}
	// Bound to a node that exists: the controller-manager's pod GC marks a
	// terminating pod that is unscheduled (or on a missing node) Failed, which
	// would release its claim as completed before the terminating deadline
	// this test is about.
	const stuckNode = "gc-stuck-node"
	mustCreate(t, &corev1.Node{ObjectMeta: metav1.ObjectMeta{Name: stuckNode}})
	stuck.Spec.NodeSelector, stuck.Spec.NodeName = nil, stuckNode
	mustCreate(t, alive, forced, succeeded, replaced, stuck)
	t.Cleanup(func() { gcUnhold(t, stuck) })
	claims := map[*corev1.Pod]*v1alpha1.IPClaim{}
	for i, p := range []*corev1.Pod{alive, forced, succeeded, replaced, stuck} {
		claims[p] = gcClaim(pool, fmt.Sprintf("10.9.1.%d", i+1), p, gcBareOwner(p), nil)
		mustCreate(t, claims[p])
	}
	gcWaitFullScan(t)
	gcAssertKept(t, claims[alive], claims[forced], claims[succeeded], claims[replaced], claims[stuck])

	gcDeletePod(t, forced)
	phase := client.RawPatch(types.MergePatchType, []byte(`{"status":{"phase":"Succeeded"}}`))
	if err := env.client.Status().Patch(t.Context(), succeeded, phase); err != nil {
		t.Fatalf("mark pod succeeded: %v", err)
	}
	gcDeletePod(t, replaced)
	mustCreate(t, gcPod(ns, "replaced")) // the same name, another incarnation
	gcDeletePod(t, stuck)                // held by its finalizer: terminating
	if err := env.client.Get(t.Context(), client.ObjectKeyFromObject(stuck), stuck); err != nil || stuck.DeletionTimestamp == nil {
		t.Fatalf("pod stuck: %v, deletionTimestamp %v; want it terminating", err, stuck.DeletionTimestamp)
	}

	gcWaitReleased(t, claims[forced].Name, claims[succeeded].Name, claims[replaced].Name)
	var releasedAt time.Time
	poll(t, gcWindow, "claim of the terminating pod released", func(ctx context.Context) (bool, error) {
		gone, err := gcClaimGone(ctx, claims[stuck].Name)
		releasedAt = time.Now()
		return gone, err
	})
	if earliest := stuck.DeletionTimestamp.Add(gcMargin); releasedAt.Before(earliest) {
		t.Errorf("claim of the terminating pod released at %v, before its deadline plus margin %v", releasedAt, earliest)
	}
	gcWaitFullScan(t)
	gcAssertKept(t, claims[alive])
}

// gcUnhold removes the finalizer that keeps a pod terminating.
func gcUnhold(t *testing.T, pod *corev1.Pod) {
	patch := client.RawPatch(types.MergePatchType, []byte(`{"metadata":{"finalizers":null}}`))
	if err := env.client.Patch(context.Background(), pod, patch); client.IgnoreNotFound(err) != nil {
		t.Errorf("remove finalizer of pod %s: %v", pod.Name, err)
	}
}

func gcStatefulSet(ns, name string, replicas int32, annotations map[string]string) *appsv1.StatefulSet {
	labels := map[string]string{"app": name}
	return &appsv1.StatefulSet{
		ObjectMeta: metav1.ObjectMeta{Namespace: ns, Name: name, Annotations: annotations},
		Spec: appsv1.StatefulSetSpec{
			Replicas: &replicas, ServiceName: name, Selector: &metav1.LabelSelector{MatchLabels: labels},
			// Parallel: the pods stay Pending, so OrderedReady would stop at the first.
			PodManagementPolicy: appsv1.ParallelPodManagement,
			Template:            corev1.PodTemplateSpec{ObjectMeta: metav1.ObjectMeta{Labels: labels}, Spec: gcPodSpec()},
		},
	}
}

// gcStatefulSetPods waits for the StatefulSet controller to create the pods of
// ordinals [0, n) and returns them; a pod listed in not must have another UID.
func gcStatefulSetPods(t *testing.T, sts *appsv1.StatefulSet, n int, not ...*corev1.Pod) []*corev1.Pod {
	t.Helper()
	pods := make([]*corev1.Pod, n)
	poll(t, 60*time.Second, fmt.Sprintf("%d pods of statefulset %s", n, sts.Name), func(ctx context.Context) (bool, error) {
		for i := range pods {
			p := &corev1.Pod{}
			err := env.client.Get(ctx, client.ObjectKey{Namespace: sts.Namespace, Name: fmt.Sprintf("%s-%d", sts.Name, i)}, p)
			if apierrors.IsNotFound(err) {
				return false, nil
			} else if err != nil {
				return false, err
			}
			for _, old := range not {
				if old.Name == p.Name && old.UID == p.UID {
					return false, nil
				}
			}
			pods[i] = p
		}
		return true, nil
	})
	return pods
}

func gcStsClaims(t *testing.T, pool, prefix string, sts *appsv1.StatefulSet, pods []*corev1.Pod) []*v1alpha1.IPClaim {
	owner := v1alpha1.ClaimOwner{APIVersion: "apps/v1", Kind: "StatefulSet", Name: sts.Name, UID: sts.UID}
	claims := make([]*v1alpha1.IPClaim, len(pods))
	for i, p := range pods {
		claims[i] = gcClaim(pool, fmt.Sprintf("%s.%d", prefix, i), p, owner, ptr.To(int32(i)))
		mustCreate(t, claims[i])
	}
	return claims
}

func gcScale(t *testing.T, sts *appsv1.StatefulSet, replicas int32) {
	t.Helper()
	patch := client.RawPatch(types.MergePatchType, fmt.Appendf(nil, `{"spec":{"replicas":%d}}`, replicas))
	if err := env.client.Patch(t.Context(), sts, patch); err != nil {
		t.Fatalf("scale statefulset %s to %d: %v", sts.Name, replicas, err)
	}
}

func TestIntegrationGCStatefulSet(t *testing.T) {
	const ns, pool = "gc-sts", "gc-sts"
	namespace(t, ns)
	gcCleanClaims(t, pool)
	gcStart(t)

	web := gcStatefulSet(ns, "web", 3, nil)
	db := gcStatefulSet(ns, "db", 2, map[string]string{"ipkeeper.io/retain-on-scale-down": "true"})
	mustCreate(t, web, db)
	webClaims := gcStsClaims(t, pool, "10.9.2", web, gcStatefulSetPods(t, web, 3))
	dbPods := gcStatefulSetPods(t, db, 2)
	dbClaims := gcStsClaims(t, pool, "10.9.3", db, dbPods)
	gcWaitFullScan(t)
	gcAssertKept(t, append(webClaims, dbClaims...)...)

	// Scale-down releases the ordinals that are gone.
	gcScale(t, web, 1)
	gcWaitReleased(t, webClaims[1].Name, webClaims[2].Name)

	// Pod 0 is deleted and re-created with a new UID: it keeps its address.
	web0 := &corev1.Pod{}
	if err := env.client.Get(t.Context(), client.ObjectKey{Namespace: ns, Name: "web-0"}, web0); err != nil {
		t.Fatal(err)
	}
	gcDeletePod(t, web0)
	gcStatefulSetPods(t, web, 1, web0)
	gcWaitFullScan(t)
	gcAssertKept(t, webClaims[0])

	// With ipkeeper.io/retain-on-scale-down, scaling to 0 keeps every address.
	gcScale(t, db, 0)
	poll(t, 60*time.Second, "pods of db deleted", func(ctx context.Context) (bool, error) {
		for _, p := range dbPods {
			if err := env.client.Get(ctx, client.ObjectKeyFromObject(p), &corev1.Pod{}); !apierrors.IsNotFound(err) {
				return false, client.IgnoreNotFound(err)
			}
		}
		return true, nil
	})
	gcWaitFullScan(t)
	gcAssertKept(t, append([]*v1alpha1.IPClaim{webClaims[0]}, dbClaims...)...)

	// Deleting a StatefulSet releases all its addresses.
	for _, sts := range []*appsv1.StatefulSet{web, db} {
		if err := env.client.Delete(t.Context(), sts); err != nil {
			t.Fatalf("delete statefulset %s: %v", sts.Name, err)
		}
	}
	gcWaitReleased(t, webClaims[0].Name, dbClaims[0].Name, dbClaims[1].Name)
}

func TestIntegrationGCNamespaceDeleted(t *testing.T) {
	const ns, pool = "gc-namespace", "gc-namespace"
	namespace(t, ns)
	gcCleanClaims(t, pool)
	gcStart(t)

	pod := gcPod(ns, "app")
	mustCreate(t, pod)
	claim := gcClaim(pool, "10.9.4.1", pod, gcBareOwner(pod), nil)
	mustCreate(t, claim)
	gcWaitFullScan(t)
	gcAssertKept(t, claim)

	if err := env.client.Delete(t.Context(), &corev1.Namespace{ObjectMeta: metav1.ObjectMeta{Name: ns}}); err != nil {
		t.Fatal(err)
	}
	gcWaitReleased(t, claim.Name)
}

func TestIntegrationGCControllerRestartedMidScan(t *testing.T) {
	const ns, pool, n = "gc-restart", "gc-restart", 20
	namespace(t, ns)
	gcCleanClaims(t, pool)

	var alive, dead []*v1alpha1.IPClaim
	var doomed []*corev1.Pod
	for i := range n {
		a, d := gcPod(ns, fmt.Sprint("alive-", i)), gcPod(ns, fmt.Sprint("doomed-", i))
		mustCreate(t, a, d)
		doomed = append(doomed, d)
		alive = append(alive, gcClaim(pool, fmt.Sprint("10.9.5.", i), a, gcBareOwner(a), nil))
		dead = append(dead, gcClaim(pool, fmt.Sprint("10.9.6.", i), d, gcBareOwner(d), nil))
		mustCreate(t, alive[i], dead[i])
	}
	stop := gcStart(t)
	gcWaitFullScan(t)

	// Pods die, and the collector stops while it is releasing their claims.
	var wg sync.WaitGroup
	for _, p := range doomed {
		wg.Go(func() {
			if err := env.client.Delete(t.Context(), p, client.GracePeriodSeconds(0)); err != nil {
				t.Errorf("delete pod %s: %v", p.Name, err)
			}
		})
	}
	wg.Wait()
	if t.Failed() {
		t.FailNow()
	}
	poll(t, gcWindow, "a first claim released", func(ctx context.Context) (bool, error) {
		for _, c := range dead {
			if gone, err := gcClaimGone(ctx, c.Name); gone || err != nil {
				return gone, err
			}
		}
		return false, nil
	})
	stop()

	// While no collector runs, more holders go, some never existed.
	for i := range n {
		ghost := &corev1.Pod{ObjectMeta: metav1.ObjectMeta{Namespace: ns, Name: fmt.Sprint("ghost-", i), UID: types.UID(fmt.Sprint("ghost-uid-", i))}}
		dead = append(dead, gcClaim(pool, fmt.Sprint("10.9.7.", i), ghost, gcBareOwner(ghost), nil))
		mustCreate(t, dead[len(dead)-1])
	}
	remaining := 0
	for _, c := range dead {
		if gone, err := gcClaimGone(t.Context(), c.Name); err != nil {
			t.Fatal(err)
		} else if !gone {
			remaining++
		}
	}
	t.Logf("%d of %d dead holders' claims left for the restarted collector", remaining, len(dead))

	gcStart(t)
	names := make([]string, len(dead))
	for i, c := range dead {
		names[i] = c.Name
	}
	gcWaitReleased(t, names...)
	gcWaitFullScan(t)
	gcAssertKept(t, alive...)
}
