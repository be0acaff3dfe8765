package cli

import (
	"fmt"
	"time"

	"github.com/spf13/cobra"

	"github.com/ipkeeper/ipkeeper/internal/audit"
)

// CheckResult is what `kubectl ipkeeper check` found.
type CheckResult struct {
	Checked  CheckedCounts  `json:"checked"`
	Findings []FindingEntry `json:"findings"`
}

// CheckedCounts says how much was looked at.
type CheckedCounts struct {
	Claims    int `json:"claims"`
	Endpoints int `json:"endpoints"`
	Pods      int `json:"pods"`
	Pools     int `json:"pools"`
}

// FindingEntry is one broken invariant.
type FindingEntry struct {
	Kind    string `json:"kind"`
	Object  string `json:"object"`
	Address string `json:"address,omitempty"`
	Detail  string `json:"detail,omitempty"`
	Age     string `json:"age,omitempty"`
}

func newCheckCommand(o *options) *cobra.Command {
	in := audit.Input{}
	cmd := &cobra.Command{
		Use:   "check",
		Short: "Find duplicates, leaks and records that disagree",
		Long: `check compares every IPClaim with the SpiderEndpoints, the live pods and the
pools' status: an address shown by two live pods, a claim whose holder is gone
(older than --gc-window), an endpoint without its claim, a claim outside its
pool's addresses or inside a reservation, a pool count that disagrees, a pod
that should run without an address (older than --start-window).
Exit status: 0 clean, 1 findings, 2 the check could not be made.`,
		Example: `  kubectl ipkeeper check
  kubectl ipkeeper check -o json`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			if err := o.checkOutput(); err != nil {
				return err
			}
			c, err := o.kube()
			if err != nil {
				return err
			}
			s, err := load(cmd.Context(), c, want{endpoints: true, pods: true})
			if err != nil {
				return err
			}
			in.Claims, in.Endpoints, in.Pods, in.StatefulSets, in.Pools, in.Reserved = s.Claims, s.Endpoints, s.Pods, s.Sets, s.Pools, s.Reserved
			in.Now = time.Now()
			res := CheckResult{
				Checked:  CheckedCounts{Claims: len(s.Claims), Endpoints: len(s.Endpoints), Pods: len(s.Pods), Pools: len(s.Pools)},
				Findings: []FindingEntry{},
			}
			for _, f := range audit.Check(in) {
				e := FindingEntry{Kind: string(f.Kind), Object: f.Object, Address: f.Address, Detail: f.Detail}
				if f.Age > 0 {
					e.Age = f.Age.Round(time.Second).String()
				}
				res.Findings = append(res.Findings, e)
			}
			done, err := o.printObject(res)
			if err == nil && !done {
				err = o.checkText(res)
			}
			if err != nil {
				return err
			}
			if len(res.Findings) > 0 {
				return &ExitError{Code: ExitFindings, Err: fmt.Errorf("%d finding(s)", len(res.Findings))}
			}
			return nil
		},
	}
	cmd.Flags().DurationVar(&in.GCWindow, "gc-window", 2*time.Minute, "a claim whose holder is gone is a leak once older than this (the GC's scan period plus its margin)")
	cmd.Flags().DurationVar(&in.StartWindow, "start-window", 2*time.Minute, "a pod that should run is a finding once it has waited this long without an address")
	cmd.Flags().DurationVar(&in.ReservationGrace, "reservation-grace", 30*time.Second, "a claim made this soon after its address was reserved is not a finding (agents' caches catching up)")
	return cmd
}

func (o *options) checkText(res CheckResult) error {
	w := o.streams.Out
	fmt.Fprintf(w, "checked %d claims, %d endpoints, %d pods, %d pools: ", res.Checked.Claims, res.Checked.Endpoints, res.Checked.Pods, res.Checked.Pools)
	if len(res.Findings) == 0 {
		fmt.Fprintln(w, "no findings")
		return nil
	}
	fmt.Fprintf(w, "%d finding(s)\n", len(res.Findings))
	rows := make([][]string, 0, len(res.Findings))
	for _, f := range res.Findings {
		rows = append(rows, []string{f.Kind, f.Object, orNone(f.Address), orNone(f.Age), f.Detail})
	}
	return table(w, []string{"KIND", "OBJECT", "ADDRESS", "AGE", "DETAIL"}, rows)
}
