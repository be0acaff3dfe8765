package cli

import (
	"context"
	"fmt"
	"net/netip"

	"github.com/spf13/cobra"
	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"sigs.k8s.io/controller-runtime/pkg/client"

	"github.com/ipkeeper/ipkeeper/api/ipkeeper/v1alpha1"
)

// Release is what `kubectl ipkeeper release` did.
type Release struct {
	Address string        `json:"address"`
	Claim   *ClaimSummary `json:"claim,omitempty"`
	// Result is released, would-release (--dry-run) or not-claimed.
	Result string `json:"result"`
}

func newReleaseCommand(o *options) *cobra.Command {
	var dryRun bool
	cmd := &cobra.Command{
		Use:   "release IP",
		Short: "Free a leaked address (never a live pod's)",
		Long: `release deletes the IPClaim of an address whose holder is gone. It refuses
when the holder pod still lives (or, for a StatefulSet ordinal, when a pod of
that name exists to take the address over), and deletes with the claim's UID
and resourceVersion as preconditions, so that a claim taken over or re-made
between the check and the delete is never freed. The garbage collector frees
leaks by itself within its scan period; release is for when that cannot wait.`,
		Example: `  kubectl ipkeeper release 10.6.168.105 --dry-run
  kubectl ipkeeper release 10.6.168.105`,
		Args: cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			a, c, err := o.addressCommand(args[0])
			if err != nil {
				return err
			}
			r, err := release(cmd.Context(), c, a, dryRun)
			if err != nil {
				return err
			}
			if done, err := o.printObject(r); done {
				return err
			}
			switch r.Result {
			case "not-claimed":
				fmt.Fprintf(o.streams.Out, "%s is not claimed: nothing to release\n", r.Address)
			case "would-release":
				fmt.Fprintf(o.streams.Out, "%s would be released (held by %s/%s UID %s, which is gone) — dry run, nothing changed\n",
					r.Address, r.Claim.Namespace, r.Claim.Pod, r.Claim.UID)
			default:
				fmt.Fprintf(o.streams.Out, "%s released (was held by %s/%s UID %s, which is gone)\n", r.Address, r.Claim.Namespace, r.Claim.Pod, r.Claim.UID)
			}
			return nil
		},
	}
	cmd.Flags().BoolVar(&dryRun, "dry-run", false, "check and say what would be released, change nothing")
	return cmd
}

// release frees a's claim when no live holder exists.
func release(ctx context.Context, c client.Client, a netip.Addr, dryRun bool) (*Release, error) {
	r := &Release{Address: a.String()}
	claim := &v1alpha1.IPClaim{}
	if err := c.Get(ctx, client.ObjectKey{Name: v1alpha1.ClaimName(a)}, claim); err != nil {
		if apierrors.IsNotFound(err) {
			r.Result = "not-claimed"
			return r, nil
		}
		return nil, fmt.Errorf("get the claim of %s: %w", a, err)
	}
	r.Claim = summarize(claim)
	if claim.Quarantined() {
		return nil, &ExitError{Code: ExitFindings, Err: fmt.Errorf("%s is not released: it is quarantined (another host answered for it); kubectl ipkeeper unquarantine %s clears it", a, a)}
	}
	h := claim.Spec.Holder
	pod := &corev1.Pod{}
	err := c.Get(ctx, client.ObjectKey{Namespace: h.Namespace, Name: h.Name}, pod)
	switch {
	case apierrors.IsNotFound(err):
	case err != nil:
		return nil, fmt.Errorf("get the holder %s/%s: %w", h.Namespace, h.Name, err)
	default:
		if live := liveness(pod, claim); live.Live {
			return nil, &ExitError{Code: ExitFindings, Err: fmt.Errorf("%s is not released: its holder %s/%s lives (%s)", a, h.Namespace, h.Name, live.Detail)}
		}
	}
	if dryRun {
		r.Result = "would-release"
		return r, nil
	}
	uid, rv := claim.UID, claim.ResourceVersion
	err = c.Delete(ctx, claim, &client.DeleteOptions{Preconditions: &metav1.Preconditions{UID: &uid, ResourceVersion: &rv}})
	switch {
	case apierrors.IsNotFound(err):
		r.Result = "not-claimed" // freed meanwhile (the GC, or the agent's DEL)
		return r, nil
	case apierrors.IsConflict(err):
		return nil, fmt.Errorf("%s is not released: its claim changed since it was checked (taken over or re-made); run release again to re-check", a)
	case err != nil:
		return nil, fmt.Errorf("release %s: %w", a, err)
	}
	r.Result = "released"
	return r, nil
}
