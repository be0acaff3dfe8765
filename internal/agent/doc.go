// Package agent is the ipkeeper node agent: Setup wires the informers, the
// allocator and the socket server into a manager. The server validates the
// plugin's requests, runs them through the ipam use cases, turns failures into
// agentapi error codes and pod Events, and records metrics.
package agent
