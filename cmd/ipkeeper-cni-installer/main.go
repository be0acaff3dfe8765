// Command ipkeeper-cni-installer is the init container of the agent
// DaemonSet: it installs the CNI plugins of the agent's image (spiderpool,
// later coordinator) into the node's CNI bin dir, mounted from the host. It is
// wiring only: the logic is in internal/cniinstall.
package main

import (
	"flag"
	"fmt"
	"os"

	"github.com/ipkeeper/ipkeeper/internal/cniinstall"
)

func main() {
	src := flag.String("src-dir", "/opt/ipkeeper/cni", "directory whose regular files are the plugins to install")
	dst := flag.String("dst-dir", "/host/opt/cni/bin", "the node's CNI bin dir")
	flag.Parse()

	results, err := cniinstall.Install(*src, *dst)
	for _, r := range results {
		what := "up to date"
		if r.Changed {
			what = "installed"
		}
		fmt.Printf("%s %s sha256:%s\n", what, r.Path, r.SHA256)
	}
	if err != nil {
		fmt.Fprintf(os.Stderr, "ipkeeper-cni-installer: %v\n", err)
		os.Exit(1)
	}
}
