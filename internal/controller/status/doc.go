// Package status keeps the status of SpiderIPPools and SpiderSubnets: counts
// derived from the IPClaims (batched, so a burst of allocations costs a few
// status writes, not one per allocation), the pool finalizer that holds a
// pool while its addresses are in use, and the ownership of pools by the
// SpiderSubnet of the same subnet.
package status

import (
	"math"
	"math/big"
)

// saturate converts a count to int64, capping it at the largest int64 (an
// IPv6 pool may hold more addresses than that).
func saturate(n *big.Int) int64 {
	if !n.IsInt64() {
		return math.MaxInt64
	}
	return n.Int64()
}
