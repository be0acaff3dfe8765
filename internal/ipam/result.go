package ipam

import (
	"encoding/json"
	"net/netip"
	"strings"

	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	"github.com/ipkeeper/ipkeeper/api/ipkeeper/v1alpha1"
	"github.com/ipkeeper/ipkeeper/api/v2beta1"
	"github.com/ipkeeper/ipkeeper/internal/agentapi"
)

// Labels the controller sets on automatic pools (API.md §4), read here to
// find a workload's pool (rule 1).
const (
	LabelAutoOwnerUID = "ipkeeper.io/owner-uid"
	LabelAutoIfName   = "ipkeeper.io/interface"
)

// autoPools returns the workload's automatic pools for an interface.
func (a *Allocator) autoPools(owner v1alpha1.ClaimOwner, ifName string) map[int][]string {
	out := map[int][]string{}
	if owner.UID == "" {
		return out
	}
	for _, p := range a.index.Pools() {
		if p.Labels[LabelAutoOwnerUID] == string(owner.UID) && p.Labels[LabelAutoIfName] == ifName {
			fam := poolFamily(p)
			out[fam] = append(out[fam], p.Name)
		}
	}
	return out
}

// NetworkOf returns the "namespace/name" of the NetworkAttachmentDefinition
// that Multus uses for a pod's interface, or "" for the cluster default.
func NetworkOf(pod *corev1.Pod, ifName string) string {
	if ifName == "eth0" {
		return qualify(pod.Annotations["v1.multus-cni.io/default-network"], pod.Namespace)
	}
	nets := multusNetworks(pod.Annotations["k8s.v1.cni.cncf.io/networks"], pod.Namespace)
	for i, n := range nets {
		name := n.iface
		if name == "" {
			name = positionalInterface(i + 1)
		}
		if name == ifName {
			return n.ref
		}
	}
	return ""
}

type multusNet struct{ ref, iface string }

// multusNetworks parses the networks annotation: JSON or "ns/name@if, name".
func multusNetworks(value, podNS string) []multusNet {
	value = strings.TrimSpace(value)
	if value == "" {
		return nil
	}
	var out []multusNet
	if strings.HasPrefix(value, "[") {
		var sel []struct {
			Name      string `json:"name"`
			Namespace string `json:"namespace"`
			Interface string `json:"interface"`
		}
		if json.Unmarshal([]byte(value), &sel) != nil {
			return nil
		}
		for _, s := range sel {
			ns := s.Namespace
			if ns == "" {
				ns = podNS
			}
			out = append(out, multusNet{ref: ns + "/" + s.Name, iface: s.Interface})
		}
		return out
	}
	for _, item := range strings.Split(value, ",") {
		ref, iface, _ := strings.Cut(strings.TrimSpace(item), "@")
		out = append(out, multusNet{ref: qualify(ref, podNS), iface: iface})
	}
	return out
}

func qualify(ref, ns string) string {
	if ref == "" || strings.Contains(ref, "/") {
		return ref
	}
	return ns + "/" + ref
}

// response turns the request's claims into the plugin's answer.
func (a *Allocator) response(req *request, got []*v1alpha1.IPClaim) *agentapi.AddResponse {
	resp := &agentapi.AddResponse{}
	clean := req.CleanGateway || req.sel.CleanGateway
	extra := a.annotationRoutes(req.pod)
	for _, c := range got {
		p := a.index.Pool(c.Spec.Pool)
		if p == nil {
			continue
		}
		subnet, _ := netip.ParsePrefix(p.Spec.Subnet)
		ipc := agentapi.IPConfig{Address: netip.PrefixFrom(netip.MustParseAddr(c.Spec.Address), subnet.Bits()).String(), Pool: p.Name}
		if p.Spec.Gateway != nil && !clean {
			ipc.Gateway = *p.Spec.Gateway
		}
		resp.IPs = append(resp.IPs, ipc)
		for _, r := range p.Spec.Routes {
			resp.Routes = append(resp.Routes, agentapi.Route{Dst: r.Dst, GW: r.Gw})
		}
		for _, r := range extra {
			if gw, err := netip.ParseAddr(r.GW); err == nil && subnet.Contains(gw) {
				resp.Routes = append(resp.Routes, agentapi.Route{Dst: r.Dst, GW: r.GW})
			}
		}
	}
	return resp
}

func (a *Allocator) annotationRoutes(pod *corev1.Pod) []RouteSpec {
	v, ok := pod.Annotations[AnnoRoutes]
	if !ok {
		return nil
	}
	rs, err := parseRoutes(v)
	if err != nil {
		return nil
	}
	return rs
}

// endpoint is the SpiderEndpoint record of this interface.
func (a *Allocator) endpoint(req *request, resp *agentapi.AddResponse) *v2beta1.SpiderEndpoint {
	detail := v2beta1.IPAllocationDetail{Interface: req.IfName}
	for _, ipc := range resp.IPs {
		addr, gw, pool := ipc.Address, ipc.Gateway, ipc.Pool
		if netip.MustParsePrefix(addr).Addr().Is4() {
			detail.IPv4, detail.IPv4Pool = &addr, &pool
			if gw != "" {
				detail.IPv4Gateway = &gw
			}
		} else {
			detail.IPv6, detail.IPv6Pool = &addr, &pool
			if gw != "" {
				detail.IPv6Gateway = &gw
			}
		}
	}
	for _, r := range resp.Routes {
		detail.Routes = append(detail.Routes, v2beta1.Route{Dst: r.Dst, Gw: r.GW})
	}
	clean := req.CleanGateway || req.sel.CleanGateway
	detail.CleanGateway = &clean
	ep := &v2beta1.SpiderEndpoint{
		ObjectMeta: metav1.ObjectMeta{Namespace: req.pod.Namespace, Name: req.pod.Name},
		Status: v2beta1.SpiderEndpointStatus{
			Current:             v2beta1.PodIPAllocation{UID: req.pod.UID, Node: a.cfg.Node, IPs: []v2beta1.IPAllocationDetail{detail}},
			OwnerControllerType: req.owner.Kind,
			OwnerControllerName: req.owner.Name,
		},
	}
	if !a.stateful(req.owner) {
		ep.OwnerReferences = []metav1.OwnerReference{{APIVersion: "v1", Kind: "Pod", Name: req.pod.Name, UID: req.pod.UID}}
	}
	return ep
}
