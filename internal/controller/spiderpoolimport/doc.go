// Package spiderpoolimport is the controller's first step in a cluster that
// moves from Spiderpool: it turns the allocations Spiderpool recorded (pool
// status.allocatedIPs and SpiderEndpoints) into IPClaims, as planned by
// internal/importer, before the reconcilers start; or it refuses, naming
// every record that disagrees, and writes nothing.
//
// The import lists through a live reader and writes only IPClaims and pool
// status, neither of which passes ipkeeper's admission webhooks. It is
// idempotent, so it needs no lock: a claim that already exists for the same
// pod is kept, and a pool whose records are imported gets the status
// condition SpiderpoolImported, so that a later start reads the pools and
// nothing else. Agents hand out no address of a pool that still awaits its
// import (spiderpool.AwaitsImport), which closes the window between an
// agent's start and the import.
//
// spiderpoolimport must not import the agent, the CNI plugin or the store: it
// talks to the API server through controller-runtime clients only.
package spiderpoolimport
