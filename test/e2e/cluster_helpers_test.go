//go:build e2e

package e2e

import (
	"context"
	"encoding/json"
	"fmt"
	"net"
	"net/netip"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/containernetworking/plugins/pkg/ns"
	"github.com/vishvananda/netlink"
	appsv1 "k8s.io/api/apps/v1"
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	"github.com/ipkeeper/ipkeeper/test/framework"
	"github.com/ipkeeper/ipkeeper/test/localcluster"
	"github.com/ipkeeper/ipkeeper/test/localcluster/nodesim"
)

const (
	podImage    = "registry.invalid/ipkeeper/pause:1" // never pulled: containers are simulated
	podsTimeout = 2 * time.Minute
)

func podTemplate(labels map[string]string) corev1.PodTemplateSpec {
	return corev1.PodTemplateSpec{
		ObjectMeta: metav1.ObjectMeta{Labels: labels},
		Spec: corev1.PodSpec{
			Containers:                    []corev1.Container{{Name: "app", Image: podImage}},
			TerminationGracePeriodSeconds: ptr[int64](30),
		},
	}
}

func ptr[T any](v T) *T { return &v }

func createStatefulSet(t *testing.T, env *framework.Env, namespace, name string, replicas int32) {
	t.Helper()
	labels := map[string]string{"app": name}
	_, err := env.Client.AppsV1().StatefulSets(namespace).Create(t.Context(), &appsv1.StatefulSet{
		ObjectMeta: metav1.ObjectMeta{Name: name},
		Spec: appsv1.StatefulSetSpec{
			Replicas: &replicas, ServiceName: name,
			Selector: &metav1.LabelSelector{MatchLabels: labels},
			Template: podTemplate(labels),
		},
	}, metav1.CreateOptions{})
	if err != nil {
		t.Fatalf("create statefulset %s: %v", name, err)
	}
}

func createDeployment(t *testing.T, env *framework.Env, namespace, name string, replicas int32) {
	t.Helper()
	labels := map[string]string{"app": name}
	_, err := env.Client.AppsV1().Deployments(namespace).Create(t.Context(), &appsv1.Deployment{
		ObjectMeta: metav1.ObjectMeta{Name: name},
		Spec: appsv1.DeploymentSpec{
			Replicas: &replicas,
			Selector: &metav1.LabelSelector{MatchLabels: labels},
			Template: podTemplate(labels),
		},
	}, metav1.CreateOptions{})
	if err != nil {
		t.Fatalf("create deployment %s: %v", name, err)
	}
}

// createPod creates a bare pod, pinned to a node through the scheduler when
// node is set.
func createPod(t *testing.T, env *framework.Env, namespace, name, node string, annotations map[string]string) *corev1.Pod {
	t.Helper()
	tmpl := podTemplate(map[string]string{"app": name})
	pod := &corev1.Pod{ObjectMeta: metav1.ObjectMeta{Name: name, Annotations: annotations, Labels: tmpl.Labels}, Spec: tmpl.Spec}
	if node != "" {
		pod.Spec.NodeSelector = map[string]string{"kubernetes.io/hostname": node}
	}
	created, err := env.Client.CoreV1().Pods(namespace).Create(t.Context(), pod, metav1.CreateOptions{})
	if err != nil {
		t.Fatalf("create pod %s: %v", name, err)
	}
	return created
}

func networkStatus(t *testing.T, pod *corev1.Pod) []nodesim.NetworkStatus {
	t.Helper()
	raw, ok := pod.Annotations[nodesim.AnnotationNetworkStatus]
	if !ok {
		t.Fatalf("pod %s has no %s annotation", pod.Name, nodesim.AnnotationNetworkStatus)
	}
	var st []nodesim.NetworkStatus
	if err := json.Unmarshal([]byte(raw), &st); err != nil {
		t.Fatalf("pod %s: decode network status %q: %v", pod.Name, raw, err)
	}
	return st
}

// checkPodNetwork checks what a Running pod reports against its sandbox: the
// status, the network-status annotation and the interface in its namespace.
func checkPodNetwork(t *testing.T, env *framework.Env, pod *corev1.Pod) {
	t.Helper()
	node := env.Node(t, pod.Spec.NodeName)
	ip := netip.MustParseAddr(pod.Status.PodIP)
	if got := pod.Status.HostIP; got != node.Address.Addr().String() {
		t.Errorf("pod %s: hostIP %s, want node address %s", pod.Name, got, node.Address.Addr())
	}
	if len(pod.Status.PodIPs) == 0 || pod.Status.PodIPs[0].IP != pod.Status.PodIP {
		t.Errorf("pod %s: podIPs %v do not start with podIP %s", pod.Name, pod.Status.PodIPs, pod.Status.PodIP)
	}
	st := networkStatus(t, pod)
	if len(st) == 0 || !st[0].Default || st[0].Interface != "eth0" || !slices.Equal(st[0].IPs, []string{ip.String()}) || st[0].Mac == "" {
		t.Errorf("pod %s: network status %+v, want a default eth0 entry with ips [%s] and a mac", pod.Name, st, ip)
	}
	if len(st) > 0 && st[0].Name == localcluster.HostLocalNetworkName && !node.PodRange.Contains(ip) {
		t.Errorf("pod %s on %s: IP %s outside the node's range %s", pod.Name, node.Name, ip, node.PodRange)
	}
	for _, cs := range pod.Status.ContainerStatuses {
		if !cs.Ready || cs.State.Running == nil || cs.Started == nil || !*cs.Started || cs.ContainerID == "" {
			t.Errorf("pod %s: container status %+v is not ready and running", pod.Name, cs)
		}
	}
	sb := env.Sandbox(t, pod)
	if got := interfaceAddrs(t, sb.NetNS, "eth0"); !slices.Contains(got, ip.String()) {
		t.Errorf("pod %s: eth0 in %s has %v, want %s", pod.Name, sb.NetNS, got, ip)
	}
}

// interfaceAddrs lists the IPv4 addresses of an interface inside a netns.
func interfaceAddrs(t *testing.T, netnsPath, ifName string) []string {
	t.Helper()
	var out []string
	err := ns.WithNetNSPath(netnsPath, func(ns.NetNS) error {
		link, err := netlink.LinkByName(ifName)
		if err != nil {
			return err
		}
		addrs, err := netlink.AddrList(link, netlink.FAMILY_V4)
		for _, a := range addrs {
			out = append(out, a.IP.String())
		}
		return err
	})
	if err != nil {
		t.Fatalf("read %s in %s: %v", ifName, netnsPath, err)
	}
	return out
}

// kubectlWide returns the rows of `kubectl get pods -o wide` by pod name.
func kubectlWide(t *testing.T, env *framework.Env, namespace string) map[string][]string {
	t.Helper()
	out := env.RunKubectl(t, "get", "pods", "-o", "wide", "-n", namespace)
	rows := map[string][]string{}
	for i, line := range strings.Split(strings.TrimSpace(out), "\n") {
		f := strings.Fields(line)
		if i == 0 {
			want := []string{"NAME", "READY", "STATUS", "RESTARTS", "AGE", "IP", "NODE"}
			if len(f) < len(want) || !slices.Equal(f[:len(want)], want) {
				t.Fatalf("unexpected kubectl header %q", line)
			}
			continue
		}
		rows[f[0]] = f
	}
	return rows
}

// eventFor waits for an event of the given reason on a pod whose message
// contains every one of parts, and returns its message.
func eventFor(t *testing.T, env *framework.Env, namespace, pod, reason string, parts ...string) string {
	t.Helper()
	var msg string
	env.WaitFor(t, podsTimeout, fmt.Sprintf("%s event on %s mentioning %q", reason, pod, parts), func(ctx context.Context) (bool, error) {
		evs, err := env.Client.CoreV1().Events(namespace).List(ctx, metav1.ListOptions{
			FieldSelector: "involvedObject.name=" + pod + ",reason=" + reason,
		})
		if err != nil {
			return false, nil
		}
		for _, ev := range evs.Items {
			if !slices.ContainsFunc(parts, func(p string) bool { return !strings.Contains(ev.Message, p) }) {
				msg = ev.Message
				return true, nil
			}
		}
		return false, nil
	})
	return msg
}

// dialBetween listens inside one pod's namespace and connects from another's,
// returning the remote address the listener saw and the echoed payload.
func dialBetween(t *testing.T, fromNS, toNS, toIP string) (string, string) {
	t.Helper()
	var ln net.Listener
	err := ns.WithNetNSPath(toNS, func(ns.NetNS) error {
		var err error
		ln, err = net.Listen("tcp4", net.JoinHostPort(toIP, "7070"))
		return err
	})
	if err != nil {
		t.Fatalf("listen in %s: %v", toNS, err)
	}
	defer ln.Close()
	seen := make(chan string, 1)
	go func() {
		conn, err := ln.Accept()
		if err != nil {
			seen <- "accept: " + err.Error()
			return
		}
		defer conn.Close()
		seen <- conn.RemoteAddr().(*net.TCPAddr).IP.String()
		buf := make([]byte, 64)
		n, _ := conn.Read(buf)
		_, _ = conn.Write(buf[:n])
	}()
	var reply string
	err = ns.WithNetNSPath(fromNS, func(ns.NetNS) error {
		conn, err := net.DialTimeout("tcp4", net.JoinHostPort(toIP, "7070"), 10*time.Second)
		if err != nil {
			return err
		}
		defer conn.Close()
		_ = conn.SetDeadline(time.Now().Add(10 * time.Second))
		if _, err := conn.Write([]byte("ping over the underlay")); err != nil {
			return err
		}
		buf := make([]byte, 64)
		n, err := conn.Read(buf)
		reply = string(buf[:n])
		return err
	})
	if err != nil {
		t.Fatalf("connect from %s to %s: %v", fromNS, toIP, err)
	}
	return <-seen, reply
}
