package coordinator

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net/netip"
	"time"

	"github.com/containernetworking/cni/pkg/skel"
	"github.com/containernetworking/cni/pkg/types"
	current "github.com/containernetworking/cni/pkg/types/100"
	"github.com/containernetworking/cni/pkg/version"
	"github.com/containernetworking/plugins/pkg/ns"
	"github.com/vishvananda/netlink"
	"github.com/vishvananda/netns"

	"github.com/ipkeeper/ipkeeper/internal/agentapi"
	"github.com/ipkeeper/ipkeeper/internal/cni"
)

// agentTimeout bounds the one question ADD asks the agent.
const agentTimeout = 10 * time.Second

// Agent is what the plugin asks of the node's agent.
type Agent interface {
	Coordinator(ctx context.Context, req *agentapi.CoordinatorRequest) (*agentapi.CoordinatorResponse, error)
}

// Dial returns a client of the agent at socket.
func Dial(socket string) Agent { return agentapi.NewClient(socket, agentTimeout) }

// Plugin is the coordinator's CNI commands.
type Plugin struct {
	dial   func(socket string) Agent
	stdout io.Writer
}

// New returns the plugin; it writes results to stdout.
func New(dial func(socket string) Agent, stdout io.Writer) *Plugin {
	return &Plugin{dial: dial, stdout: stdout}
}

// Add sets up the pod's interface and passes the previous result on.
func (p *Plugin) Add(args *skel.CmdArgs) error {
	conf, prev, err := parse(args.StdinData)
	if err != nil {
		return err
	}
	if prev == nil {
		return types.NewError(types.ErrInvalidNetworkConfig, "no prevResult",
			"the coordinator is chained after a main plugin (macvlan, ipvlan, sriov) and needs its result")
	}
	pod, err := cni.ParsePodRef(args.Args, false)
	if err != nil {
		return err
	}
	ctx, cancel := context.WithTimeout(context.Background(), agentTimeout)
	defer cancel()
	scc, err := p.dial(conf.SocketPath).Coordinator(ctx, &agentapi.CoordinatorRequest{Pod: pod})
	switch {
	case errors.Is(err, agentapi.ErrNotServed):
		scc = nil // an older agent: the netconf alone
	case errors.Is(err, agentapi.ErrUnreachable):
		return types.NewError(types.ErrTryAgainLater, "ipkeeper agent unreachable at "+conf.SocketPath, err.Error())
	case err != nil:
		return types.NewError(types.ErrInternal, "ask the ipkeeper agent for the coordinator configuration", err.Error())
	}
	cfg, err := Merge(conf, scc)
	if err != nil {
		return types.NewError(types.ErrInvalidNetworkConfig, "invalid coordinator configuration", err.Error())
	}
	if cfg.Mode == ModeDisabled {
		return printResult(p.stdout, prev, conf.CNIVersion)
	}
	a, closeAll, err := open(cfg, args, interfaceAddrs(prev, args.IfName))
	if err != nil {
		return types.NewError(types.ErrInternal, "open network namespaces", err.Error())
	}
	defer closeAll()
	if err := a.add(); err != nil {
		if rbErr := a.rollback(); rbErr != nil {
			err = fmt.Errorf("%w (and undoing: %w)", err, rbErr)
		}
		return types.NewError(types.ErrInternal, "coordinator setup of "+args.IfName, err.Error())
	}
	if a.mac != nil {
		for _, itf := range prev.Interfaces {
			if itf.Name == args.IfName && itf.Sandbox != "" {
				itf.Mac = a.mac.String()
			}
		}
	}
	return printResult(p.stdout, prev, conf.CNIVersion)
}

// Del removes what ADD made. It needs neither the agent nor a previous
// result, and succeeds when the pod's netns is already gone.
func (p *Plugin) Del(args *skel.CmdArgs) error {
	if _, err := ParseNetConf(args.StdinData); err != nil {
		return types.NewError(types.ErrDecodingFailure, "decode network configuration", err.Error())
	}
	a, closeAll, err := open(&Config{}, args, nil)
	if err != nil {
		return types.NewError(types.ErrInternal, "open network namespaces", err.Error())
	}
	defer closeAll()
	if err := a.del(); err != nil {
		return types.NewError(types.ErrInternal, "coordinator teardown of "+args.IfName, err.Error())
	}
	return nil
}

// Check verifies that the pod's veth is in place.
func (p *Plugin) Check(args *skel.CmdArgs) error {
	conf, _, err := parse(args.StdinData)
	if err != nil {
		return err
	}
	if conf.Mode == ModeDisabled {
		return nil
	}
	a, closeAll, err := open(&Config{}, args, nil)
	if err != nil {
		return types.NewError(types.ErrInternal, "open network namespaces", err.Error())
	}
	defer closeAll()
	if a.pod == nil {
		return types.NewError(types.ErrInternal, "pod network namespace "+args.Netns+" is gone", "")
	}
	if _, err := a.pod.LinkByName(PodVethName); err != nil {
		return types.NewError(types.ErrInternal, "pod has no "+PodVethName, err.Error())
	}
	if _, err := a.node.LinkByName(HostVethName(args.ContainerID)); err != nil {
		return types.NewError(types.ErrInternal, "node has no "+HostVethName(args.ContainerID), err.Error())
	}
	return nil
}

func parse(data []byte) (*NetConf, *current.Result, error) {
	conf, err := ParseNetConf(data)
	if err != nil {
		return nil, nil, types.NewError(types.ErrDecodingFailure, "decode network configuration", err.Error())
	}
	if err := version.ParsePrevResult(&conf.NetConf); err != nil {
		return nil, nil, types.NewError(types.ErrDecodingFailure, "decode prevResult", err.Error())
	}
	if conf.PrevResult == nil {
		return conf, nil, nil
	}
	prev, err := current.NewResultFromResult(conf.PrevResult)
	if err != nil {
		return nil, nil, types.NewError(types.ErrDecodingFailure, "convert prevResult", err.Error())
	}
	return conf, prev, nil
}

// interfaceAddrs are the previous result's addresses of the pod interface
// ifName (all of them when the result names no interfaces).
func interfaceAddrs(prev *current.Result, ifName string) []netip.Prefix {
	var out []netip.Prefix
	for _, ip := range prev.IPs {
		if ip.Interface != nil && *ip.Interface >= 0 && *ip.Interface < len(prev.Interfaces) {
			if itf := prev.Interfaces[*ip.Interface]; itf.Name != ifName || itf.Sandbox == "" {
				continue
			}
		}
		if a, ok := netip.AddrFromSlice(ip.Address.IP); ok {
			ones, _ := ip.Address.Mask.Size()
			out = append(out, netip.PrefixFrom(a.Unmap(), ones))
		}
	}
	return out
}

// open returns the attachment with handles of the plugin's netns (the
// node's) and of the pod's; the pod handle is nil when its netns is gone.
func open(cfg *Config, args *skel.CmdArgs, addrs []netip.Prefix) (*attachment, func(), error) {
	a := &attachment{cfg: cfg, containerID: args.ContainerID, ifName: args.IfName, addrs: addrs}
	node, err := netlink.NewHandle()
	if err != nil {
		return nil, nil, fmt.Errorf("netlink in the node's netns: %w", err)
	}
	a.node = node
	closeAll := func() {
		node.Close()
		if a.pod != nil {
			a.pod.Close()
		}
		if a.podNS != nil {
			a.podNS.Close()
		}
	}
	podNS, err := ns.GetNS(args.Netns)
	if err != nil {
		if errors.As(err, new(ns.NSPathNotExistErr)) || errors.As(err, new(ns.NSPathNotNSErr)) || args.Netns == "" {
			return a, closeAll, nil
		}
		closeAll()
		return nil, nil, fmt.Errorf("open pod netns %s: %w", args.Netns, err)
	}
	a.podNS = podNS
	if a.pod, err = netlink.NewHandleAt(netns.NsHandle(podNS.Fd())); err != nil {
		closeAll()
		return nil, nil, fmt.Errorf("netlink in pod netns %s: %w", args.Netns, err)
	}
	return a, closeAll, nil
}

func printResult(w io.Writer, res *current.Result, cniVersion string) error {
	out, err := res.GetAsVersion(cniVersion)
	if err != nil {
		return types.NewError(types.ErrIncompatibleCNIVersion, "convert result to version "+cniVersion, err.Error())
	}
	return out.PrintTo(w)
}
