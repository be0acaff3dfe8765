package agentapi

import (
	"context"
	"errors"
)

// PathCoordinator answers the coordinator plugin with its configuration.
// Agents older than the coordinator do not serve it: the client reports
// ErrNotServed and the plugin goes on with its netconf alone.
const PathCoordinator = "/v1/coordinator/config"

// ErrNotServed means the agent does not know the endpoint (an older agent).
var ErrNotServed = errors.New("the ipkeeper agent does not serve this endpoint")

// CoordinatorRequest asks for the coordinator configuration of one pod.
type CoordinatorRequest struct {
	Pod PodRef `json:"pod"`
}

// CoordinatorResponse is the cluster's SpiderCoordinator as the agent's cache
// holds it, and what the pod's annotations add. Every field is optional, so
// that agents and plugins of different versions understand each other: an
// unknown field is ignored, a missing one means "not set".
type CoordinatorResponse struct {
	// Found is false when the cluster has no SpiderCoordinator default.
	Found bool `json:"found"`
	// Phase is the SpiderCoordinator's status.phase.
	Phase string `json:"phase,omitempty"`
	// Mode is spec.mode.
	Mode string `json:"mode,omitempty"`
	// ServiceCIDR and PodCIDR are the status's discovered CIDRs.
	ServiceCIDR []string `json:"serviceCIDR,omitempty"`
	PodCIDR     []string `json:"podCIDR,omitempty"`
	// HijackCIDR, PodMACPrefix, TunePodRoutes, PodDefaultRouteNIC,
	// HostRuleTable, PodRPFilter and VethLinkAddress are the spec's.
	HijackCIDR         []string `json:"hijackCIDR,omitempty"`
	PodMACPrefix       string   `json:"podMACPrefix,omitempty"`
	TunePodRoutes      *bool    `json:"tunePodRoutes,omitempty"`
	PodDefaultRouteNIC string   `json:"podDefaultRouteNIC,omitempty"`
	HostRuleTable      *int64   `json:"hostRuleTable,omitempty"`
	PodRPFilter        *int32   `json:"podRPFilter,omitempty"`
	VethLinkAddress    string   `json:"vethLinkAddress,omitempty"`
	// DefaultRouteNIC is the pod's ipam.spidernet.io/default-route-nic
	// annotation, "" when it has none.
	DefaultRouteNIC string `json:"defaultRouteNIC,omitempty"`
}

// Coordinator returns the coordinator configuration for a pod, or an error
// wrapping ErrNotServed when the agent predates the endpoint.
func (c *Client) Coordinator(ctx context.Context, req *CoordinatorRequest) (*CoordinatorResponse, error) {
	var resp CoordinatorResponse
	if err := c.post(ctx, PathCoordinator, req, &resp); err != nil {
		return nil, err
	}
	return &resp, nil
}
