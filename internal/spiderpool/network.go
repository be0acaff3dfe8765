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

// NetworkOf returns the "namespace/name" of the NetworkAttachmentDefinition
// that Multus uses for a pod's interface, or "" for the cluster default.
func NetworkOf(pod *corev1.Pod, ifName string) string {
	if ifName == "eth0" {
		return qualify(pod.Annotations[AnnoMultusDefaultNetwork], pod.Namespace)
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
