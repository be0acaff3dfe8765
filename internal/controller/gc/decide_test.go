package gc

import (
	"fmt"
	"testing"
	"time"

	appsv1 "k8s.io/api/apps/v1"
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/types"
	"k8s.io/utils/ptr"

	"github.com/ipkeeper/ipkeeper/api/ipkeeper/v1alpha1"
	"github.com/ipkeeper/ipkeeper/internal/spiderpool"
)

var (
	t0     = time.Date(2026, 3, 1, 12, 0, 0, 0, time.UTC)
	margin = 30 * time.Second
)

// claimOf is a claim held by pod ns/name (uid pod-uid) under owner kind/name.
func claimOf(name, kind, owner string, ordinal *int32) *v1alpha1.IPClaim {
	return &v1alpha1.IPClaim{
		ObjectMeta: metav1.ObjectMeta{Name: "10.9.0.1", UID: "claim-uid"},
		Spec: v1alpha1.IPClaimSpec{
			Address: "10.9.0.1", Pool: "pool", Node: "node1",
			Holder:  v1alpha1.ClaimHolder{Namespace: "ns", Name: name, UID: "pod-uid", Interface: "eth0"},
			Owner:   v1alpha1.ClaimOwner{APIVersion: "apps/v1", Kind: kind, Name: owner, UID: "owner-uid"},
			Ordinal: ordinal,
		},
	}
}

type podOpt func(*corev1.Pod)

func podOf(name string, opts ...podOpt) *corev1.Pod {
	p := &corev1.Pod{
		ObjectMeta: metav1.ObjectMeta{Namespace: "ns", Name: name, UID: "pod-uid"},
		Status:     corev1.PodStatus{Phase: corev1.PodRunning},
	}
	for _, o := range opts {
		o(p)
	}
	return p
}

func uid(u types.UID) podOpt          { return func(p *corev1.Pod) { p.UID = u } }
func phase(ph corev1.PodPhase) podOpt { return func(p *corev1.Pod) { p.Status.Phase = ph } }
func deleting(at time.Time, grace int64) podOpt {
	return func(p *corev1.Pod) {
		p.DeletionTimestamp = &metav1.Time{Time: at}
		p.DeletionGracePeriodSeconds = &grace
	}
}

type stsOpt func(*appsv1.StatefulSet)

func stsOf(replicas *int32, opts ...stsOpt) *appsv1.StatefulSet {
	s := &appsv1.StatefulSet{
		ObjectMeta: metav1.ObjectMeta{Namespace: "ns", Name: "web", UID: "owner-uid"},
		Spec:       appsv1.StatefulSetSpec{Replicas: replicas},
	}
	for _, o := range opts {
		o(s)
	}
	return s
}

func stsUID(u types.UID) stsOpt { return func(s *appsv1.StatefulSet) { s.UID = u } }
func start(n int32) stsOpt {
	return func(s *appsv1.StatefulSet) { s.Spec.Ordinals = &appsv1.StatefulSetOrdinals{Start: n} }
}
func retain(v string) stsOpt {
	return func(s *appsv1.StatefulSet) { s.Annotations = map[string]string{spiderpool.AnnoRetainOnScaleDown: v} }
}
func stsDeleting(s *appsv1.StatefulSet) { s.DeletionTimestamp = &metav1.Time{Time: t0} }

type want struct {
	release bool
	reason  string
	after   time.Duration
}

func TestDecideStateless(t *testing.T) {
	deployment := claimOf("app-5d9c-x7k2", "Deployment", "app", nil)
	bare := claimOf("bare", "Pod", "bare", nil)
	noUID := claimOf("app-5d9c-x7k2", "Deployment", "app", nil)
	noUID.Spec.Holder.UID = ""
	// The pod was deleted at t0 with a 30 s grace period: its deadline,
	// which the API server writes as deletionTimestamp, is t0+30s.
	deadline := t0.Add(30 * time.Second)
	tests := []struct {
		name  string
		claim *v1alpha1.IPClaim
		pod   *corev1.Pod
		now   time.Time
		want  want
	}{
		{"pod gone", deployment, nil, t0, want{true, ReasonPodGone, 0}},
		{"bare pod gone", bare, nil, t0, want{true, ReasonPodGone, 0}},
		{"same-name pod of another incarnation", deployment, podOf("app-5d9c-x7k2", uid("other")), t0, want{true, ReasonPodReplaced, 0}},
		{"pod succeeded", deployment, podOf("app-5d9c-x7k2", phase(corev1.PodSucceeded)), t0, want{true, ReasonPodCompleted, 0}},
		{"pod failed", deployment, podOf("app-5d9c-x7k2", phase(corev1.PodFailed)), t0, want{true, ReasonPodCompleted, 0}},
		{"bare pod succeeded", bare, podOf("bare", phase(corev1.PodSucceeded)), t0, want{true, ReasonPodCompleted, 0}},
		{"pod running", deployment, podOf("app-5d9c-x7k2"), t0, want{false, KeepPodAlive, 0}},
		{"pod pending", deployment, podOf("app-5d9c-x7k2", phase(corev1.PodPending)), t0, want{false, KeepPodAlive, 0}},
		{"pod of unknown phase", deployment, podOf("app-5d9c-x7k2", phase(corev1.PodUnknown)), t0, want{false, KeepPodAlive, 0}},
		{"bare pod running", bare, podOf("bare"), t0, want{false, KeepPodAlive, 0}},
		{"claim without holder uid, pod running", noUID, podOf("app-5d9c-x7k2", uid("any")), t0, want{false, KeepPodAlive, 0}},
		{"claim without holder uid, pod gone", noUID, nil, t0, want{true, ReasonPodGone, 0}},
		{"terminating, within grace", deployment, podOf("app-5d9c-x7k2", deleting(deadline, 30)), t0, want{false, KeepPodTerminating, 60 * time.Second}},
		{"terminating, at deadline", deployment, podOf("app-5d9c-x7k2", deleting(deadline, 30)), deadline, want{false, KeepPodTerminating, margin}},
		{"terminating, 1ns before deadline+margin", deployment, podOf("app-5d9c-x7k2", deleting(deadline, 30)), deadline.Add(margin - 1), want{false, KeepPodTerminating, 1}},
		{"terminating, at deadline+margin", deployment, podOf("app-5d9c-x7k2", deleting(deadline, 30)), deadline.Add(margin), want{true, ReasonPodTerminated, 0}},
		{"terminating, long past (NotReady node)", deployment, podOf("app-5d9c-x7k2", deleting(deadline, 30)), deadline.Add(time.Hour), want{true, ReasonPodTerminated, 0}},
		{"terminating with grace 0, within margin", deployment, podOf("app-5d9c-x7k2", deleting(t0, 0)), t0.Add(time.Second), want{false, KeepPodTerminating, margin - time.Second}},
		{"terminating and failed", deployment, podOf("app-5d9c-x7k2", phase(corev1.PodFailed), deleting(deadline, 30)), t0, want{true, ReasonPodCompleted, 0}},
		{"terminating pod of another incarnation", deployment, podOf("app-5d9c-x7k2", uid("other"), deleting(deadline, 30)), t0, want{true, ReasonPodReplaced, 0}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			// Without the StatefulSet feature a StatefulSet's claim is the same.
			sts := tt.claim.DeepCopy()
			sts.Spec.Owner.Kind, sts.Spec.Ordinal = spiderpool.KindStatefulSet, ptr.To[int32](0)
			for _, c := range []struct {
				claim *v1alpha1.IPClaim
				cfg   Config
			}{
				{tt.claim, Config{EnableStatefulSet: true, TerminatingMargin: margin}},
				{tt.claim, Config{TerminatingMargin: margin}},
				{sts, Config{TerminatingMargin: margin}},
			} {
				checkDecide(t, c.claim, tt.pod, stsOf(ptr.To[int32](3)), tt.now, c.cfg, tt.want)
			}
		})
	}
}

func TestDecideStatefulSet(t *testing.T) {
	on := Config{EnableStatefulSet: true, TerminatingMargin: margin}
	ord := func(n int32) *int32 { return &n }
	web := func(n int32) *v1alpha1.IPClaim {
		return claimOf(fmt.Sprint("web-", n), spiderpool.KindStatefulSet, "web", ord(n))
	}
	byName := func(pod string) *v1alpha1.IPClaim { return claimOf(pod, spiderpool.KindStatefulSet, "web", nil) }
	noOwnerUID := web(1)
	noOwnerUID.Spec.Owner.UID = ""
	three := ptr.To[int32](3)
	deadline := t0.Add(30 * time.Second)
	tests := []struct {
		name  string
		claim *v1alpha1.IPClaim
		pod   *corev1.Pod
		sts   *appsv1.StatefulSet
		now   time.Time
		want  want
	}{
		// The StatefulSet has the ordinal: kept whatever the pod.
		{"ordinal in range, pod running", web(1), podOf("web-1"), stsOf(three), t0, want{false, KeepOrdinal, 0}},
		{"ordinal in range, pod gone (restarting)", web(1), nil, stsOf(three), t0, want{false, KeepOrdinal, 0}},
		{"ordinal in range, pod of another incarnation starting", web(1), podOf("web-1", uid("new"), phase(corev1.PodPending)), stsOf(three), t0, want{false, KeepOrdinal, 0}},
		// Running, the next incarnation has set up all its interfaces and
		// took over each claim it uses: this one (an interface its template
		// dropped) it does not.
		{"ordinal in range, pod of another incarnation running without it", web(1), podOf("web-1", uid("new")), stsOf(three), t0, want{true, ReasonNotTakenOver, 0}},
		{"ordinal in range, pod of another incarnation terminating", web(1), podOf("web-1", uid("new"), deleting(deadline, 30)), stsOf(three), t0, want{false, KeepOrdinal, 0}},
		{"ordinal in range, pod failed", web(1), podOf("web-1", phase(corev1.PodFailed)), stsOf(three), t0, want{false, KeepOrdinal, 0}},
		{"ordinal in range, pod terminating long past", web(1), podOf("web-1", deleting(deadline, 30)), stsOf(three), deadline.Add(time.Hour), want{false, KeepOrdinal, 0}},
		{"last ordinal in range", web(2), nil, stsOf(three), t0, want{false, KeepOrdinal, 0}},
		{"claim without owner uid", noOwnerUID, nil, stsOf(three, stsUID("any")), t0, want{false, KeepOrdinal, 0}},
		{"replicas unset means 1: ordinal 0", web(0), nil, stsOf(nil), t0, want{false, KeepOrdinal, 0}},
		{"replicas unset means 1: ordinal 1", web(1), nil, stsOf(nil), t0, want{true, ReasonScaledDown, 0}},

		// Scaled down.
		{"ordinal = replicas, pod gone", web(3), nil, stsOf(three), t0, want{true, ReasonScaledDown, 0}},
		{"scaled to 0", web(0), nil, stsOf(ptr.To[int32](0)), t0, want{true, ReasonScaledDown, 0}},
		{"scaled down, pod still running", web(3), podOf("web-3"), stsOf(three), t0, want{false, KeepPodAlive, 0}},
		{"scaled down, pod terminating in grace", web(3), podOf("web-3", deleting(deadline, 30)), stsOf(three), t0, want{false, KeepPodTerminating, 60 * time.Second}},
		{"scaled down, pod terminating past margin", web(3), podOf("web-3", deleting(deadline, 30)), stsOf(three), deadline.Add(margin), want{true, ReasonScaledDown, 0}},
		{"scaled down, pod of another incarnation", web(3), podOf("web-3", uid("new")), stsOf(three), t0, want{true, ReasonScaledDown, 0}},
		{"scaled down, pod succeeded", web(3), podOf("web-3", phase(corev1.PodSucceeded)), stsOf(three), t0, want{true, ReasonScaledDown, 0}},

		// spec.ordinals.start = 5, two replicas: ordinals 5 and 6.
		{"below start", web(4), nil, stsOf(ptr.To[int32](2), start(5)), t0, want{true, ReasonScaledDown, 0}},
		{"at start", web(5), nil, stsOf(ptr.To[int32](2), start(5)), t0, want{false, KeepOrdinal, 0}},
		{"last from start", web(6), nil, stsOf(ptr.To[int32](2), start(5)), t0, want{false, KeepOrdinal, 0}},
		{"past start+replicas", web(7), nil, stsOf(ptr.To[int32](2), start(5)), t0, want{true, ReasonScaledDown, 0}},

		// ipkeeper.io/retain-on-scale-down.
		{"retained on scale-down", web(7), nil, stsOf(three, retain("true")), t0, want{false, KeepRetained, 0}},
		{"retain annotation false", web(7), nil, stsOf(three, retain("false")), t0, want{true, ReasonScaledDown, 0}},
		{"retained, but the statefulset is being deleted", web(7), nil, stsOf(three, retain("true"), stsDeleting), t0, want{true, ReasonStatefulSetDeleting, 0}},
		{"retained, and the statefulset was re-created", web(7), nil, stsOf(three, retain("true"), stsUID("new")), t0, want{false, KeepRetained, 0}},

		// The StatefulSet is gone, re-created or being deleted.
		{"statefulset gone", web(0), nil, nil, t0, want{true, ReasonStatefulSetGone, 0}},
		{"statefulset gone, pod of another incarnation", web(0), podOf("web-0", uid("new")), nil, t0, want{true, ReasonStatefulSetGone, 0}},
		{"statefulset gone, orphaned pod running", web(0), podOf("web-0"), nil, t0, want{false, KeepPodAlive, 0}},
		{"statefulset gone, pod terminating in grace", web(0), podOf("web-0", deleting(deadline, 30)), nil, t0, want{false, KeepPodTerminating, 60 * time.Second}},
		// Re-created under the same name (--cascade=orphan, then apply): the
		// new StatefulSet has the ordinal, by name as in Spiderpool.
		{"statefulset re-created, pod gone (rolled)", web(0), nil, stsOf(three, stsUID("new")), t0, want{false, KeepOrdinal, 0}},
		{"statefulset re-created, old pod still running", web(0), podOf("web-0"), stsOf(three, stsUID("new")), t0, want{false, KeepOrdinal, 0}},
		{"statefulset re-created smaller", web(3), nil, stsOf(three, stsUID("new")), t0, want{true, ReasonScaledDown, 0}},
		{"statefulset being deleted", web(0), nil, stsOf(three, stsDeleting), t0, want{true, ReasonStatefulSetDeleting, 0}},

		// The ordinal from the pod name when spec.ordinal is unset.
		{"ordinal from name, in range", byName("web-2"), nil, stsOf(three), t0, want{false, KeepOrdinal, 0}},
		{"ordinal from name, out of range", byName("web-3"), nil, stsOf(three), t0, want{true, ReasonScaledDown, 0}},
		{"spec.ordinal wins over the name", func() *v1alpha1.IPClaim { c := byName("web-9"); c.Spec.Ordinal = ord(0); return c }(), nil, stsOf(three), t0, want{false, KeepOrdinal, 0}},
		{"name without ordinal, pod gone", byName("other-1"), nil, stsOf(three), t0, want{true, ReasonNoOrdinal, 0}},
		{"name without ordinal, pod running", byName("other-1"), podOf("other-1"), stsOf(three), t0, want{false, KeepPodAlive, 0}},
		{"name with a non-numeric ordinal", byName("web-x"), nil, stsOf(three), t0, want{true, ReasonNoOrdinal, 0}},
		{"name with a negative ordinal", byName("web--1"), nil, stsOf(three), t0, want{true, ReasonNoOrdinal, 0}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			checkDecide(t, tt.claim, tt.pod, tt.sts, tt.now, on, tt.want)
		})
	}
}

// checkDecide checks Decide on the pod, and on the pod as the controller's
// cache keeps it (CachedPod) with every field a real pod has filled in.
func checkDecide(t *testing.T, claim *v1alpha1.IPClaim, pod *corev1.Pod, sts *appsv1.StatefulSet, now time.Time, cfg Config, w want) {
	t.Helper()
	pods := map[string]*corev1.Pod{"pod": pod}
	if pod != nil {
		cached, err := CachedPod(filledIn(pod))
		if err != nil {
			t.Fatal(err)
		}
		pods["cached pod"] = cached.(*corev1.Pod)
	}
	for which, p := range pods {
		release, reason, after := Decide(claim, p, sts, now, cfg)
		if release != w.release || reason != w.reason || after != w.after {
			t.Errorf("Decide(%s, owner %s, statefulset feature %v) = (%v, %q, %v), want (%v, %q, %v)",
				which, claim.Spec.Owner.Kind, cfg.EnableStatefulSet, release, reason, after, w.release, w.reason, w.after)
		}
	}
}

// filledIn is pod with what a pod of the cluster has besides: containers,
// volumes, conditions, statuses, managed fields.
func filledIn(pod *corev1.Pod) *corev1.Pod {
	p := pod.DeepCopy()
	p.ManagedFields = []metav1.ManagedFieldsEntry{{Manager: "kubelet", Operation: metav1.ManagedFieldsOperationUpdate}}
	p.Spec.NodeName = "node1"
	p.Spec.Containers = []corev1.Container{{Name: "app", Image: "registry.example/app:1", Env: []corev1.EnvVar{{Name: "A", Value: "b"}}}}
	p.Spec.Volumes = []corev1.Volume{{Name: "data", VolumeSource: corev1.VolumeSource{EmptyDir: &corev1.EmptyDirVolumeSource{}}}}
	p.Status.Conditions = []corev1.PodCondition{{Type: corev1.PodReady, Status: corev1.ConditionTrue}}
	p.Status.ContainerStatuses = []corev1.ContainerStatus{{Name: "app", Ready: true, Image: "registry.example/app:1"}}
	p.Status.PodIPs = []corev1.PodIP{{IP: "10.9.0.1"}}
	return p
}

// TestCachedPodKeepsWhatTheCollectorReads: the metadata the collector's
// decisions and predicates read (owners included) and the phase and node
// stay; what makes a pod large goes.
func TestCachedPodKeepsWhatTheCollectorReads(t *testing.T) {
	pod := filledIn(podOf("web-0", phase(corev1.PodRunning), deleting(t0, 30)))
	pod.Labels = map[string]string{"app": "web"}
	pod.OwnerReferences = []metav1.OwnerReference{{APIVersion: "apps/v1", Kind: spiderpool.KindStatefulSet, Name: "web", UID: "owner-uid", Controller: ptr.To(true)}}
	out, err := CachedPod(pod)
	if err != nil {
		t.Fatal(err)
	}
	c := out.(*corev1.Pod)
	if c.UID != pod.UID || !c.DeletionTimestamp.Equal(pod.DeletionTimestamp) || c.Labels["app"] != "web" ||
		metav1.GetControllerOfNoCopy(c) == nil || c.Status.Phase != corev1.PodRunning || c.Spec.NodeName != "node1" {
		t.Errorf("cached pod lost what the collector reads: %+v", c)
	}
	if c.ManagedFields != nil || c.Spec.Containers != nil || c.Spec.Volumes != nil || c.Status.Conditions != nil || c.Status.ContainerStatuses != nil || c.Status.PodIPs != nil {
		t.Errorf("cached pod keeps more than it needs: %+v", c)
	}
	if pod.Spec.Containers == nil || pod.ManagedFields == nil {
		t.Error("CachedPod changed the pod it was given")
	}
	if other, _ := CachedPod(&appsv1.StatefulSet{}); other == nil {
		t.Error("CachedPod must pass other objects through")
	}
	old := podOf("web-0", phase(corev1.PodPending))
	old.OwnerReferences = pod.OwnerReferences
	cachedOld, _ := CachedPod(filledIn(old))
	if !startedStatefulSetPod(cachedOld.(*corev1.Pod), c) {
		t.Error("a cached StatefulSet pod that started running is not seen as started")
	}
}

// A quarantine claim names no pod: "no pod" must not read as "pod gone".
func TestDecideKeepsAQuarantineClaim(t *testing.T) {
	c := claimOf("", v1alpha1.OwnerKindQuarantine, "IPConflict", nil)
	c.Spec.Holder = v1alpha1.ClaimHolder{}
	c.Spec.Quarantine = &v1alpha1.ClaimQuarantine{Reason: "IPConflict", Since: metav1.NewTime(t0)}
	for _, cfg := range []Config{{EnableStatefulSet: true, TerminatingMargin: margin}, {TerminatingMargin: margin}} {
		release, reason, after := Decide(c, nil, nil, t0.Add(24*time.Hour), cfg)
		if release || reason != KeepQuarantined || after != 0 {
			t.Fatalf("Decide = %v, %q, %v; want kept, %q", release, reason, after, KeepQuarantined)
		}
	}
}
