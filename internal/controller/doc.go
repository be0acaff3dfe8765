// Package controller holds what the ipkeeper controller's reconcilers share:
// the field indexes on IPClaims they look claims up by. Each concern is a
// subpackage with one reconciler: poolstatus, autopool, gc, multusconfig;
// spiderpoolimport is the one-shot step that runs before them.
//
// Reconcilers must not be on the pod-start path: pod start keeps working while
// the controller is down.
package controller
