package spiderpool

import (
	"encoding/json"
	"strings"

	corev1 "k8s.io/api/core/v1"
)

// Multus annotations on a pod.
const (
	AnnoMultusDefaultNetwork = "v1.multus-cni.io/default-network"
	AnnoMultusNetworks       = "k8s.v1.cni.cncf.io/networks"
)

// Multus is what the agent knows of the node's Multus: the namespace in
// which bare names of the cluster default network, and of pools'
// spec.multusName, are looked up (Multus's multusNamespace; Spiderpool uses
// its installation namespace), and the NetworkAttachmentDefinition of the
// cluster default network (Multus's clusterNetwork), "" when not configured.
type Multus struct {
	Namespace      string
	ClusterNetwork string
}

// NetworkOf returns the "namespace/name" of the NetworkAttachmentDefinition
// that Multus uses for a pod's interface: for eth0 the pod's
// v1.multus-cni.io/default-network or else the cluster default network; ""
// when unknown.
func NetworkOf(pod *corev1.Pod, ifName string, m Multus) string {
	if ifName == "eth0" {
		if v := strings.TrimSpace(pod.Annotations[AnnoMultusDefaultNetwork]); v != "" {
			return qualify(v, m.Namespace)
		}
		return qualify(m.ClusterNetwork, m.Namespace)
	}
	nets := multusNetworks(pod.Annotations[AnnoMultusNetworks], pod.Namespace)
	for i, n := range nets {
		name := n.iface
		if name == "" {
			name = PositionalInterface(i + 1)
		}
		if name == ifName {
			return n.ref
		}
	}
	return ""
}

// InterfacesOf is how many interfaces Multus gives the pod: eth0 and one per
// entry of its networks annotation.
func InterfacesOf(pod *corev1.Pod) int {
	return 1 + len(multusNetworks(pod.Annotations[AnnoMultusNetworks], pod.Namespace))
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

// MultusNameMatches reports whether a pool's spec.multusName names the
// network nad ("namespace/name"); a bare name is in m.Namespace, as
// Spiderpool reads it.
func MultusNameMatches(multusName []string, nad string, m Multus) bool {
	for _, n := range multusName {
		if nad != "" && qualify(strings.TrimSpace(n), m.Namespace) == nad {
			return true
		}
	}
	return false
}
