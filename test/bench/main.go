// Command bench runs the Spiderpool scale workload (issue 6) on the local
// cluster, first with ipkeeper as the nodes' IPAM and then with Debian's
// host-local IPAM (the floor), each on a fresh cluster, and writes the
// result to test/bench/results/latest.json and a dated copy.
//
//	go run ./test/bench -nodes 10 -deployments 100 -replicas 10   # make bench
//	go run ./test/bench -nodes 2 -deployments 10 -replicas 10     # make bench-quick
//	go run ./test/bench -ipam-path -nodes 10 -pods 1000 -rounds 2  # make bench-ipam
//
// It needs root (network namespaces) and the binaries of the local cluster
// (hack/build-k8s.sh, built on first use). It exits non-zero when a phase
// times out, an address is held twice, or the pool is not empty at the end.
//
// This is a development tool: it may import test/localcluster, the API
// types, client-go and the standard library, and nothing that runs in a
// cluster may import it.
package main

import (
	"context"
	"fmt"
	"os"
	"os/signal"
	"syscall"
)

func main() {
	cfg, err := parseFlags(os.Args[1:])
	if err != nil {
		fmt.Fprintln(os.Stderr, "bench:", err)
		os.Exit(2)
	}
	ctx, stop := signal.NotifyContext(context.Background(), syscall.SIGINT, syscall.SIGTERM)
	defer stop()
	if cfg.ipamPath {
		rep, err := runIPAMPath(ctx, cfg)
		if rep != nil {
			printPathSummary(rep)
			if werr := writePathResults(cfg.out, rep); werr != nil {
				fmt.Fprintln(os.Stderr, "bench:", werr)
				os.Exit(1)
			}
		}
		if err != nil {
			fmt.Fprintln(os.Stderr, "bench:", err)
			os.Exit(1)
		}
		return
	}
	rep, err := run(ctx, cfg)
	if rep != nil {
		printSummary(os.Stdout, rep)
		if werr := writeResults(cfg.out, rep); werr != nil {
			fmt.Fprintln(os.Stderr, "bench:", werr)
			os.Exit(1)
		}
	}
	if err != nil {
		fmt.Fprintln(os.Stderr, "bench:", err)
		os.Exit(1)
	}
}
