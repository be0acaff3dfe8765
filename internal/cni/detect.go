package cni

import (
	"context"
	"fmt"
	"net/netip"
	"strings"
	"time"

	"github.com/containernetworking/cni/pkg/skel"
	"github.com/containernetworking/cni/pkg/types"

	"github.com/ipkeeper/ipkeeper/internal/agentapi"
	"github.com/ipkeeper/ipkeeper/internal/probe"
)

// maxQuarantines bounds how many addresses one ADD may find taken by other
// hosts before it gives up: each one is quarantined, so a pool whose every
// free address answers would otherwise cost one probe per address.
const maxQuarantines = 8

// Prober runs the address checks on the sandbox's interface;
// probe.Check provides it.
type Prober func(ctx context.Context, netns, ifName string, plan probe.Plan) (probe.Outcome, error)

// checked runs the checks the agent asked for (resp.Detection) and returns
// the answer whose addresses passed: after a conflict, the address is
// quarantined and the agent asked again for another. A gateway that does
// not answer fails the ADD, with the addresses given back.
func (p *Plugin) checked(ctx context.Context, agent Agent, args *skel.CmdArgs, req *agentapi.AddRequest, resp *agentapi.AddResponse, socket string) (*agentapi.AddResponse, error) {
	for quarantined := 0; resp.Detection != nil && (resp.Detection.IPConflict || resp.Detection.Gateway); {
		plan, err := detectionPlan(resp)
		if err != nil {
			return nil, p.abandon(ctx, agent, req, nil, types.NewError(types.ErrInternal, "invalid answer from ipkeeper agent at "+socket, err.Error()))
		}
		out, err := p.probe(ctx, args.Netns, args.IfName, plan)
		if err != nil {
			return nil, p.abandon(ctx, agent, req, nil, types.NewError(types.ErrInternal,
				fmt.Sprintf("check addresses on interface %s", args.IfName), err.Error()))
		}
		if len(out.Unreachable) > 0 {
			first := out.Unreachable[0]
			why := agentapi.AbandonRequest{Pool: poolOf(resp, first.Address), Gateway: first.Gateway.String(), WaitedMs: int(plan.GatewayWait.Milliseconds())}
			return nil, p.abandon(ctx, agent, req, &why, gatewayError(resp, out.Unreachable, plan.GatewayWait, args.IfName))
		}
		if len(out.Conflicts) == 0 {
			return resp, nil
		}
		for _, c := range out.Conflicts {
			if err := agent.Quarantine(ctx, &agentapi.QuarantineRequest{
				Attachment: req.Attachment, Pod: req.Pod, Network: req.Network,
				Address: c.Address.String(), HardwareAddr: c.HardwareAddr.String(),
			}); err != nil {
				return nil, p.abandon(ctx, agent, req, nil, types.NewError(types.ErrTryAgainLater,
					fmt.Sprintf("address %s is in use by %s; quarantining it failed", c.Address, c.HardwareAddr), err.Error()))
			}
			quarantined++
		}
		if quarantined >= maxQuarantines {
			return nil, p.abandon(ctx, agent, req, nil, types.NewError(types.ErrTryAgainLater,
				fmt.Sprintf("interface %s: %d addresses in a row are in use by other hosts on the network; quarantined them", args.IfName, quarantined),
				"kubectl ipkeeper pools shows them; the next ADD tries further addresses"))
		}
		if resp, err = agent.Add(ctx, req); err != nil {
			return nil, cniError(err, socket)
		}
	}
	return resp, nil
}

// detectionPlan is what to check of the agent's answer.
func detectionPlan(resp *agentapi.AddResponse) (probe.Plan, error) {
	d := resp.Detection
	plan := probe.Plan{
		Conflict: d.IPConflict, ConflictWait: time.Duration(d.IPConflictTimeoutMs) * time.Millisecond,
		Gateway: d.Gateway, GatewayWait: time.Duration(d.GatewayTimeoutMs) * time.Millisecond,
	}
	for _, ip := range resp.IPs {
		prefix, gw, err := parseIPConfig(ip)
		if err != nil {
			return probe.Plan{}, err
		}
		plan.Targets = append(plan.Targets, probe.Target{Address: prefix.Addr(), Gateway: gw})
	}
	return plan, nil
}

func gatewayError(resp *agentapi.AddResponse, unreachable []probe.Target, waited time.Duration, ifName string) *types.Error {
	var parts []string
	for _, t := range unreachable {
		parts = append(parts, fmt.Sprintf("gateway %s of pool %s", t.Gateway, poolOf(resp, t.Address)))
	}
	return types.NewError(types.ErrTryAgainLater,
		fmt.Sprintf("interface %s: %s did not answer within %s", ifName, strings.Join(parts, " and "), waited),
		"the addresses were given back; check the pool's gateway, or turn ipam.enableGatewayDetection off")
}

func poolOf(resp *agentapi.AddResponse, addr netip.Addr) string {
	for _, ip := range resp.IPs {
		if prefix, err := netip.ParsePrefix(ip.Address); err == nil && prefix.Addr() == addr {
			return ip.Pool
		}
	}
	return "?"
}

// abandon gives back what the ADD was given, so that a failed ADD holds no
// address even while its pod lives, and returns failure with the release's
// own failure, if any, added to its details. why names the gateway that
// did not answer, for the pod's event; nil for other failures.
func (p *Plugin) abandon(ctx context.Context, agent Agent, req *agentapi.AddRequest, why *agentapi.AbandonRequest, failure *types.Error) error {
	ab := &agentapi.AbandonRequest{}
	if why != nil {
		*ab = *why
	}
	ab.Attachment, ab.Pod, ab.Network = req.Attachment, req.Pod, req.Network
	if err := agent.Abandon(ctx, ab); err != nil {
		failure.Details = fmt.Sprintf("%s; giving the addresses back failed too: %v", failure.Details, err)
	}
	return failure
}
