package ipam

import (
	"context"
	"errors"
	"fmt"
	"net/netip"
	"slices"
	"time"

	"k8s.io/apimachinery/pkg/types"

	"github.com/ipkeeper/ipkeeper/api/ipkeeper/v1alpha1"
)

// Del releases what Add gave one interface of a sandbox, unless the pod
// keeps its addresses: a StatefulSet pod whose ordinal remains, or a pod that
// is still alive, whose sandbox is being re-created (a node reboot, a runtime
// restart) and whose next ADD takes the address over. It succeeds when there
// is nothing to release, and a DEL of a sandbox that no longer holds the
// claim (another sandbox of the pod took it over) changes nothing. Once a pod
// holds no address any more, its endpoint is deleted too.
func (a *Allocator) Del(ctx context.Context, in *DelRequest) error {
	key := in.Pod.Key()
	unlock := a.locks.lock(key)
	defer unlock()
	var errs []error
	var released *v1alpha1.IPClaim
	for _, c := range a.claimsForDel(key, in.ContainerID) {
		if !belongsTo(c, in.Attachment, in.Pod.UID) {
			continue
		}
		keep, err := a.keepsOnDel(ctx, c)
		if err != nil {
			errs = append(errs, err)
			continue
		}
		if keep {
			continue
		}
		if err := a.release(ctx, c); err != nil {
			errs = append(errs, err)
			continue
		}
		released = c
	}
	if released == nil || len(errs) > 0 {
		return errors.Join(errs...)
	}
	// The pod whose endpoint may go is the released claim's holder: a DEL
	// that does not name the pod has an empty key.
	holder := types.NamespacedName{Namespace: released.Spec.Holder.Namespace, Name: released.Spec.Holder.Name}
	if len(a.index.ClaimsOf(holder)) == 0 {
		if err := a.deleteEndpoint(ctx, holder, released); err != nil {
			errs = append(errs, fmt.Errorf("delete endpoint of %s: %w", holder, err))
		}
	}
	return errors.Join(errs...)
}

// keepsOnDel reports whether claim c outlives the sandbox being deleted: a
// StatefulSet ordinal's, or a live pod's (its address is the pod's until the
// pod is gone; the controller's garbage collector releases it then if no DEL
// does).
func (a *Allocator) keepsOnDel(ctx context.Context, c *v1alpha1.IPClaim) (bool, error) {
	if a.stateful(c.Spec.Owner) {
		return a.keepsAddress(ctx, c)
	}
	h := c.Spec.Holder
	ended, err := a.cluster.PodEnded(ctx, types.NamespacedName{Namespace: h.Namespace, Name: h.Name}, h.UID)
	if err != nil {
		return false, fmt.Errorf("is pod %s/%s still alive: %w", h.Namespace, h.Name, err)
	}
	return !ended, nil
}

// deleteEndpoint deletes the endpoint of a pod that holds no address any
// more; last is the claim just released. A StatefulSet pod's endpoint has
// no owner and goes with its last claim. A stateless pod's goes at the
// version this agent wrote; when the agent does not know it (it restarted
// since), the garbage collector removes the endpoint with the pod.
func (a *Allocator) deleteEndpoint(ctx context.Context, key types.NamespacedName, last *v1alpha1.IPClaim) error {
	if a.stateful(last.Spec.Owner) {
		return a.store.DeleteEndpoint(ctx, key, nil)
	}
	v, ok := a.written.take(last.Spec.Holder.UID)
	if !ok {
		return nil
	}
	return a.store.DeleteEndpoint(ctx, key, &v)
}

// claimsForDel returns the claims a DEL may concern: the pod's, or, when the
// runtime did not name the pod, this node's claims of the sandbox.
func (a *Allocator) claimsForDel(key types.NamespacedName, containerID string) []*v1alpha1.IPClaim {
	if key.Name != "" {
		return a.index.ClaimsOf(key)
	}
	var out []*v1alpha1.IPClaim
	for _, c := range a.index.Claims() {
		if c.Spec.Node == a.cfg.Node && c.Spec.Holder.ContainerID == containerID {
			out = append(out, c)
		}
	}
	return out
}

// belongsTo reports whether claim c was given to this sandbox's interface.
// A claim another sandbox or incarnation has taken over is not released.
func belongsTo(c *v1alpha1.IPClaim, at Attachment, uid types.UID) bool {
	h := c.Spec.Holder
	if h.Interface != at.IfName {
		return false
	}
	if uid != "" && h.UID != uid {
		return false
	}
	return h.ContainerID == "" || at.ContainerID == "" || h.ContainerID == at.ContainerID
}

// Check verifies that the sandbox's interface still holds the addresses the
// runtime believes it has.
func (a *Allocator) Check(_ context.Context, in *CheckRequest) error {
	key := in.Pod.Key()
	var held []netip.Addr
	for _, c := range a.index.ClaimsOf(key) {
		if !belongsTo(c, in.Attachment, in.Pod.UID) {
			continue
		}
		if addr, err := netip.ParseAddr(c.Spec.Address); err == nil {
			held = append(held, addr)
		}
	}
	if len(held) == 0 {
		return fmt.Errorf("sandbox %s interface %s of pod %s holds no address: %w", in.ContainerID, in.IfName, key, ErrNotFound)
	}
	for _, addr := range in.IPs {
		if !slices.Contains(held, addr) {
			return fmt.Errorf("address %s of %s/%s is not claimed by pod %s: %w", addr, in.ContainerID, in.IfName, key, ErrNotFound)
		}
	}
	return nil
}

// gcMinAge protects claims whose ADD may still be in flight from CNI GC.
const gcMinAge = time.Minute

// GC releases this node's claims on a network whose sandbox is not in the
// runtime's list of valid attachments and whose pod is over (deleted,
// replaced or finished): a live pod keeps its address for its next sandbox.
// StatefulSet claims are left to the controller, which knows whether the
// ordinal still exists.
func (a *Allocator) GC(ctx context.Context, in *GCRequest, now time.Time) ([]string, error) {
	valid := map[Attachment]bool{}
	for _, at := range in.Valid {
		valid[at] = true
	}
	var released []string
	var errs []error
	for _, c := range a.index.Claims() {
		h := c.Spec.Holder
		switch {
		case c.Spec.Node != a.cfg.Node, h.Network != in.Network, h.ContainerID == "",
			valid[Attachment{ContainerID: h.ContainerID, IfName: h.Interface}],
			a.stateful(c.Spec.Owner), now.Sub(c.CreationTimestamp.Time) < gcMinAge:
			continue
		}
		// A live pod between two sandboxes (its old one gone with a node
		// reboot, the new one not made yet) is not in the runtime's list:
		// its address waits for its next ADD, as on DEL.
		ended, err := a.cluster.PodEnded(ctx, types.NamespacedName{Namespace: h.Namespace, Name: h.Name}, h.UID)
		if err != nil {
			errs = append(errs, fmt.Errorf("is pod %s/%s still alive: %w", h.Namespace, h.Name, err))
			continue
		}
		if !ended {
			continue
		}
		if err := a.release(ctx, c); err != nil {
			errs = append(errs, err)
			continue
		}
		if len(a.index.ClaimsOf(types.NamespacedName{Namespace: h.Namespace, Name: h.Name})) == 0 {
			a.written.take(h.UID) // the endpoint goes with the pod (owner reference)
		}
		released = append(released, c.Spec.Address)
	}
	return released, errors.Join(errs...)
}
