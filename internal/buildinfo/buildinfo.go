// Package buildinfo says which build of ipkeeper runs: the version and
// revision release builds stamp into the binaries (the Makefile's
// RELEASE_FLAGS, -ldflags -X), and the ipkeeper_build_info series the agent
// and the controller export. It imports only the standard library and the
// Prometheus client.
package buildinfo

import (
	"runtime"

	"github.com/prometheus/client_golang/prometheus"
)

// Set by release builds: -X github.com/ipkeeper/ipkeeper/internal/buildinfo.version=v1.2.3
// and .revision=<commit>. Empty in a plain go build.
var (
	version  string
	revision string
)

// Version is the build's version (git describe), "dev" when not stamped.
func Version() string {
	if version == "" {
		return "dev"
	}
	return version
}

// Revision is the commit the build was made from, "unknown" when not stamped.
func Revision() string {
	if revision == "" {
		return "unknown"
	}
	return revision
}

// Collector returns the ipkeeper_build_info gauge: always 1, its labels
// name the build.
func Collector() prometheus.Collector {
	g := prometheus.NewGauge(prometheus.GaugeOpts{
		Name:        "ipkeeper_build_info",
		Help:        "Always 1; the labels name the build of ipkeeper that runs: version, revision (commit) and goversion.",
		ConstLabels: prometheus.Labels{"version": Version(), "revision": Revision(), "goversion": runtime.Version()},
	})
	g.Set(1)
	return g
}
