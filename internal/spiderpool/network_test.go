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
		if got := NetworkOf(pod, ifName); got != want {
			t.Errorf("NetworkOf(%s) = %q, want %q", ifName, got, want)
		}
	}
}
