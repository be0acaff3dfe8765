package cli

import (
	"fmt"
	"net/netip"
	"strings"
	"time"

	"github.com/spf13/cobra"
	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	"sigs.k8s.io/controller-runtime/pkg/client"

	"github.com/ipkeeper/ipkeeper/api/ipkeeper/v1alpha1"
	"github.com/ipkeeper/ipkeeper/internal/ipnet"
)

// Holding is the answer of who-has: the address's claim and its holder, or
// why nobody holds it.
type Holding struct {
	Address string `json:"address"`
	// State is held, quarantined, free, reserved, excluded, gateway, not-allocatable
	// (network or broadcast, outside the pool's subnet) or outside-pools.
	State string `json:"state"`
	// Pools are the pools whose spec.ips hold the address.
	Pools []string `json:"pools,omitempty"`
	// ReservedBy names the SpiderReservedIPs that reserve it.
	ReservedBy []string        `json:"reservedBy,omitempty"`
	Claim      *ClaimSummary   `json:"claim,omitempty"`
	Holder     *HolderLiveness `json:"holder,omitempty"`
}

// ClaimSummary is what an IPClaim records about its holder.
type ClaimSummary struct {
	Name      string    `json:"name"`
	Pool      string    `json:"pool"`
	Node      string    `json:"node"`
	Namespace string    `json:"namespace"`
	Pod       string    `json:"pod"`
	UID       string    `json:"uid"`
	Interface string    `json:"interface"`
	Workload  string    `json:"workload"`
	Ordinal   *int32    `json:"ordinal,omitempty"`
	Since     time.Time `json:"since"`
	// Quarantine is set on a quarantine claim (IP-conflict detection):
	// no pod holds it.
	Quarantine *v1alpha1.ClaimQuarantine `json:"quarantine,omitempty"`
}

// HolderLiveness says whether the claim's pod is the live pod of that name.
type HolderLiveness struct {
	// Live: the pod exists with the claim's UID and is not finished.
	Live bool `json:"live"`
	// Detail explains: "Running on node1", "gone", "replaced by UID …".
	Detail string `json:"detail"`
}

func newWhoHasCommand(o *options) *cobra.Command {
	return &cobra.Command{
		Use:   "who-has IP",
		Short: "Who holds an address, or why nobody does",
		Long: `who-has shows the holder of an address (pod, UID, node, interface, workload,
since when) and whether that pod is still alive; for an address nobody holds it
says whether it is free, reserved, excluded or outside every pool.`,
		Example: `  kubectl ipkeeper who-has 10.6.168.101`,
		Args:    cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			a, c, err := o.addressCommand(args[0])
			if err != nil {
				return err
			}
			s, err := load(cmd.Context(), c, want{})
			if err != nil {
				return err
			}
			h, err := whoHas(cmd, c, s, a)
			if err != nil {
				return err
			}
			if done, err := o.printObject(h); done {
				return err
			}
			return o.holdingText(h)
		},
	}
}

func whoHas(cmd *cobra.Command, c client.Client, s *state, a netip.Addr) (*Holding, error) {
	h := &Holding{Address: a.String(), ReservedBy: s.reservedBy(a)}
	var claim *v1alpha1.IPClaim
	for i := range s.Claims {
		if s.Claims[i].Name == v1alpha1.ClaimName(a) {
			claim = &s.Claims[i]
		}
	}
	state := "outside-pools"
	for i := range s.Pools {
		p := &s.Pools[i]
		parsed, err := s.poolOf(p)
		if err != nil || !parsed.IPs.Contains(a) {
			continue
		}
		h.Pools = append(h.Pools, p.Name)
		if state != "outside-pools" {
			continue // the first pool holding it says what it is
		}
		state = addressState(parsed, a, len(h.ReservedBy) > 0)
	}
	h.State = state
	if claim == nil {
		return h, nil
	}
	h.State = "held"
	h.Claim = summarize(claim)
	if claim.Quarantined() {
		h.State = "quarantined"
		return h, nil
	}
	pod := &corev1.Pod{}
	err := c.Get(cmd.Context(), client.ObjectKey{Namespace: claim.Spec.Holder.Namespace, Name: claim.Spec.Holder.Name}, pod)
	switch {
	case apierrors.IsNotFound(err):
		h.Holder = &HolderLiveness{Detail: "gone: no pod of that name"}
	case err != nil:
		return nil, fmt.Errorf("get pod %s/%s: %w", claim.Spec.Holder.Namespace, claim.Spec.Holder.Name, err)
	default:
		h.Holder = liveness(pod, claim)
	}
	return h, nil
}

// addressState says what an unclaimed address of a pool is.
func addressState(p ipnet.Pool, a netip.Addr, reserved bool) string {
	switch {
	case p.Exclude.Contains(a):
		return "excluded"
	case reserved:
		return "reserved"
	case p.Gateway == a:
		return "gateway"
	case !p.Free().Contains(a):
		return "not-allocatable"
	}
	return "free"
}

func summarize(c *v1alpha1.IPClaim) *ClaimSummary {
	workload := "Pod " + c.Spec.Holder.Namespace + "/" + c.Spec.Holder.Name
	if c.Spec.Owner.Kind != "" {
		workload = c.Spec.Owner.Kind + " " + c.Spec.Holder.Namespace + "/" + c.Spec.Owner.Name
	}
	return &ClaimSummary{
		Name: c.Name, Pool: c.Spec.Pool, Node: c.Spec.Node,
		Namespace: c.Spec.Holder.Namespace, Pod: c.Spec.Holder.Name, UID: string(c.Spec.Holder.UID),
		Interface: c.Spec.Holder.Interface, Workload: workload, Ordinal: c.Spec.Ordinal,
		Since: c.CreationTimestamp.Time, Quarantine: c.Spec.Quarantine,
	}
}

// liveness compares the pod of the claim's name with the claim's holder.
func liveness(pod *corev1.Pod, c *v1alpha1.IPClaim) *HolderLiveness {
	switch {
	case pod.UID != c.Spec.Holder.UID && c.Spec.Ordinal == nil:
		return &HolderLiveness{Detail: fmt.Sprintf("gone: a pod of that name with another UID (%s) exists", pod.UID)}
	case pod.UID != c.Spec.Holder.UID:
		return &HolderLiveness{Live: true, Detail: fmt.Sprintf("StatefulSet ordinal %d kept for the pod of that name (UID %s), which takes it over when it starts", *c.Spec.Ordinal, pod.UID)}
	case pod.Status.Phase == corev1.PodSucceeded || pod.Status.Phase == corev1.PodFailed:
		return &HolderLiveness{Detail: "finished: pod " + strings.ToLower(string(pod.Status.Phase))}
	case pod.DeletionTimestamp != nil:
		return &HolderLiveness{Live: true, Detail: "terminating on " + pod.Spec.NodeName}
	}
	return &HolderLiveness{Live: true, Detail: fmt.Sprintf("%s on %s", pod.Status.Phase, pod.Spec.NodeName)}
}

func (o *options) holdingText(h *Holding) error {
	w := o.streams.Out
	fmt.Fprintf(w, "%s: %s\n", h.Address, describeState(h))
	if len(h.Pools) > 0 {
		fmt.Fprintf(w, "  pools:       %s\n", strings.Join(h.Pools, ", "))
	}
	if len(h.ReservedBy) > 0 {
		fmt.Fprintf(w, "  reserved by: %s\n", strings.Join(h.ReservedBy, ", "))
	}
	if c := h.Claim; c != nil && c.Quarantine != nil {
		q := c.Quarantine
		fmt.Fprintf(w, "  reason:      %s\n  answered by: %s\n  detected by: %s on %s\n", q.Reason, q.HardwareAddress, q.DetectedBy, c.Node)
		fmt.Fprintf(w, "  since:       %s (%s ago)\n  claim:       IPClaim %s\n", q.Since.UTC().Format(time.RFC3339), time.Since(q.Since.Time).Round(time.Second), c.Name)
		fmt.Fprintf(w, "  clear it:    kubectl ipkeeper unquarantine %s\n", h.Address)
		return nil
	}
	if c := h.Claim; c != nil {
		fmt.Fprintf(w, "  pod:         %s/%s (UID %s)\n", c.Namespace, c.Pod, c.UID)
		fmt.Fprintf(w, "  interface:   %s\n  node:        %s\n  pool:        %s\n  workload:    %s\n", c.Interface, c.Node, c.Pool, c.Workload)
		if c.Ordinal != nil {
			fmt.Fprintf(w, "  ordinal:     %d\n", *c.Ordinal)
		}
		fmt.Fprintf(w, "  since:       %s (%s ago)\n  claim:       IPClaim %s\n", c.Since.UTC().Format(time.RFC3339), time.Since(c.Since).Round(time.Second), c.Name)
	}
	if h.Holder != nil {
		fmt.Fprintf(w, "  holder:      %s\n", h.Holder.Detail)
	}
	return nil
}

func describeState(h *Holding) string {
	switch h.State {
	case "held":
		if h.Holder != nil && !h.Holder.Live {
			return "held by a pod that is gone (a leak once the GC's window has passed; kubectl ipkeeper release frees it)"
		}
		return "held"
	case "quarantined":
		return "quarantined: another host on the network answered for it, so no pod is given it"
	case "free":
		return "free"
	case "reserved":
		return "reserved: no pod is given it"
	case "excluded":
		return "excluded by its pool's excludeIPs"
	case "gateway":
		return "its pool's gateway"
	case "not-allocatable":
		return "never handed out (network or broadcast address, or outside the pool's subnet)"
	}
	return "outside every pool"
}
