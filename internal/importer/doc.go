// Package importer plans the move of a running cluster from Spiderpool to
// ipkeeper without a duplicate address. Spiderpool records who holds an
// address in the pool (status.allocatedIPs) and in the pod's SpiderEndpoint;
// ipkeeper's agents know only IPClaims. Plan reads both records, keeps those
// of pods that still hold their address (a live pod of the recorded UID, or a
// StatefulSet ordinal that is still there), and returns the IPClaims to
// create, as an agent would have written them, and every record that
// disagrees with another or with the cluster.
//
// Nothing here reads or writes the cluster: the controller lists the objects
// and writes the claims (internal/controller/spiderpoolimport), so every rule
// is tested on plain objects. This package may import only the standard
// library, k8s.io/api, k8s.io/apimachinery, ipkeeper's api/ packages,
// internal/spiderpool and internal/ipnet; never client-go or
// controller-runtime.
package importer
