// Command spiderpool is ipkeeper's CNI IPAM plugin, installed under the type
// name of upstream Spiderpool's so existing network configurations work
// unchanged. It is wiring only: the logic is in internal/cni.
//
// It runs once per pod sandbox and interface, so it must start and end
// cheaply: no Kubernetes libraries, no work at init, one P.
package main

import (
	"os"
	"runtime"

	"github.com/containernetworking/cni/pkg/skel"
	"github.com/containernetworking/cni/pkg/version"

	"github.com/ipkeeper/ipkeeper/internal/cni"
	"github.com/ipkeeper/ipkeeper/internal/probe"
)

const about = "spiderpool: ipkeeper's CNI IPAM plugin, a client of the ipkeeper agent of its node"

func main() {
	// The plugin sends one request and waits: a second P buys nothing, and
	// the extra running thread made reaping the process several times
	// dearer for its parent (kernel time in wait4; docs/benchmarks.md).
	runtime.GOMAXPROCS(1)
	plugin := cni.New(cni.Dial, probe.Check, os.Stdout)
	skel.PluginMainFuncs(skel.CNIFuncs{
		Add:    plugin.Add,
		Del:    plugin.Del,
		Check:  plugin.Check,
		GC:     plugin.GC,
		Status: plugin.Status,
	}, version.PluginSupports("0.3.0", "0.3.1", "0.4.0", "1.0.0", "1.1.0"), about)
}
