// Package store implements ipam.Store and ipam.Cluster on the Kubernetes API
// server: claims and endpoints are written through a controller-runtime
// client, and reads come from the agent's informer caches. It also feeds the
// ipam.Index from those informers.
package store
