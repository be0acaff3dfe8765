package ipam

// Why an allocation failed, in AllocationError.Reason: the values of the
// agent's ipkeeper_agent_request_failures_total reason label (with the
// agent's own, docs/operations.md). Keep the set small and fixed.
const (
	// ReasonExhausted: every candidate pool is full, or a StatefulSet pod's
	// ordinal is beyond the addresses its ipkeeper.io/ordinal-ips lists.
	ReasonExhausted = "exhausted"
	// ReasonNoCandidatePool: no pool may serve the interface (none named,
	// every named one filtered out, or none of a family the cluster requires).
	ReasonNoCandidatePool = "no_candidate_pool"
	// ReasonAddressHeld: the address a StatefulSet ordinal is given is held
	// by another pod.
	ReasonAddressHeld = "address_held"
)
