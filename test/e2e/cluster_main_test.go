//go:build e2e

package e2e

import (
	"os"
	"testing"

	"github.com/ipkeeper/ipkeeper/test/framework"
)

// localCluster is the package's two-node cluster: a fresh one, or the one
// named by KUBECONFIG when its current context is ipkeeper-local.
var localCluster = framework.NewShared(framework.Options{Nodes: 2, Ipkeeper: true})

func TestMain(m *testing.M) { os.Exit(localCluster.Main(m)) }
