//go:build e2e

package e2e

import (
	"testing"

	"github.com/ipkeeper/ipkeeper/test/seedwalk"
)

// The seeds' walkthroughs (shared/seeds/000, 003, 004) on simulated nodes:
// the same walks test/realnodes runs on real ones (package test/seedwalk).

func TestSeedStatefulSetKeepsAddresses(t *testing.T) { seedwalk.StatefulSet(t, localCluster.Get(t)) }

func TestSeedReservedIPs(t *testing.T) { seedwalk.ReservedIP(t, localCluster.Get(t)) }

func TestSeedSubnetAutoPool(t *testing.T) { seedwalk.SubnetAutoPool(t, localCluster.Get(t)) }

func TestSeedMalformedAnnotationIsReported(t *testing.T) {
	seedwalk.MalformedAnnotation(t, localCluster.Get(t))
}
