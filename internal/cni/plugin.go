// Package cni is the logic of spiderpool, ipkeeper's CNI IPAM plugin: it
// parses the network configuration and CNI_ARGS, asks the node's agent for
// the interface's addresses over the agent's unix socket (package agentapi)
// and turns the answer, or the failure, into what the CNI spec says the
// runtime must see.
//
// The plugin is executed for every pod sandbox, so it must start in a few
// milliseconds: this package must not import Kubernetes libraries
// (client-go, k8s.io/api, controller-runtime) or anything that does work at
// init. Everything it knows about the cluster comes from the agent.
package cni

import (
	"context"
	"fmt"
	"io"
	"time"

	"github.com/containernetworking/cni/pkg/skel"
	"github.com/containernetworking/cni/pkg/types"

	"github.com/ipkeeper/ipkeeper/internal/agentapi"
)

// How long each command may wait for the agent, connection included. ADD is
// the longest: the agent may have to try several candidates against the API
// server, and kubelet's own CNI deadline is longer still. DEL and GC write to
// the API server too; CHECK and STATUS only read the agent's caches.
const (
	addTimeout    = 60 * time.Second
	delTimeout    = 30 * time.Second
	gcTimeout     = 30 * time.Second
	checkTimeout  = 10 * time.Second
	statusTimeout = 5 * time.Second
)

// Agent is what the plugin needs from the node's agent; *agentapi.Client
// provides it.
type Agent interface {
	Add(ctx context.Context, req *agentapi.AddRequest) (*agentapi.AddResponse, error)
	Del(ctx context.Context, req *agentapi.DelRequest) error
	Check(ctx context.Context, req *agentapi.CheckRequest) error
	GC(ctx context.Context, req *agentapi.GCRequest) (*agentapi.GCResponse, error)
	Ready(ctx context.Context) error
	Quarantine(ctx context.Context, req *agentapi.QuarantineRequest) error
	Abandon(ctx context.Context, req *agentapi.AbandonRequest) error
}

// Connect returns the agent listening on socket, each of its calls bounded
// by timeout. Connecting is lazy: errors come from the calls.
type Connect func(socket string, timeout time.Duration) Agent

// Dial connects to the real agent.
func Dial(socket string, timeout time.Duration) Agent {
	return agentapi.NewClient(socket, timeout)
}

// Plugin implements the CNI commands; its methods fit skel.CNIFuncs.
type Plugin struct {
	connect Connect
	probe   Prober
	out     io.Writer
}

// New returns a plugin that reaches its agent with connect, checks the
// addresses it is given with probe when the agent asks for it, and prints
// results to out (the process's stdout: nothing else may be written there).
func New(connect Connect, probe Prober, out io.Writer) *Plugin {
	return &Plugin{connect: connect, probe: probe, out: out}
}

// Add asks the agent for the interface's addresses and prints the result in
// the netconf's spec version. ADD is idempotent per (container ID, ifName):
// the agent answers a repeated request with what it already gave.
func (p *Plugin) Add(args *skel.CmdArgs) error {
	conf, err := ParseNetConf(args.StdinData)
	if err != nil {
		return err
	}
	pod, err := ParsePodRef(args.Args, false)
	if err != nil {
		return err
	}
	socket := conf.IPAM.SocketPath
	agent := p.connect(socket, addTimeout)
	ctx := context.Background()
	req := &agentapi.AddRequest{
		Attachment:       attachment(args),
		Pod:              pod,
		NetNS:            args.Netns,
		Network:          conf.Name,
		DefaultIPv4Pools: conf.IPAM.DefaultIPv4Pools,
		DefaultIPv6Pools: conf.IPAM.DefaultIPv6Pools,
		CleanGateway:     conf.IPAM.CleanGateway,
		CanProbe:         p.probe != nil,
	}
	resp, err := agent.Add(ctx, req)
	if err != nil {
		return cniError(err, socket)
	}
	if p.probe != nil {
		if resp, err = p.checked(ctx, agent, args, req, resp, socket); err != nil {
			return err
		}
	}
	result, err := buildResult(resp)
	if err != nil {
		return rollback(ctx, agent, args, pod, conf,
			types.NewError(types.ErrInternal, "invalid answer from ipkeeper agent at "+socket, err.Error()))
	}
	if err := printResult(p.out, result, conf.CNIVersion); err != nil {
		return rollback(ctx, agent, args, pod, conf,
			types.NewError(types.ErrIOFailure, "print result", err.Error()))
	}
	return nil
}

// rollback asks the agent to DEL what a failed ADD was given, and returns
// failure with the DEL's own failure, if any, added to its details. DEL
// releases the addresses unless the pod keeps them (a live pod's next ADD
// takes them over; the collector frees them once the pod is gone); abandon,
// by contrast, gives them back even while the pod lives.
func rollback(ctx context.Context, agent Agent, args *skel.CmdArgs, pod agentapi.PodRef, conf *NetConf, failure *types.Error) error {
	err := agent.Del(ctx, &agentapi.DelRequest{Attachment: attachment(args), Pod: pod, Network: conf.Name})
	if err != nil {
		failure.Details = fmt.Sprintf("%s; releasing it failed too: %v", failure.Details, err)
	}
	return failure
}

// Del asks the agent to release the interface's addresses. The agent answers
// success when there is nothing to release; any other failure, the agent
// being unreachable included, fails DEL so that the runtime retries: DEL
// never reports a release that did not happen.
func (p *Plugin) Del(args *skel.CmdArgs) error {
	conf, err := ParseNetConfForDel(args.StdinData)
	if err != nil {
		return err
	}
	pod, err := ParsePodRef(args.Args, true)
	if err != nil {
		return err
	}
	socket := conf.IPAM.SocketPath
	err = p.connect(socket, delTimeout).Del(context.Background(), &agentapi.DelRequest{
		Attachment: attachment(args),
		Pod:        pod,
		Network:    conf.Name,
	})
	return cniError(err, socket)
}

// Check asks the agent whether the interface still holds the addresses of
// the previous result.
func (p *Plugin) Check(args *skel.CmdArgs) error {
	conf, err := ParseNetConf(args.StdinData)
	if err != nil {
		return err
	}
	pod, err := ParsePodRef(args.Args, false)
	if err != nil {
		return err
	}
	var ips []string
	if conf.PrevResult != nil {
		for _, ip := range conf.PrevResult.IPs {
			ips = append(ips, ip.Address.String())
		}
	}
	socket := conf.IPAM.SocketPath
	err = p.connect(socket, checkTimeout).Check(context.Background(), &agentapi.CheckRequest{
		Attachment: attachment(args),
		Pod:        pod,
		Network:    conf.Name,
		IPs:        ips,
	})
	return cniError(err, socket)
}

// GC asks the agent to release the addresses its node's sandboxes hold on
// this network, except those of the attachments the runtime still uses
// (spec 1.1.0).
func (p *Plugin) GC(args *skel.CmdArgs) error {
	conf, err := ParseNetConf(args.StdinData)
	if err != nil {
		return err
	}
	if conf.ValidAttachments == nil {
		// An absent list would mean "nothing is in use": refuse rather
		// than release every address of the network on this node.
		return types.NewError(types.ErrInvalidNetworkConfig, "GC without cni.dev/valid-attachments",
			"refusing to release every address of network "+conf.Name)
	}
	valid := make([]agentapi.Attachment, 0, len(conf.ValidAttachments))
	for _, a := range conf.ValidAttachments {
		valid = append(valid, agentapi.Attachment{ContainerID: a.ContainerID, IfName: a.IfName})
	}
	socket := conf.IPAM.SocketPath
	_, err = p.connect(socket, gcTimeout).GC(context.Background(), &agentapi.GCRequest{
		Network:          conf.Name,
		ValidAttachments: valid,
	})
	return cniError(err, socket)
}

// Status reports whether the agent is ready to serve ADD (spec 1.1.0).
func (p *Plugin) Status(args *skel.CmdArgs) error {
	conf, err := ParseNetConf(args.StdinData)
	if err != nil {
		return err
	}
	socket := conf.IPAM.SocketPath
	if err := p.connect(socket, statusTimeout).Ready(context.Background()); err != nil {
		return statusError(err, socket)
	}
	return nil
}

func attachment(args *skel.CmdArgs) agentapi.Attachment {
	return agentapi.Attachment{ContainerID: args.ContainerID, IfName: args.IfName}
}
