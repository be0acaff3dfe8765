package gc

import (
	"context"
	"errors"
	"testing"
	"time"

	"github.com/go-logr/logr/testr"
	"github.com/google/go-cmp/cmp"
	"github.com/prometheus/client_golang/prometheus"
	dto "github.com/prometheus/client_model/go"
	appsv1 "k8s.io/api/apps/v1"
	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime"
	k8stypes "k8s.io/apimachinery/pkg/types"
	clientgoscheme "k8s.io/client-go/kubernetes/scheme"
	clocktesting "k8s.io/utils/clock/testing"
	"k8s.io/utils/ptr"
	ctrl "sigs.k8s.io/controller-runtime"
	"sigs.k8s.io/controller-runtime/pkg/client"
	"sigs.k8s.io/controller-runtime/pkg/client/fake"
	"sigs.k8s.io/controller-runtime/pkg/client/interceptor"
	"sigs.k8s.io/controller-runtime/pkg/event"
	"sigs.k8s.io/controller-runtime/pkg/reconcile"

	"github.com/ipkeeper/ipkeeper/api/ipkeeper/v1alpha1"
	"github.com/ipkeeper/ipkeeper/api/v2beta1"
	"github.com/ipkeeper/ipkeeper/internal/controller"
	"github.com/ipkeeper/ipkeeper/internal/spiderpool"
)

// The fake clients below stand for what a real API server cannot be made to
// produce on demand: a cache that lags the API server, and a claim taken
// over between the read a release was decided on and the delete.

func testScheme(t *testing.T) *runtime.Scheme {
	s := runtime.NewScheme()
	if err := clientgoscheme.AddToScheme(s); err != nil {
		t.Fatal(err)
	}
	if err := v1alpha1.AddToScheme(s); err != nil {
		t.Fatal(err)
	}
	if err := v2beta1.AddToScheme(s); err != nil {
		t.Fatal(err)
	}
	return s
}

// indexer registers the lead's claim indexes on a fake client builder.
type indexer struct{ b *fake.ClientBuilder }

func (i indexer) IndexField(_ context.Context, obj client.Object, field string, extract client.IndexerFunc) error {
	i.b.WithIndex(obj, field, extract)
	return nil
}

func fakeClient(t *testing.T, funcs *interceptor.Funcs, objs ...client.Object) client.WithWatch {
	b := fake.NewClientBuilder().WithScheme(testScheme(t)).WithObjects(objs...)
	if err := controller.AddIndexes(t.Context(), indexer{b}); err != nil {
		t.Fatal(err)
	}
	if funcs != nil {
		b = b.WithInterceptorFuncs(*funcs)
	}
	return b.Build()
}

// cachedClient reads from a (possibly stale) cache and writes to the API.
type cachedClient struct {
	client.Client
	cache client.Reader
}

func (c cachedClient) Get(ctx context.Context, key client.ObjectKey, obj client.Object, opts ...client.GetOption) error {
	return c.cache.Get(ctx, key, obj, opts...)
}

func (c cachedClient) List(ctx context.Context, list client.ObjectList, opts ...client.ListOption) error {
	return c.cache.List(ctx, list, opts...)
}

func newTestReconciler(t *testing.T, clk *clocktesting.FakePassiveClock, api, cache client.Client) *Reconciler {
	r := &Reconciler{Client: cachedClient{Client: api, cache: cache}, APIReader: api, Clock: clk,
		EnableStatefulSet: true, TerminatingMargin: margin}
	if err := r.complete(prometheus.NewRegistry()); err != nil {
		t.Fatal(err)
	}
	return r
}

func testContext(t *testing.T) context.Context {
	return ctrl.LoggerInto(t.Context(), testr.New(t))
}

func exists(t *testing.T, c client.Reader, name string) bool {
	t.Helper()
	err := c.Get(t.Context(), client.ObjectKey{Name: name}, &v1alpha1.IPClaim{})
	if err != nil && !apierrors.IsNotFound(err) {
		t.Fatal(err)
	}
	return err == nil
}

func TestCheckDecidesOnLiveReads(t *testing.T) {
	claim := claimOf("app-1", "Deployment", "app", nil)
	stsClaim := claimOf("web-1", spiderpool.KindStatefulSet, "web", ptr.To[int32](1))
	recreated := claimOf("app-2", "Deployment", "app", nil)
	recreated.UID = "claim-uid-2"
	tests := []struct {
		name        string
		claim       *v1alpha1.IPClaim // in the cache
		cache, api  []client.Object   // besides the claim
		apiClaim    *v1alpha1.IPClaim // nil: the same claim
		wantExists  bool
		wantRelease float64
	}{
		{name: "both see the pod gone", claim: claim, wantRelease: 1},
		{name: "pod missing from a lagging cache", claim: claim, api: []client.Object{podOf("app-1")}, wantExists: true},
		{name: "statefulset missing from a lagging cache", claim: stsClaim, api: []client.Object{stsOf(ptr.To[int32](3))}, wantExists: true},
		{name: "ordinal scaled down in a lagging cache", claim: stsClaim,
			cache: []client.Object{stsOf(ptr.To[int32](1))}, api: []client.Object{stsOf(ptr.To[int32](3))}, wantExists: true},
		{name: "cache sees the pod alive: nothing is read live", claim: claim, cache: []client.Object{podOf("app-1")}, wantExists: true},
		{name: "claim already released", claim: claim, apiClaim: &v1alpha1.IPClaim{}},
		{name: "name claimed again by a live pod", claim: claim, apiClaim: recreated,
			api: []client.Object{podOf("app-2")}, wantExists: true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			apiObjs := tt.api
			switch {
			case tt.apiClaim == nil:
				apiObjs = append(apiObjs, tt.claim.DeepCopy())
			case tt.apiClaim.Name != "":
				apiObjs = append(apiObjs, tt.apiClaim)
			}
			api := fakeClient(t, nil, apiObjs...)
			cache := fakeClient(t, nil, append(tt.cache, tt.claim.DeepCopy())...)
			r := newTestReconciler(t, clocktesting.NewFakePassiveClock(t0), api, cache)
			after, err := r.check(testContext(t), tt.claim)
			if err != nil || after != 0 {
				t.Fatalf("check = %v, %v; want 0, nil", after, err)
			}
			if got := exists(t, api, tt.claim.Name); got != tt.wantExists {
				t.Errorf("claim exists = %v, want %v", got, tt.wantExists)
			}
			if got := value(t, r.metrics.released.WithLabelValues(ReasonPodGone)); got != tt.wantRelease {
				t.Errorf("released{pod_gone} = %v, want %v", got, tt.wantRelease)
			}
		})
	}
}

// A StatefulSet scaled back up between the collector's reads and its delete:
// the restarted pod took the claim over, so the delete must not go through.
func TestCheckClaimTakenOverBeforeDelete(t *testing.T) {
	claim := claimOf("web-1", spiderpool.KindStatefulSet, "web", ptr.To[int32](1))
	deletes := 0
	funcs := &interceptor.Funcs{Delete: func(ctx context.Context, c client.WithWatch, obj client.Object, opts ...client.DeleteOption) error {
		if deletes++; deletes == 1 {
			scaleUpAndTakeOver(ctx, t, c, claim.Name)
		}
		return c.Delete(ctx, obj, opts...)
	}}
	api := fakeClient(t, funcs, stsOf(ptr.To[int32](1)), claim.DeepCopy())
	r := newTestReconciler(t, clocktesting.NewFakePassiveClock(t0), api, api)
	if _, err := r.check(testContext(t), claim); err != nil {
		t.Fatal(err)
	}
	var got v1alpha1.IPClaim
	if err := api.Get(t.Context(), client.ObjectKey{Name: claim.Name}, &got); err != nil {
		t.Fatalf("the claim taken over was released: %v", err)
	}
	if got.Spec.Holder.UID != "new-uid" || deletes != 1 {
		t.Errorf("holder uid %s after %d deletes; want the new incarnation's after 1", got.Spec.Holder.UID, deletes)
	}
}

func scaleUpAndTakeOver(ctx context.Context, t *testing.T, c client.Client, name string) {
	sts := &appsv1.StatefulSet{}
	if err := c.Get(ctx, client.ObjectKey{Namespace: "ns", Name: "web"}, sts); err != nil {
		t.Error(err)
	}
	sts.Spec.Replicas = ptr.To[int32](2)
	claim := &v1alpha1.IPClaim{}
	if err := c.Get(ctx, client.ObjectKey{Name: name}, claim); err != nil {
		t.Error(err)
	}
	claim.Spec.Holder.UID = "new-uid"
	for _, err := range []error{c.Update(ctx, sts), c.Update(ctx, claim), c.Create(ctx, podOf("web-1", uid("new-uid")))} {
		if err != nil {
			t.Error(err)
		}
	}
}

func TestCheckGivesUpOnAClaimThatKeepsChanging(t *testing.T) {
	claim := claimOf("app-1", "Deployment", "app", nil)
	funcs := &interceptor.Funcs{Delete: func(context.Context, client.WithWatch, client.Object, ...client.DeleteOption) error {
		return apierrors.NewConflict(v1alpha1.GroupVersion.WithResource("ipclaims").GroupResource(), claim.Name, errors.New("changed"))
	}}
	api := fakeClient(t, funcs, claim.DeepCopy())
	r := newTestReconciler(t, clocktesting.NewFakePassiveClock(t0), api, api)
	if _, err := r.check(testContext(t), claim); !errors.Is(err, errChanged) {
		t.Fatalf("check = %v, want errChanged", err)
	}
}

func TestReconcileWaitsForTheTerminatingMargin(t *testing.T) {
	claim := claimOf("app-1", "Deployment", "app", nil)
	deadline := t0.Add(30 * time.Second) // deleted at t0 with 30 s of grace
	// The fake client holds an object marked for deletion only with a finalizer.
	pod := podOf("app-1", deleting(deadline, 30))
	pod.Finalizers = []string{"example.com/held"}
	api := fakeClient(t, nil, claim, pod)
	clk := clocktesting.NewFakePassiveClock(t0)
	r := newTestReconciler(t, clk, api, api)
	req := reconcile.Request{NamespacedName: client.ObjectKey{Name: claim.Name}}
	for _, step := range []struct {
		now    time.Time
		after  time.Duration
		exists bool
	}{
		{t0, 30*time.Second + margin, true},
		{deadline, margin, true},
		{deadline.Add(margin - time.Nanosecond), time.Nanosecond, true},
		{deadline.Add(margin), 0, false},
	} {
		clk.SetTime(step.now)
		res, err := r.Reconcile(testContext(t), req)
		if err != nil || res.RequeueAfter != step.after {
			t.Fatalf("at %v: Reconcile = %+v, %v; want RequeueAfter %v", step.now, res, err, step.after)
		}
		if got := exists(t, api, claim.Name); got != step.exists {
			t.Fatalf("at %v: claim exists = %v, want %v", step.now, got, step.exists)
		}
	}
	if got := value(t, r.metrics.released.WithLabelValues(ReasonPodTerminated)); got != 1 {
		t.Errorf("released{pod_terminated} = %v, want 1", got)
	}
}

func TestReconcileClaimGone(t *testing.T) {
	api := fakeClient(t, nil)
	r := newTestReconciler(t, clocktesting.NewFakePassiveClock(t0), api, api)
	res, err := r.Reconcile(testContext(t), reconcile.Request{NamespacedName: client.ObjectKey{Name: "10.9.0.1"}})
	if err != nil || res != (reconcile.Result{}) {
		t.Fatalf("Reconcile = %+v, %v; want nothing to do", res, err)
	}
}

func named(name string, c *v1alpha1.IPClaim) *v1alpha1.IPClaim {
	c.Name, c.UID, c.Spec.Address = name, "uid-"+k8stypes.UID(name), name
	return c
}

func value(t *testing.T, c prometheus.Metric) float64 {
	t.Helper()
	var m dto.Metric
	if err := c.Write(&m); err != nil {
		t.Fatal(err)
	}
	return m.GetCounter().GetValue()
}

func TestScan(t *testing.T) {
	objs := []client.Object{
		named("10.9.0.1", claimOf("alive", "Deployment", "app", nil)), podOf("alive"),
		named("10.9.0.2", claimOf("dead", "Deployment", "app", nil)),
		named("10.9.0.3", claimOf("done", "Job", "job", nil)), podOf("done", phase(corev1.PodSucceeded)),
		named("10.9.0.4", claimOf("web-0", spiderpool.KindStatefulSet, "web", ptr.To[int32](0))), stsOf(ptr.To[int32](1)),
		named("10.9.0.5", claimOf("web-1", spiderpool.KindStatefulSet, "web", ptr.To[int32](1))),
		named("10.9.0.6", claimOf("broken", "Deployment", "app", nil)),
	}
	funcs := &interceptor.Funcs{Get: func(ctx context.Context, c client.WithWatch, key client.ObjectKey, obj client.Object, opts ...client.GetOption) error {
		if key.Name == "broken" {
			return apierrors.NewServiceUnavailable("etcd is down")
		}
		return c.Get(ctx, key, obj, opts...)
	}}
	api := fakeClient(t, funcs, objs...)
	r := newTestReconciler(t, clocktesting.NewFakePassiveClock(t0), api, api)
	r.scan(testContext(t))

	var list v1alpha1.IPClaimList
	if err := api.List(t.Context(), &list); err != nil {
		t.Fatal(err)
	}
	var left []string
	for _, c := range list.Items {
		left = append(left, c.Name)
	}
	if diff := cmp.Diff([]string{"10.9.0.1", "10.9.0.4", "10.9.0.6"}, left); diff != "" {
		t.Errorf("claims left after a scan (-want +got):\n%s", diff)
	}
	for reason, want := range map[string]float64{ReasonPodGone: 1, ReasonPodCompleted: 1, ReasonScaledDown: 1} {
		if got := value(t, r.metrics.released.WithLabelValues(reason)); got != want {
			t.Errorf("released{%s} = %v, want %v", reason, got, want)
		}
	}
	if got := value(t, r.metrics.scans); got != 1 {
		t.Errorf("scans = %v, want 1 (a pass with a failed claim still completes)", got)
	}
}

func TestEventsMapToClaims(t *testing.T) {
	objs := []client.Object{
		named("10.9.0.1", claimOf("web-0", spiderpool.KindStatefulSet, "web", ptr.To[int32](0))),
		named("10.9.0.2", claimOf("web-1", spiderpool.KindStatefulSet, "web", ptr.To[int32](1))),
		named("10.9.0.3", claimOf("app-1", "Deployment", "app", nil)),
		named("10.9.0.4", func() *v1alpha1.IPClaim {
			c := claimOf("web-0", spiderpool.KindStatefulSet, "web", nil)
			c.Spec.Holder.Namespace = "other"
			return c
		}()),
	}
	api := fakeClient(t, nil, objs...)
	r := newTestReconciler(t, clocktesting.NewFakePassiveClock(t0), api, api)
	names := func(reqs []reconcile.Request) []string {
		var out []string
		for _, q := range reqs {
			out = append(out, q.Name)
		}
		return out
	}
	ctx := testContext(t)
	if diff := cmp.Diff([]string{"10.9.0.1", "10.9.0.2"}, names(r.claimsOfStatefulSet(ctx, stsOf(nil)))); diff != "" {
		t.Errorf("claims of statefulset ns/web (-want +got):\n%s", diff)
	}
	if diff := cmp.Diff([]string{"10.9.0.3"}, names(r.claimsOfPod(ctx, podOf("app-1")))); diff != "" {
		t.Errorf("claims of pod ns/app-1 (-want +got):\n%s", diff)
	}
	if got := r.claimsOfPod(ctx, podOf("nobody")); len(got) != 0 {
		t.Errorf("claims of a pod without any = %v", got)
	}
}

func TestPredicates(t *testing.T) {
	running, done := podOf("p"), podOf("p", phase(corev1.PodSucceeded))
	dying, dyingSooner := podOf("p", deleting(t0.Add(time.Minute), 60)), podOf("p", deleting(t0, 0))
	sts := stsOf(ptr.To[int32](3))
	sts.Generation = 1
	scaled := stsOf(ptr.To[int32](1))
	scaled.Generation = 2
	statusOnly := sts.DeepCopy()
	statusOnly.Status.ReadyReplicas = 2
	gen := func(o client.Object, g int64) client.Object { o.SetGeneration(g); return o }
	update := func(old, nw client.Object) event.UpdateEvent { return event.UpdateEvent{ObjectOld: old, ObjectNew: nw} }
	tests := []struct {
		name string
		got  bool
		want bool
	}{
		{"pod created", podEnding().Create(event.CreateEvent{Object: running}), false},
		{"pod deleted", podEnding().Delete(event.DeleteEvent{Object: running}), true},
		{"pod finished", podEnding().Update(update(running, done)), true},
		{"finished pod updated", podEnding().Update(update(done, done)), false},
		{"pod marked for deletion", podEnding().Update(update(running, dying)), true},
		{"pod deadline shortened", podEnding().Update(update(dying, dyingSooner)), true},
		{"terminating pod updated", podEnding().Update(update(dying, dying)), false},
		{"pod status updated", podEnding().Update(update(running, running.DeepCopy())), false},
		{"statefulset created", statefulSetChanged().Create(event.CreateEvent{Object: sts}), false},
		{"statefulset deleted", statefulSetChanged().Delete(event.DeleteEvent{Object: sts}), true},
		{"statefulset scaled", statefulSetChanged().Update(update(sts, scaled)), true},
		{"statefulset status updated", statefulSetChanged().Update(update(sts, statusOnly)), false},
		{"statefulset marked for deletion", statefulSetChanged().Update(update(sts, stsOf(ptr.To[int32](3), stsDeleting, func(s *appsv1.StatefulSet) { s.Generation = 1 }))), true},
		{"retain annotation added", statefulSetChanged().Update(update(sts, stsOf(ptr.To[int32](3), retain("true"), func(s *appsv1.StatefulSet) { s.Generation = 1 }))), true},
		{"claim created", claimChanged().Create(event.CreateEvent{Object: &v1alpha1.IPClaim{}}), true},
		{"claim taken over", claimChanged().Update(update(gen(&v1alpha1.IPClaim{}, 1), gen(&v1alpha1.IPClaim{}, 2))), true},
		{"claim metadata updated", claimChanged().Update(update(gen(&v1alpha1.IPClaim{}, 1), gen(&v1alpha1.IPClaim{}, 1))), false},
		{"claim deleted", claimChanged().Delete(event.DeleteEvent{Object: &v1alpha1.IPClaim{}}), false},
	}
	for _, tt := range tests {
		if tt.got != tt.want {
			t.Errorf("%s: passes = %v, want %v", tt.name, tt.got, tt.want)
		}
	}
}

func TestMetricsRegisterTwice(t *testing.T) {
	reg := prometheus.NewRegistry()
	a, err := newMetrics(reg)
	if err != nil {
		t.Fatal(err)
	}
	b, err := newMetrics(reg)
	if err != nil {
		t.Fatal(err)
	}
	b.scans.Inc()
	if got := value(t, a.scans); got != 1 {
		t.Errorf("a second collector counts into the first one's series: got %v, want 1", got)
	}
}

// The sweep decides on the cache's claims and a live read of the pod: a pod
// the cache has not seen yet keeps its endpoint, and so does a claim the
// cache holds.
func TestSweepEndpoints(t *testing.T) {
	ep := func(name string) *v2beta1.SpiderEndpoint {
		return &v2beta1.SpiderEndpoint{ObjectMeta: metav1.ObjectMeta{Namespace: "ns", Name: name, UID: k8stypes.UID("ep-" + name)}}
	}
	api := fakeClient(t, nil, ep("stale"), ep("claimed"), ep("new-pod"), podOf("new-pod"),
		named("10.9.0.1", claimOf("claimed", spiderpool.KindStatefulSet, "web", ptr.To[int32](0))))
	cache := fakeClient(t, nil, named("10.9.0.1", claimOf("claimed", spiderpool.KindStatefulSet, "web", ptr.To[int32](0))))
	r := newTestReconciler(t, clocktesting.NewFakePassiveClock(t0), api, cache)
	deleted, err := r.sweepEndpoints(testContext(t))
	if err != nil || deleted != 1 {
		t.Fatalf("sweepEndpoints = %d, %v; want 1, nil", deleted, err)
	}
	var list v2beta1.SpiderEndpointList
	if err := api.List(t.Context(), &list); err != nil {
		t.Fatal(err)
	}
	var left []string
	for _, e := range list.Items {
		left = append(left, e.Name)
	}
	if diff := cmp.Diff([]string{"claimed", "new-pod"}, left); diff != "" {
		t.Errorf("endpoints left after a sweep (-want +got):\n%s", diff)
	}
	if got := value(t, r.metrics.endpointsDeleted); got != 1 {
		t.Errorf("endpoints deleted = %v, want 1", got)
	}
}
