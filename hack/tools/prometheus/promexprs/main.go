// Command promexprs checks the PromQL of the chart's Grafana dashboard and
// alert rules with Prometheus's own parser and prints, one per line, the
// metric names they read: the list test/e2e checks the running agents and
// controller against.
//
// It fails when the dashboard is not valid JSON, a panel has no target, or a
// target's or a rule's expression does not parse. Grafana's interval
// variables are replaced by 5m before parsing.
//
// Usage: go run ./promexprs -dashboard FILE -rules FILE
package main

import (
	"flag"
	"fmt"
	"os"
)

func main() {
	dashboard := flag.String("dashboard", "", "Grafana dashboard JSON")
	rules := flag.String("rules", "", "Prometheus rule file (YAML)")
	flag.Parse()
	names, err := check(*dashboard, *rules)
	if err != nil {
		fmt.Fprintln(os.Stderr, "promexprs:", err)
		os.Exit(1)
	}
	for _, n := range names {
		fmt.Println(n)
	}
}
