package main

import (
	"fmt"
	"io"
	"strings"
	"text/tabwriter"
)

// printSummary prints the headline table of a report.
func printSummary(w io.Writer, rep *report) {
	fmt.Fprintf(w, "\n%s\n%d nodes, %d pods (%d x %d), %s, kube %s, etcd %s, load before %s\n",
		rep.Machine, rep.Nodes, rep.Pods, rep.Deployments, rep.Replicas, rep.Go, rep.Kubernetes, rep.Etcd, rep.LoadAverage)
	tw := tabwriter.NewWriter(w, 0, 0, 2, ' ', 0)
	if len(rep.Rounds) > 0 {
		fmt.Fprintf(w, "%d rounds; the rows below are the first round's\n", len(rep.Rounds))
	}
	fmt.Fprintln(tw, "mode\tcreate s\trecreate s\tdelete s\tsandbox p50/p99 ms\tADD p50/p99 ms\tIPAM writes/pod\tAPI req/pod")
	for _, m := range []struct {
		name string
		res  *modeResult
	}{{modeIpkeeper, rep.Ipkeeper}, {modeHostLocal, rep.HostLocal}} {
		if m.res == nil {
			continue
		}
		r := m.res
		add, writes := "-", "-"
		if r.AddP50Ms != nil {
			add = fmt.Sprintf("%.1f / %.1f", *r.AddP50Ms, *r.AddP99Ms)
		}
		if r.APIWritesPerPod != nil {
			writes = fmt.Sprintf("%.2f", *r.APIWritesPerPod)
		}
		fmt.Fprintf(tw, "%s\t%.1f\t%.1f\t%.1f\t%.0f / %.0f\t%s\t%s\t%.1f\n", m.name, r.CreateS, r.RecreateS, r.DeleteS,
			r.SandboxP50Ms, r.SandboxP99Ms, add, writes, r.APIRequestsPerPod)
	}
	for i, rd := range rep.Rounds {
		if rd.Ratios != nil {
			fmt.Fprintf(tw, "round %d ratio (%s)\t%.2f\t%.2f\t%.2f\t\t\t\t\n", i+1, strings.Join(rd.Order, " then "),
				rd.Ratios[phaseCreate], rd.Ratios[phaseRecreate], rd.Ratios[phaseDelete])
		}
	}
	if rep.Ratios != nil {
		label := "ratio"
		if len(rep.Rounds) > 0 {
			label = "ratio, all rounds"
		}
		fmt.Fprintf(tw, "%s\t%.2f\t%.2f\t%.2f\t\t\t\t\n", label, rep.Ratios[phaseCreate], rep.Ratios[phaseRecreate], rep.Ratios[phaseDelete])
	}
	_ = tw.Flush()
	for _, m := range []struct {
		name string
		r    *modeResult
	}{{modeIpkeeper, rep.Ipkeeper}, {modeHostLocal, rep.HostLocal}} {
		if m.r != nil && len(m.r.NodeMemoryMiB) > 0 {
			fmt.Fprintf(w, "%s: real nodes' memory with every pod running (MiB): %v\n", m.name, m.r.NodeMemoryMiB)
		}
	}
	fmt.Fprintf(w, "duplicates %d; targets %v\n", rep.Duplicates, rep.Targets)
	if len(rep.Failures) > 0 {
		fmt.Fprintf(w, "FAILURES:\n  %s\n", strings.Join(rep.Failures, "\n  "))
	}
}
