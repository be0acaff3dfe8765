// Command coordinator is ipkeeper's coordinator CNI plugin, chained after the
// main plugin of an underlay network under the type name of upstream
// Spiderpool's. It is wiring only: the logic is in internal/coordinator.
//
// It runs once per pod interface: no Kubernetes libraries, one P.
package main

import (
	"os"
	"runtime"

	"github.com/containernetworking/cni/pkg/skel"
	"github.com/containernetworking/cni/pkg/version"

	"github.com/ipkeeper/ipkeeper/internal/coordinator"
)

const about = "coordinator: ipkeeper's CNI plugin that joins underlay pods to their node (veth, routes, policy routing)"

func main() {
	runtime.GOMAXPROCS(1)
	plugin := coordinator.New(coordinator.Dial, os.Stdout)
	skel.PluginMainFuncs(skel.CNIFuncs{
		Add:   plugin.Add,
		Del:   plugin.Del,
		Check: plugin.Check,
	}, version.PluginSupports("0.3.0", "0.3.1", "0.4.0", "1.0.0", "1.1.0"), about)
}
