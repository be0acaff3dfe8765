package spiderpool

import (
	"strconv"
	"strings"

	appsv1 "k8s.io/api/apps/v1"

	"github.com/ipkeeper/ipkeeper/api/ipkeeper/v1alpha1"
)

// KindStatefulSet is the owner kind whose pods keep their addresses.
const KindStatefulSet = "StatefulSet"

// Why a StatefulSet claim's ordinal is kept or not, as OrdinalSlot says.
const (
	SlotKept            = "statefulset_ordinal"
	SlotRetained        = "retained_on_scale_down"
	SlotGone            = "statefulset_gone"
	SlotDeleting        = "statefulset_deleting"
	SlotScaledDown      = "scaled_down"
	SlotNotAnOrdinalPod = "no_ordinal"
)

// OrdinalOf returns the StatefulSet ordinal in a pod name "<sts>-<n>", or
// nil when the name is not of that form.
func OrdinalOf(pod, sts string) *int32 {
	rest, ok := strings.CutPrefix(pod, sts+"-")
	if !ok {
		return nil
	}
	n, err := strconv.ParseInt(rest, 10, 32)
	if err != nil || n < 0 {
		return nil
	}
	o := int32(n)
	return &o
}

// FirstOrdinal is the StatefulSet's spec.ordinals.start; 0 for nil.
func FirstOrdinal(sts *appsv1.StatefulSet) int32 {
	if sts == nil || sts.Spec.Ordinals == nil {
		return 0
	}
	return sts.Spec.Ordinals.Start
}

// OrdinalSlot says whether the StatefulSet (nil when absent) still has the
// ordinal of a StatefulSet claim, so that the claim outlives its pod: the
// StatefulSet of the claim's namespace and name, not being deleted, and
// either retaining addresses on scale-down (ipkeeper.io/retain-on-scale-down)
// or with the ordinal in [start, start+replicas). reason says why, kept or
// not.
//
// The StatefulSet is matched by name, not UID, as Spiderpool matches it: a
// StatefulSet re-created under the same name (kubectl delete
// --cascade=orphan, then apply, to change an immutable field) adopts the
// pods and so their ordinals' addresses. A StatefulSet deleted with its pods
// loses them once the pods are gone and no StatefulSet of that name exists.
//
// This is the rule that keeps a restarting pod's address, and the rule that
// lets the agent and the garbage collector release it: both use this one.
func OrdinalSlot(claim *v1alpha1.IPClaim, sts *appsv1.StatefulSet) (reason string, kept bool) {
	switch {
	case sts == nil:
		return SlotGone, false
	case sts.DeletionTimestamp != nil:
		return SlotDeleting, false
	case sts.Annotations[AnnoRetainOnScaleDown] == "true":
		return SlotRetained, true
	}
	ord := claim.Spec.Ordinal
	if ord == nil {
		ord = OrdinalOf(claim.Spec.Holder.Name, sts.Name)
	}
	if ord == nil {
		// Not a pod of this StatefulSet's naming: only the pod's life counts.
		return SlotNotAnOrdinalPod, false
	}
	start, replicas := int64(FirstOrdinal(sts)), int64(1)
	if sts.Spec.Replicas != nil {
		replicas = int64(*sts.Spec.Replicas)
	}
	if o := int64(*ord); o < start || o >= start+replicas {
		return SlotScaledDown, false
	}
	return SlotKept, true
}
