package spiderpool

import (
	"testing"

	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
)

func TestNetworkOf(t *testing.T) {
	pod := &corev1.Pod{ObjectMeta: metav1.ObjectMeta{Namespace: "ns1", Name: "p", Annotations: map[string]string{
		"v1.multus-cni.io/default-network": "kube-system/macvlan-ens192",
		"k8s.v1.cni.cncf.io/networks":      "other/net-a, net-b@eth9",
	}}}
	for ifName, want := range map[string]string{"eth0": "kube-system/macvlan-ens192", "net1": "other/net-a", "eth9": "ns1/net-b", "net5": ""} {
		if got := NetworkOf(pod, ifName, Multus{Namespace: "kube-system"}); got != want {
			t.Errorf("NetworkOf(%s) = %q, want %q", ifName, got, want)
		}
	}
}

// A pod without v1.multus-cni.io/default-network is on the cluster default
// network; a bare name there, or in a pool's multusName, is in Multus's
// namespace.
func TestNetworkOfTheClusterDefaultAndBareNames(t *testing.T) {
	m := Multus{Namespace: "kube-system", ClusterNetwork: "macvlan-ens192"}
	plain := &corev1.Pod{ObjectMeta: metav1.ObjectMeta{Namespace: "ns1", Name: "p"}}
	bare := &corev1.Pod{ObjectMeta: metav1.ObjectMeta{Namespace: "ns1", Name: "p", Annotations: map[string]string{
		"v1.multus-cni.io/default-network": "other-net"}}}
	tests := []struct {
		name string
		pod  *corev1.Pod
		m    Multus
		want string
	}{
		{"cluster default network", plain, m, "kube-system/macvlan-ens192"},
		{"cluster default network not configured", plain, Multus{Namespace: "kube-system"}, ""},
		{"qualified cluster default network", plain, Multus{Namespace: "kube-system", ClusterNetwork: "net/def"}, "net/def"},
		{"bare default-network annotation", bare, m, "kube-system/other-net"},
	}
	for _, tt := range tests {
		if got := NetworkOf(tt.pod, "eth0", tt.m); got != tt.want {
			t.Errorf("%s: NetworkOf = %q, want %q", tt.name, got, tt.want)
		}
	}
	for _, tc := range []struct {
		names []string
		nad   string
		want  bool
	}{
		{[]string{"macvlan-ens192"}, "kube-system/macvlan-ens192", true},
		{[]string{"kube-system/macvlan-ens192"}, "kube-system/macvlan-ens192", true},
		{[]string{"macvlan-ens192"}, "ns1/macvlan-ens192", false},
		{[]string{"other"}, "kube-system/macvlan-ens192", false},
		{[]string{""}, "", false},
	} {
		if got := MultusNameMatches(tc.names, tc.nad, m); got != tc.want {
			t.Errorf("MultusNameMatches(%q, %q) = %v, want %v", tc.names, tc.nad, got, tc.want)
		}
	}
}
