package cli

import (
	"context"
	"fmt"
	"net/netip"

	"github.com/spf13/cobra"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"sigs.k8s.io/controller-runtime/pkg/client"

	"github.com/ipkeeper/ipkeeper/api/ipkeeper/v1alpha1"
)

// Unquarantine is what `kubectl ipkeeper unquarantine` did.
type Unquarantine struct {
	Address string        `json:"address"`
	Claim   *ClaimSummary `json:"claim,omitempty"`
	// Result is cleared, would-clear (--dry-run) or not-quarantined.
	Result string `json:"result"`
}

func newUnquarantineCommand(o *options) *cobra.Command {
	var dryRun bool
	cmd := &cobra.Command{
		Use:   "unquarantine IP",
		Short: "Give a quarantined address back to its pool",
		Long: `unquarantine deletes the quarantine claim of an address that IP-conflict
detection found in use by another host, so that its pool hands it out again.
Clear it once that host no longer uses the address: with detection still on,
the next pod given it probes it again and quarantines it again if it answers.
It refuses an address a pod holds, and deletes with the claim's UID and
resourceVersion as preconditions.`,
		Example: `  kubectl ipkeeper unquarantine 10.6.168.105 --dry-run
  kubectl ipkeeper unquarantine 10.6.168.105`,
		Args: cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			a, c, err := o.addressCommand(args[0])
			if err != nil {
				return err
			}
			r, err := unquarantine(cmd.Context(), c, a, dryRun)
			if err != nil {
				return err
			}
			if done, err := o.printObject(r); done {
				return err
			}
			switch r.Result {
			case "not-quarantined":
				fmt.Fprintf(o.streams.Out, "%s is not quarantined: nothing to clear\n", r.Address)
			case "would-clear":
				fmt.Fprintf(o.streams.Out, "%s would go back to pool %s (quarantined since %s, answered by %s) — dry run, nothing changed\n",
					r.Address, r.Claim.Pool, r.Claim.Quarantine.Since.UTC().Format("2006-01-02T15:04:05Z"), r.Claim.Quarantine.HardwareAddress)
			default:
				fmt.Fprintf(o.streams.Out, "%s unquarantined: pool %s hands it out again\n", r.Address, r.Claim.Pool)
			}
			return nil
		},
	}
	cmd.Flags().BoolVar(&dryRun, "dry-run", false, "check and say what would be cleared, change nothing")
	return cmd
}

// unquarantine deletes a's quarantine claim.
func unquarantine(ctx context.Context, c client.Client, a netip.Addr, dryRun bool) (*Unquarantine, error) {
	r := &Unquarantine{Address: a.String(), Result: "not-quarantined"}
	claim := &v1alpha1.IPClaim{}
	if err := c.Get(ctx, client.ObjectKey{Name: v1alpha1.ClaimName(a)}, claim); err != nil {
		if apierrors.IsNotFound(err) {
			return r, nil
		}
		return nil, fmt.Errorf("get the claim of %s: %w", a, err)
	}
	r.Claim = summarize(claim)
	if !claim.Quarantined() {
		h := claim.Spec.Holder
		return nil, &ExitError{Code: ExitFindings, Err: fmt.Errorf("%s is not quarantined: pod %s/%s holds it", a, h.Namespace, h.Name)}
	}
	if dryRun {
		r.Result = "would-clear"
		return r, nil
	}
	uid, rv := claim.UID, claim.ResourceVersion
	err := c.Delete(ctx, claim, &client.DeleteOptions{Preconditions: &metav1.Preconditions{UID: &uid, ResourceVersion: &rv}})
	switch {
	case apierrors.IsNotFound(err):
		return r, nil
	case apierrors.IsConflict(err):
		return nil, fmt.Errorf("%s is not cleared: its claim changed since it was checked; run unquarantine again to re-check", a)
	case err != nil:
		return nil, fmt.Errorf("unquarantine %s: %w", a, err)
	}
	r.Result = "cleared"
	return r, nil
}
