// Package coordinator keeps the status of the cluster's SpiderCoordinator
// (named default) current: the Service CIDRs, from the networking.k8s.io/v1
// ServiceCIDR objects the API server serves, and the pod CIDRs of the nodes,
// as spec.podCIDRType asks. The coordinator CNI plugin reads them through its
// node's agent.
//
// It has no finalizer: it makes nothing outside the object that would need
// cleaning up when the object goes.
//
// This package may import the API types, apimachinery, client-go and
// controller-runtime; not the agent, ipam or store packages.
package coordinator
