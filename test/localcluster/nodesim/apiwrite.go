package nodesim

import (
	"context"
	"encoding/json"
	"fmt"
	"time"

	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/api/equality"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/types"
)

const statusAttempts = 5

func nowTime() metav1.Time { return metav1.NewTime(time.Now().Truncate(time.Second)) }

func (s *Simulator) reportRunning(ctx context.Context, pod *corev1.Pod, sb *Sandbox, ips []string) error {
	return s.writeStatus(ctx, pod, func(p *corev1.Pod) corev1.PodStatus {
		return runningStatus(p, sb.ContainerID, ips, s.cfg.NodeIP, nowTime())
	})
}

// writeStatus updates the pod's status to build(pod) unless it already is,
// re-reading the pod on conflicts. A pod that is gone or was replaced by a
// new incarnation is left alone.
func (s *Simulator) writeStatus(ctx context.Context, pod *corev1.Pod, build func(*corev1.Pod) corev1.PodStatus) error {
	pods := s.cs.CoreV1().Pods(pod.Namespace)
	cur := pod
	for range statusAttempts {
		want := build(cur)
		if equality.Semantic.DeepEqual(cur.Status, want) {
			return nil
		}
		upd := cur.DeepCopy()
		upd.Status = want
		_, err := pods.UpdateStatus(ctx, upd, metav1.UpdateOptions{})
		if err == nil || apierrors.IsNotFound(err) {
			return nil
		}
		if !apierrors.IsConflict(err) {
			return fmt.Errorf("update status of %s/%s: %w", pod.Namespace, pod.Name, err)
		}
		cur, err = pods.Get(ctx, pod.Name, metav1.GetOptions{})
		if apierrors.IsNotFound(err) || err == nil && cur.UID != pod.UID {
			return nil
		}
		if err != nil {
			return fmt.Errorf("get pod %s/%s: %w", pod.Namespace, pod.Name, err)
		}
	}
	return fmt.Errorf("update status of %s/%s: too many conflicts", pod.Namespace, pod.Name)
}

// annotate sets the network-status annotation with a merge patch that names
// the pod's UID, so it cannot land on a new pod of the same name.
func (s *Simulator) annotate(ctx context.Context, pod *corev1.Pod, value string) error {
	if pod.Annotations[AnnotationNetworkStatus] == value {
		return nil
	}
	patch, err := json.Marshal(map[string]any{"metadata": map[string]any{
		"uid":         pod.UID,
		"annotations": map[string]string{AnnotationNetworkStatus: value},
	}})
	if err != nil {
		return fmt.Errorf("encode annotation patch: %w", err)
	}
	_, err = s.cs.CoreV1().Pods(pod.Namespace).Patch(ctx, pod.Name, types.MergePatchType, patch, metav1.PatchOptions{})
	if apierrors.IsNotFound(err) || apierrors.IsConflict(err) {
		return nil
	}
	if err != nil {
		return fmt.Errorf("annotate %s/%s: %w", pod.Namespace, pod.Name, err)
	}
	return nil
}

// finishDeletion tears the sandbox down and then removes the pod object with
// grace period 0 and a UID precondition, as the kubelet does once the
// containers have stopped. Nothing here waits for the grace period: the
// simulated containers stop at once.
func (s *Simulator) finishDeletion(ctx context.Context, pod *corev1.Pod) error {
	if err := s.teardownPod(ctx, pod); err != nil {
		return err
	}
	uid := pod.UID
	err := s.cs.CoreV1().Pods(pod.Namespace).Delete(ctx, pod.Name, metav1.DeleteOptions{
		GracePeriodSeconds: ptrTo[int64](0),
		Preconditions:      &metav1.Preconditions{UID: &uid},
	})
	if err != nil && !apierrors.IsNotFound(err) && !apierrors.IsConflict(err) {
		return fmt.Errorf("delete pod %s/%s: %w", pod.Namespace, pod.Name, err)
	}
	return nil
}
