package nodesim

import (
	"context"
	"fmt"
	"runtime"
	"time"

	"golang.org/x/sys/unix"
	coordinationv1 "k8s.io/api/coordination/v1"
	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	"k8s.io/apimachinery/pkg/api/resource"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/util/wait"
	"k8s.io/client-go/util/retry"
)

const (
	leaseNamespace      = "kube-node-lease"
	leaseDuration       = 40 // seconds, as the kubelet
	leaseRenewInterval  = 10 * time.Second
	statusReportEvery   = time.Minute
	simulatedNodeLabel  = "ipkeeper.io/simulated-node"
	kubeletVersionLabel = "v1.36.3-nodesim"
)

func (s *Simulator) nodeObject() *corev1.Node {
	return &corev1.Node{
		ObjectMeta: metav1.ObjectMeta{
			Name: s.cfg.Node,
			Labels: map[string]string{
				"kubernetes.io/hostname": s.cfg.Node, "kubernetes.io/os": "linux",
				"kubernetes.io/arch": runtime.GOARCH, "beta.kubernetes.io/os": "linux",
				"beta.kubernetes.io/arch": runtime.GOARCH, simulatedNodeLabel: "true",
			},
		},
	}
}

// nodeStatus is the status the kubelet reports for a healthy node.
func (s *Simulator) nodeStatus(old corev1.NodeStatus, now metav1.Time) corev1.NodeStatus {
	res := corev1.ResourceList{
		corev1.ResourceCPU:              resource.MustParse("16"),
		corev1.ResourceMemory:           resource.MustParse("64Gi"),
		corev1.ResourcePods:             resource.MustParse(fmt.Sprint(s.cfg.MaxPods)),
		corev1.ResourceEphemeralStorage: resource.MustParse("100Gi"),
	}
	st := corev1.NodeStatus{
		Capacity: res, Allocatable: res.DeepCopy(),
		Addresses: []corev1.NodeAddress{
			{Type: corev1.NodeInternalIP, Address: s.cfg.NodeIP},
			{Type: corev1.NodeHostName, Address: s.cfg.Node},
		},
		NodeInfo: corev1.NodeSystemInfo{
			KernelVersion: kernelVersion(), OSImage: "ipkeeper node simulator", OperatingSystem: "linux",
			Architecture: runtime.GOARCH, ContainerRuntimeVersion: "nodesim://1",
			KubeletVersion: kubeletVersionLabel,
		},
		Images: old.Images,
	}
	conds := []corev1.NodeCondition{
		{Type: corev1.NodeMemoryPressure, Status: corev1.ConditionFalse, Reason: "KubeletHasSufficientMemory"},
		{Type: corev1.NodeDiskPressure, Status: corev1.ConditionFalse, Reason: "KubeletHasNoDiskPressure"},
		{Type: corev1.NodePIDPressure, Status: corev1.ConditionFalse, Reason: "KubeletHasSufficientPID"},
		{Type: corev1.NodeReady, Status: corev1.ConditionTrue, Reason: "KubeletReady", Message: "kubelet is posting ready status"},
	}
	for _, c := range conds {
		c.LastHeartbeatTime, c.LastTransitionTime = now, now
		for _, o := range old.Conditions {
			if o.Type == c.Type && o.Status == c.Status {
				c.LastTransitionTime = o.LastTransitionTime
			}
		}
		st.Conditions = append(st.Conditions, c)
	}
	return st
}

func kernelVersion() string {
	var u unix.Utsname
	if err := unix.Uname(&u); err != nil {
		return "unknown"
	}
	return unix.ByteSliceToString(u.Release[:])
}

// registerNode creates the Node (or adopts an existing one) and reports it
// Ready, retrying until the API server answers.
func (s *Simulator) registerNode(ctx context.Context) error {
	return wait.PollUntilContextCancel(ctx, time.Second, true, func(ctx context.Context) (bool, error) {
		if err := s.ensureNode(ctx); err != nil {
			s.log.Error(err, "register node failed, retrying")
			return false, nil
		}
		return true, nil
	})
}

func (s *Simulator) ensureNode(ctx context.Context) error {
	nodes := s.cs.CoreV1().Nodes()
	node, err := nodes.Create(ctx, s.nodeObject(), metav1.CreateOptions{})
	if apierrors.IsAlreadyExists(err) {
		node, err = nodes.Get(ctx, s.cfg.Node, metav1.GetOptions{})
	}
	if err != nil {
		return fmt.Errorf("create node: %w", err)
	}
	s.nodeUID = node.UID
	return s.reportStatus(ctx)
}

// reportStatus writes the node's status, re-reading it on conflicts (the
// node lifecycle controller writes it too).
func (s *Simulator) reportStatus(ctx context.Context) error {
	return retry.RetryOnConflict(retry.DefaultRetry, func() error {
		node, err := s.cs.CoreV1().Nodes().Get(ctx, s.cfg.Node, metav1.GetOptions{})
		if err != nil {
			return fmt.Errorf("get node: %w", err)
		}
		node.Status = s.nodeStatus(node.Status, metav1.Now())
		if _, err := s.cs.CoreV1().Nodes().UpdateStatus(ctx, node, metav1.UpdateOptions{}); err != nil {
			return fmt.Errorf("update node status: %w", err)
		}
		return nil
	})
}

// heartbeat renews the node's Lease every 10 s and re-reports its status
// every minute, as the kubelet does; it returns when ctx ends.
func (s *Simulator) heartbeat(ctx context.Context) {
	lastStatus := time.Now()
	wait.UntilWithContext(ctx, func(ctx context.Context) {
		if err := s.renewLease(ctx); err != nil {
			s.log.Error(err, "renew lease failed")
		}
		if time.Since(lastStatus) >= statusReportEvery {
			err := s.reportStatus(ctx)
			if apierrors.IsNotFound(err) {
				err = s.ensureNode(ctx) // the Node was deleted: register again
			}
			if err != nil {
				s.log.Error(err, "report node status failed")
				return
			}
			lastStatus = time.Now()
		}
	}, leaseRenewInterval)
}

func (s *Simulator) renewLease(ctx context.Context) error {
	leases := s.cs.CoordinationV1().Leases(leaseNamespace)
	now := metav1.NewMicroTime(time.Now())
	lease, err := leases.Get(ctx, s.cfg.Node, metav1.GetOptions{})
	if apierrors.IsNotFound(err) {
		_, err = leases.Create(ctx, s.newLease(now), metav1.CreateOptions{})
		if err != nil {
			return fmt.Errorf("create lease: %w", err)
		}
		return nil
	}
	if err != nil {
		return fmt.Errorf("get lease: %w", err)
	}
	lease.Spec.RenewTime = &now
	lease.Spec.HolderIdentity = ptrTo(s.cfg.Node)
	lease.Spec.LeaseDurationSeconds = ptrTo[int32](leaseDuration)
	if _, err := leases.Update(ctx, lease, metav1.UpdateOptions{}); err != nil {
		return fmt.Errorf("update lease: %w", err)
	}
	return nil
}

func (s *Simulator) newLease(now metav1.MicroTime) *coordinationv1.Lease {
	return &coordinationv1.Lease{
		ObjectMeta: metav1.ObjectMeta{
			Name: s.cfg.Node, Namespace: leaseNamespace,
			OwnerReferences: []metav1.OwnerReference{{
				APIVersion: "v1", Kind: "Node", Name: s.cfg.Node, UID: s.nodeUID,
			}},
		},
		Spec: coordinationv1.LeaseSpec{
			HolderIdentity: ptrTo(s.cfg.Node), LeaseDurationSeconds: ptrTo[int32](leaseDuration), RenewTime: &now,
		},
	}
}

func ptrTo[T any](v T) *T { return &v }
