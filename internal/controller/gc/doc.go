// Package gc is the controller's IP garbage collector (API.md §5): it
// releases an IPClaim once the pod holding it is gone, and never while that
// pod lives. StatefulSet claims outlive their pod while the StatefulSet still
// has the ordinal, so a restarted pod gets its address back.
//
// Every release is decided from live reads of the claim, the pod and the
// StatefulSet (the manager's cache only picks candidates) and is a delete
// with UID and resourceVersion preconditions, so a stale decision can never
// free an address that was claimed or taken over since. Nothing is kept in
// memory between decisions: a restarted controller decides the same way.
//
// gc must not import the agent, the CNI plugin or the store: it talks to the
// API server through controller-runtime clients only.
package gc
