package gc

import (
	"time"

	appsv1 "k8s.io/api/apps/v1"
	corev1 "k8s.io/api/core/v1"

	"github.com/ipkeeper/ipkeeper/api/ipkeeper/v1alpha1"
	"github.com/ipkeeper/ipkeeper/internal/spiderpool"
)

// Config is what a decision depends on besides the objects themselves.
type Config struct {
	// EnableStatefulSet keeps a StatefulSet pod's address across restarts;
	// when off, StatefulSet pods are treated as stateless.
	EnableStatefulSet bool
	// TerminatingMargin is how long a terminating pod keeps its address past
	// its deletion deadline (a pod stuck on a NotReady node, say).
	TerminatingMargin time.Duration
}

// Reasons a claim is released; the values label ipkeeper_gc_released_total.
const (
	ReasonPodGone             = "pod_gone"
	ReasonPodReplaced         = "pod_replaced"
	ReasonPodCompleted        = "pod_completed"
	ReasonPodTerminated       = "pod_terminated"
	ReasonStatefulSetGone     = spiderpool.SlotGone
	ReasonStatefulSetDeleting = spiderpool.SlotDeleting
	ReasonScaledDown          = spiderpool.SlotScaledDown
	ReasonNoOrdinal           = spiderpool.SlotNotAnOrdinalPod
	// ReasonNotTakenOver: the ordinal's next incarnation runs, and so has
	// set up every interface it has, without taking this claim over: its
	// template dropped the interface (or the pod moved to another address).
	ReasonNotTakenOver = "not_taken_over"
)

// Reasons a claim is kept.
const (
	KeepPodAlive       = "pod_alive"
	KeepPodTerminating = "pod_terminating"
	KeepOrdinal        = spiderpool.SlotKept
	KeepRetained       = spiderpool.SlotRetained
	// KeepQuarantined: no pod holds a quarantine claim; only an operator
	// clears it (docs/ip-conflict.md).
	KeepQuarantined = "quarantined"
)

// Decide says whether claim is to be released, given its holder pod and, for
// a StatefulSet claim, the StatefulSet (nil when absent), at time now. A kept
// claim may come with the time after which to decide again (a terminating pod
// within its margin); reason says why in either case.
//
// A StatefulSet claim is kept while the StatefulSet still has its ordinal,
// even when the pod is absent or another incarnation that is not running yet:
// that pod is restarting. Once another incarnation runs, all its interfaces
// are set up and each took its claim over; a claim still naming an older
// incarnation is one it no longer uses (an interface its template dropped).
// Once the ordinal is gone, or for any other claim, the claim is released when
// its holder incarnation is gone: no pod, a pod with another UID, a
// Succeeded/Failed pod, or a pod terminating past its deadline plus the margin.
// A quarantine claim has no holder and is always kept.
func Decide(claim *v1alpha1.IPClaim, pod *corev1.Pod, sts *appsv1.StatefulSet, now time.Time, cfg Config) (release bool, reason string, requeueAfter time.Duration) {
	if claim.Quarantined() {
		return false, KeepQuarantined, 0
	}
	if !cfg.EnableStatefulSet || claim.Spec.Owner.Kind != spiderpool.KindStatefulSet {
		return holderGone(claim, pod, now, cfg.TerminatingMargin)
	}
	slotReason, kept := spiderpool.OrdinalSlot(claim, sts)
	if kept && runsWithoutIt(claim, pod) {
		return true, ReasonNotTakenOver, 0
	}
	if kept {
		return false, slotReason, 0
	}
	if gone, why, after := holderGone(claim, pod, now, cfg.TerminatingMargin); !gone {
		return false, why, after
	}
	return true, slotReason, 0
}

// runsWithoutIt reports whether pod is another, running incarnation than the
// claim's holder.
func runsWithoutIt(claim *v1alpha1.IPClaim, pod *corev1.Pod) bool {
	return pod != nil && claim.Spec.Holder.UID != "" && pod.UID != claim.Spec.Holder.UID &&
		pod.Status.Phase == corev1.PodRunning && pod.DeletionTimestamp == nil
}

// holderGone says whether the pod incarnation named by the claim is gone.
func holderGone(claim *v1alpha1.IPClaim, pod *corev1.Pod, now time.Time, margin time.Duration) (bool, string, time.Duration) {
	switch {
	case pod == nil:
		return true, ReasonPodGone, 0
	case claim.Spec.Holder.UID != "" && pod.UID != claim.Spec.Holder.UID:
		return true, ReasonPodReplaced, 0
	case pod.Status.Phase == corev1.PodSucceeded || pod.Status.Phase == corev1.PodFailed:
		return true, ReasonPodCompleted, 0
	case pod.DeletionTimestamp != nil:
		// The API server sets deletionTimestamp to the time of the delete
		// request plus the grace period: it already is the pod's deadline.
		deadline := pod.DeletionTimestamp.Add(margin)
		if now.Before(deadline) {
			return false, KeepPodTerminating, deadline.Sub(now)
		}
		return true, ReasonPodTerminated, 0
	}
	return false, KeepPodAlive, 0
}
