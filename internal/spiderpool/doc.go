// Package spiderpool holds the rules of the Spiderpool API that the agent and
// the controller both apply, each written once: the pod and namespace
// annotations (keys, parsing and the errors that name them), the Multus
// network of a pod interface, a pool's addresses and IP family, the top
// controller of a pod, whether a StatefulSet still has the ordinal that
// keeps an address, and the allocation records Spiderpool itself leaves in a
// pool (status.allocatedIPs) with whether they still await their import.
//
// Nothing here reads the cluster: callers pass the objects (or, for the top
// controller, a lookup), so every rule is a pure function tested on its own.
// This package may import only the standard library, k8s.io/api,
// k8s.io/apimachinery, ipkeeper's api/ packages and internal/ipnet; never
// client-go or controller-runtime.
package spiderpool
