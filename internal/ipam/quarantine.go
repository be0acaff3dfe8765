package ipam

import (
	"context"
	"errors"
	"fmt"
	"maps"
	"net/netip"
	"time"

	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	"github.com/ipkeeper/ipkeeper/api/ipkeeper/v1alpha1"
)

// ReasonIPConflict is spec.quarantine.reason of an address another host
// answered for.
const ReasonIPConflict = "IPConflict"

// QuarantineRequest reports that another host answered for an address the
// interface was given (IP-conflict detection in the plugin).
type QuarantineRequest struct {
	Attachment
	Pod PodRef
	// Address is the address that answered.
	Address netip.Addr
	// HardwareAddr is the link-layer address of the host that answered.
	HardwareAddr string
}

// Quarantine turns the interface's claim on the address into a quarantine
// claim, in one update preconditioned on the claim's resourceVersion: the
// address is never free in between, so no pod is given it, and no pod holds
// it afterwards. The pod's next Add takes another address. It returns the
// quarantine claim.
func (a *Allocator) Quarantine(ctx context.Context, in *QuarantineRequest, now time.Time) (*v1alpha1.IPClaim, error) {
	key := in.Pod.Key()
	unlock := a.locks.lock(key)
	defer unlock()
	var held *v1alpha1.IPClaim
	for _, c := range a.index.ClaimsOf(key) {
		if c.Spec.Address == in.Address.String() && belongsTo(c, in.Attachment, in.Pod.UID) {
			held = c
		}
	}
	if held == nil {
		return nil, fmt.Errorf("interface %s of pod %s holds no claim on %s: %w", in.IfName, key, in.Address, ErrNotFound)
	}
	q := held.DeepCopy()
	q.Labels = maps.Clone(q.Labels)
	if q.Labels == nil {
		q.Labels = map[string]string{}
	}
	q.Labels[v1alpha1.LabelQuarantined] = "true"
	q.Spec.Holder = v1alpha1.ClaimHolder{}
	q.Spec.Owner = v1alpha1.ClaimOwner{Kind: v1alpha1.OwnerKindQuarantine, Name: ReasonIPConflict}
	q.Spec.Ordinal = nil
	q.Spec.Quarantine = &v1alpha1.ClaimQuarantine{
		Reason: ReasonIPConflict, HardwareAddress: in.HardwareAddr,
		DetectedBy: key.String(), Since: metav1.NewTime(now),
	}
	out, err := a.store.UpdateClaim(ctx, q)
	if err != nil {
		return nil, fmt.Errorf("quarantine %s of pool %s: %w", in.Address, held.Spec.Pool, err)
	}
	a.index.SetClaim(out)
	return out, nil
}

// Abandon releases what a failed ADD gave the interface, even though its pod
// lives on (Del keeps a live pod's addresses for its next sandbox): the
// plugin found the interface unusable (the pool's gateway did not answer).
// A StatefulSet ordinal's claim stays: the address is the ordinal's, and the
// controller releases it when the ordinal goes.
func (a *Allocator) Abandon(ctx context.Context, in *DelRequest) ([]string, error) {
	key := in.Pod.Key()
	unlock := a.locks.lock(key)
	defer unlock()
	var released []string
	var errs []error
	var last *v1alpha1.IPClaim
	for _, c := range a.index.ClaimsOf(key) {
		if !belongsTo(c, in.Attachment, in.Pod.UID) || c.Spec.Holder.ContainerID != in.ContainerID || a.stateful(c.Spec.Owner) {
			continue
		}
		if err := a.release(ctx, c); err != nil {
			errs = append(errs, err)
			continue
		}
		released = append(released, c.Spec.Address)
		last = c
	}
	if last != nil && len(a.index.ClaimsOf(key)) == 0 {
		if err := a.deleteEndpoint(ctx, key, last); err != nil {
			errs = append(errs, fmt.Errorf("delete endpoint of %s: %w", key, err))
		}
	}
	return released, errors.Join(errs...)
}

// quarantinedNote says how many of a full pool's addresses in use are
// quarantined, when any are: the operator's lead to kubectl ipkeeper pools.
// It walks every claim, so only a failing ADD pays for it.
func (a *Allocator) quarantinedNote(pool string) string {
	n := a.index.Quarantined(pool)
	if n == 0 {
		return ""
	}
	return fmt.Sprintf(", of them %d quarantined", n)
}
