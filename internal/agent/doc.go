// Package agent is the ipkeeper node agent's socket server: it validates the
// plugin's requests, runs them through the ipam use cases, turns failures into
// agentapi error codes and pod Events, and records metrics.
package agent
