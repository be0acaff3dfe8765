package importer

import (
	"fmt"
	"strings"
)

// ConflictKind says how records disagree.
type ConflictKind string

// The ways records can disagree. Each stops the import: ipkeeper cannot tell
// which record is true, and guessing could give a running pod's address to
// another.
const (
	// ConflictHolders: the records of one address name different pods, or
	// different incarnations (UIDs) of one pod.
	ConflictHolders ConflictKind = "holders-differ"
	// ConflictPools: the address is recorded in two pools.
	ConflictPools ConflictKind = "two-pools"
	// ConflictOutsidePool: the address is not one its pool may hand out (not
	// in spec.ips or spec.subnet, excluded, the gateway), or the pool is
	// missing or its spec does not parse.
	ConflictOutsidePool ConflictKind = "outside-pool"
	// ConflictClaimed: an IPClaim already holds the address for another pod.
	ConflictClaimed ConflictKind = "claimed-by-another"
	// ConflictUnreadable: a record does not parse.
	ConflictUnreadable ConflictKind = "unreadable"
)

// Fix says what an operator can do about a conflict of this kind.
func (k ConflictKind) Fix() string {
	switch k {
	case ConflictHolders:
		return "find which pod really uses the address; delete the other pod, or remove the stale record (the pool's status.allocatedIPs entry, or the SpiderEndpoint of a pod that is gone)"
	case ConflictPools:
		return "remove the address from the status.allocatedIPs of the pool that does not hand it out (kubectl edit --subresource=status)"
	case ConflictOutsidePool:
		return "add the address to the pool's spec.ips (or remove it from spec.excludeIPs), or restart the pod holding it so that it gets an address of its pool"
	case ConflictClaimed:
		return "delete whichever of the pod and the IPClaim is stale"
	case ConflictUnreadable:
		return "correct or remove the record"
	}
	return ""
}

// Conflict is one address whose records disagree.
type Conflict struct {
	Kind ConflictKind
	// Address is the address concerned; empty when a whole record is
	// unreadable.
	Address string
	// Objects are the records that disagree, e.g. "SpiderIPPool p1
	// status.allocatedIPs", "SpiderEndpoint default/web-0", "IPClaim 10.6.0.5".
	Objects []string
	// Holders are the pods they name, "namespace/name (uid …)".
	Holders []string
	// Detail says what is wrong, in one sentence.
	Detail string
}

// String is the conflict in one line, for logs and errors.
func (c Conflict) String() string {
	var sb strings.Builder
	sb.WriteString(string(c.Kind))
	if c.Address != "" {
		sb.WriteString(" " + c.Address)
	}
	fmt.Fprintf(&sb, ": %s", c.Detail)
	return sb.String()
}
