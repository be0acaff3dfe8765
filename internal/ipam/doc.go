// Package ipam holds ipkeeper's use cases on the pod-start path: parse the
// pod's IPAM annotations, choose the candidate pools of an interface (API.md
// §3), take a free address under the invariants of DESIGN.md §2, and release
// it. It defines the Store it writes through; the API-server implementation
// lives in internal/store.
//
// ipam must not import client-go or controller-runtime: it sees the cluster
// only through the Store and the Index the agent feeds.
package ipam
