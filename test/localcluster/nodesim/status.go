package nodesim

import (
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"net"
	"strings"

	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
)

// NetworkStatus is one entry of the k8s.v1.cni.cncf.io/network-status
// annotation.
type NetworkStatus struct {
	Name      string          `json:"name"`
	Interface string          `json:"interface,omitempty"`
	IPs       []string        `json:"ips,omitempty"`
	Mac       string          `json:"mac,omitempty"`
	Default   bool            `json:"default,omitempty"`
	DNS       json.RawMessage `json:"dns"`
}

// interfaceView is what a CNI result says about one pod interface.
type interfaceView struct {
	IPs  []string // addresses without prefix length
	CIDR []string // addresses with prefix length
	Mac  string
	DNS  json.RawMessage
}

func viewOf(a Attachment) (interfaceView, error) {
	res, err := decodeResult(a.Result)
	if err != nil {
		return interfaceView{}, err
	}
	v := interfaceView{DNS: json.RawMessage(`{}`)}
	idx := -1
	for i, itf := range res.Interfaces {
		if itf.Sandbox != "" && itf.Name == a.IfName {
			idx, v.Mac = i, itf.Mac
		}
	}
	for _, ip := range res.IPs {
		if ip.Interface != nil && idx >= 0 && *ip.Interface != idx {
			continue
		}
		v.IPs = append(v.IPs, ip.Address.IP.String())
		v.CIDR = append(v.CIDR, ip.Address.String())
	}
	if dns := res.DNS; len(dns.Nameservers)+len(dns.Search)+len(dns.Options) > 0 || dns.Domain != "" {
		if data, err := json.Marshal(dns); err == nil {
			v.DNS = data
		}
	}
	return v, nil
}

// networkStatus renders the annotation value for a complete sandbox.
func networkStatus(sb *Sandbox) (string, error) {
	out := make([]NetworkStatus, 0, len(sb.Attachments))
	for _, a := range sb.Attachments {
		v, err := viewOf(a)
		if err != nil {
			return "", err
		}
		out = append(out, NetworkStatus{Name: a.Network, Interface: a.IfName, IPs: v.IPs, Mac: v.Mac, Default: a.Default, DNS: v.DNS})
	}
	data, err := json.MarshalIndent(out, "", "    ")
	if err != nil {
		return "", fmt.Errorf("encode network status: %w", err)
	}
	return string(data), nil
}

// podIPs returns the addresses of the default interface (eth0), IPv4 first.
func podIPs(sb *Sandbox) ([]string, error) {
	for _, a := range sb.Attachments {
		if !a.Default {
			continue
		}
		v, err := viewOf(a)
		if err != nil {
			return nil, err
		}
		var v4, v6 []string
		for _, ip := range v.IPs {
			if net.ParseIP(ip).To4() != nil {
				v4 = append(v4, ip)
			} else {
				v6 = append(v6, ip)
			}
		}
		return append(v4, v6...), nil
	}
	return nil, nil
}

// containerID is the id reported for one container of a sandbox.
func containerID(sb *Sandbox, name string) string {
	sum := sha256.Sum256([]byte(sb.ContainerID + "/" + name))
	return "nodesim://" + hex.EncodeToString(sum[:])
}

// runningStatus is the status the kubelet writes once every container runs.
func runningStatus(pod *corev1.Pod, sandboxID string, ips []string, hostIP string, now metav1.Time) corev1.PodStatus {
	st := *pod.Status.DeepCopy()
	st.Phase = corev1.PodRunning
	st.Reason, st.Message = "", ""
	setCommon(&st, pod, hostIP, now)
	st.PodIP, st.PodIPs = "", nil
	for _, ip := range ips {
		st.PodIPs = append(st.PodIPs, corev1.PodIP{IP: ip})
	}
	if len(ips) > 0 {
		st.PodIP = ips[0]
	}
	for _, t := range []corev1.PodConditionType{corev1.PodReadyToStartContainers, corev1.PodInitialized,
		corev1.ContainersReady, corev1.PodReady} {
		setCondition(&st, pod, corev1.PodCondition{Type: t, Status: corev1.ConditionTrue}, now)
	}
	st.InitContainerStatuses = initStatuses(pod, st.InitContainerStatuses, sandboxID, now)
	st.ContainerStatuses = runningStatuses(pod, st.ContainerStatuses, sandboxID, now)
	return st
}

// creatingStatus is the status of a pod whose sandbox could not be made.
func creatingStatus(pod *corev1.Pod, hostIP string, now metav1.Time) corev1.PodStatus {
	st := *pod.Status.DeepCopy()
	st.Phase = corev1.PodPending
	setCommon(&st, pod, hostIP, now)
	names := make([]string, 0, len(pod.Spec.Containers))
	st.ContainerStatuses = nil
	for _, c := range pod.Spec.Containers {
		names = append(names, c.Name)
		st.ContainerStatuses = append(st.ContainerStatuses, corev1.ContainerStatus{
			Name: c.Name, Image: c.Image,
			State: corev1.ContainerState{Waiting: &corev1.ContainerStateWaiting{Reason: "ContainerCreating"}},
		})
	}
	unready := fmt.Sprintf("containers with unready status: [%s]", strings.Join(names, " "))
	setCondition(&st, pod, corev1.PodCondition{Type: corev1.PodReadyToStartContainers, Status: corev1.ConditionFalse}, now)
	setCondition(&st, pod, corev1.PodCondition{Type: corev1.PodInitialized, Status: corev1.ConditionTrue}, now)
	for _, t := range []corev1.PodConditionType{corev1.ContainersReady, corev1.PodReady} {
		setCondition(&st, pod, corev1.PodCondition{Type: t, Status: corev1.ConditionFalse,
			Reason: "ContainersNotReady", Message: unready}, now)
	}
	return st
}

func setCommon(st *corev1.PodStatus, pod *corev1.Pod, hostIP string, now metav1.Time) {
	st.HostIP = hostIP
	st.HostIPs = []corev1.HostIP{{IP: hostIP}}
	st.ObservedGeneration = pod.Generation
	if st.StartTime == nil {
		st.StartTime = &now
	}
}

// setCondition sets one condition, keeping its transition time when its
// status does not change.
func setCondition(st *corev1.PodStatus, pod *corev1.Pod, c corev1.PodCondition, now metav1.Time) {
	c.ObservedGeneration = pod.Generation
	c.LastTransitionTime = now
	for i := range st.Conditions {
		if st.Conditions[i].Type != c.Type {
			continue
		}
		if st.Conditions[i].Status == c.Status {
			c.LastTransitionTime = st.Conditions[i].LastTransitionTime
		}
		st.Conditions[i] = c
		return
	}
	st.Conditions = append(st.Conditions, c)
}

func runningStatuses(pod *corev1.Pod, old []corev1.ContainerStatus, sandboxID string, now metav1.Time) []corev1.ContainerStatus {
	out := make([]corev1.ContainerStatus, 0, len(pod.Spec.Containers))
	started := true
	for _, c := range pod.Spec.Containers {
		id := containerID(&Sandbox{ContainerID: sandboxID}, c.Name)
		since := now
		for _, o := range old {
			if o.Name == c.Name && o.ContainerID == id && o.State.Running != nil {
				since = o.State.Running.StartedAt
			}
		}
		out = append(out, corev1.ContainerStatus{
			Name: c.Name, Image: c.Image, ImageID: c.Image, ContainerID: id,
			Ready: true, Started: &started,
			State: corev1.ContainerState{Running: &corev1.ContainerStateRunning{StartedAt: since}},
		})
	}
	return out
}

func initStatuses(pod *corev1.Pod, old []corev1.ContainerStatus, sandboxID string, now metav1.Time) []corev1.ContainerStatus {
	if len(pod.Spec.InitContainers) == 0 {
		return nil
	}
	out := make([]corev1.ContainerStatus, 0, len(pod.Spec.InitContainers))
	started := false
	for _, c := range pod.Spec.InitContainers {
		id := containerID(&Sandbox{ContainerID: sandboxID}, c.Name)
		done := now
		for _, o := range old {
			if o.Name == c.Name && o.ContainerID == id && o.State.Terminated != nil {
				done = o.State.Terminated.FinishedAt
			}
		}
		out = append(out, corev1.ContainerStatus{
			Name: c.Name, Image: c.Image, ImageID: c.Image, ContainerID: id,
			Ready: true, Started: &started,
			State: corev1.ContainerState{Terminated: &corev1.ContainerStateTerminated{
				ExitCode: 0, Reason: "Completed", StartedAt: done, FinishedAt: done, ContainerID: id}},
		})
	}
	return out
}
