package spiderpool

// Labels the controller sets on automatic pools (API.md §4), by which the
// agent finds a workload's pool for an interface (pool-choice rule 1).
const (
	LabelAutoPoolOwnerUID  = "ipkeeper.io/owner-uid"
	LabelAutoPoolInterface = "ipkeeper.io/interface"
)
