package agent

import (
	"fmt"
	"net/netip"

	"k8s.io/apimachinery/pkg/types"

	"github.com/ipkeeper/ipkeeper/internal/agentapi"
	"github.com/ipkeeper/ipkeeper/internal/ipam"
)

// The one translation between the plugin's wire types (agentapi) and the
// use cases' own (ipam).

func podRef(p agentapi.PodRef) ipam.PodRef {
	return ipam.PodRef{Namespace: p.Namespace, Name: p.Name, UID: types.UID(p.UID)}
}

func attachment(at agentapi.Attachment) ipam.Attachment {
	return ipam.Attachment{ContainerID: at.ContainerID, IfName: at.IfName}
}

func addRequest(in *agentapi.AddRequest) *ipam.AddRequest {
	return &ipam.AddRequest{
		Attachment: attachment(in.Attachment), Pod: podRef(in.Pod), Network: in.Network,
		DefaultIPv4Pools: in.DefaultIPv4Pools, DefaultIPv6Pools: in.DefaultIPv6Pools, CleanGateway: in.CleanGateway,
	}
}

func delRequest(in *agentapi.DelRequest) *ipam.DelRequest {
	return &ipam.DelRequest{Attachment: attachment(in.Attachment), Pod: podRef(in.Pod), Network: in.Network}
}

// checkRequest fails on an address the runtime sent that is not in CIDR form.
func checkRequest(in *agentapi.CheckRequest) (*ipam.CheckRequest, error) {
	out := &ipam.CheckRequest{Attachment: attachment(in.Attachment), Pod: podRef(in.Pod)}
	for i, cidr := range in.IPs {
		p, err := netip.ParsePrefix(cidr)
		if err != nil {
			return nil, fmt.Errorf("ips[%d] %q: want an address in CIDR form such as 10.6.168.101/16", i, cidr)
		}
		out.IPs = append(out.IPs, p.Addr())
	}
	return out, nil
}

func gcRequest(in *agentapi.GCRequest) *ipam.GCRequest {
	out := &ipam.GCRequest{Network: in.Network}
	for _, at := range in.ValidAttachments {
		out.Valid = append(out.Valid, attachment(at))
	}
	return out
}

func addResponse(a *ipam.Allocation) *agentapi.AddResponse {
	out := &agentapi.AddResponse{IPs: make([]agentapi.IPConfig, 0, len(a.IPs))}
	for _, ip := range a.IPs {
		c := agentapi.IPConfig{Address: ip.Address.String(), Pool: ip.Pool}
		if ip.Gateway.IsValid() {
			c.Gateway = ip.Gateway.String()
		}
		out.IPs = append(out.IPs, c)
	}
	for _, r := range a.Routes {
		out.Routes = append(out.Routes, agentapi.Route{Dst: r.Dst.String(), GW: r.GW.String()})
	}
	return out
}
