package nodesim

import (
	"context"
	"errors"
	"fmt"
	"path/filepath"
	"time"

	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	"k8s.io/client-go/tools/cache"

	"github.com/ipkeeper/ipkeeper/test/localcluster/nsmount"
)

// errPodGone reports that a pod was deleted or replaced during its setup.
var errPodGone = errors.New("pod went away during sandbox setup")

// reconcile brings the sandboxes of one pod name in line with the API: it
// tears down sandboxes of pods that are gone or replaced, completes
// deletions, and creates the sandbox of a new pod and reports it Running.
func (s *Simulator) reconcile(ctx context.Context, key string) error {
	namespace, name, err := cache.SplitMetaNamespaceKey(key)
	if err != nil {
		return fmt.Errorf("split key %q: %w", key, err)
	}
	pod, err := s.pods.Pods(namespace).Get(name)
	if apierrors.IsNotFound(err) {
		pod = nil
	} else if err != nil {
		return fmt.Errorf("get pod from cache: %w", err)
	}
	for _, sb := range s.store.byKey(key) {
		if pod == nil || sb.UID != pod.UID {
			if err := s.teardown(ctx, sb); err != nil {
				return err
			}
		}
	}
	switch {
	case pod == nil:
		return nil
	case pod.DeletionTimestamp != nil:
		return s.finishDeletion(ctx, pod)
	case pod.Status.Phase == corev1.PodSucceeded || pod.Status.Phase == corev1.PodFailed:
		return s.teardownPod(ctx, pod)
	case pod.Spec.HostNetwork:
		return s.reportRunning(ctx, pod, &Sandbox{ContainerID: string(pod.UID)}, []string{s.cfg.NodeIP})
	}
	return s.ensureSandbox(ctx, pod)
}

func (s *Simulator) ensureSandbox(ctx context.Context, pod *corev1.Pod) error {
	sb := s.store.get(pod.UID)
	if sb != nil && sb.Complete && nsmount.Exists(sb.NetNS) {
		return s.reportSandbox(ctx, pod, sb) // adopted after a restart, or already reported
	}
	if sb != nil { // half made by a previous run, or its namespace vanished
		if err := s.teardown(ctx, sb); err != nil {
			return err
		}
	}
	start := time.Now()
	sb, err := s.setUp(ctx, pod)
	if errors.Is(err, errPodGone) {
		return nil // the event that removed it has queued the key again
	}
	if err != nil {
		s.reportFailure(ctx, pod, err)
		return err
	}
	s.log.Info("sandbox ready", "pod", sb.Key(), "netns", sb.NetNS, "took", time.Since(start).String())
	return s.reportSandbox(ctx, pod, sb)
}

// setUp makes the pod's namespace and attaches every network in order. On
// failure it undoes what it made (CNI DEL in reverse, namespace removal).
func (s *Simulator) setUp(ctx context.Context, pod *corev1.Pod) (*Sandbox, error) {
	nets, err := s.resolver.networks(ctx, pod)
	if err != nil {
		return nil, err
	}
	cid, err := newContainerID()
	if err != nil {
		return nil, err
	}
	name := netnsName(s.cfg.NetNSPrefix, cid)
	sb := &Sandbox{Namespace: pod.Namespace, Name: pod.Name, UID: pod.UID, ContainerID: cid,
		NetNS: filepath.Join(s.cfg.NetNSDir, name), Created: time.Now().UTC()}
	if err := s.store.put(sb); err != nil { // recorded before anything exists
		return nil, err
	}
	if _, err := nsmount.Create(s.cfg.NetNSDir, name); err != nil {
		return nil, errors.Join(err, s.store.remove(sb.UID))
	}
	for _, n := range nets {
		if err := s.attach(ctx, pod, sb, n); err != nil {
			if terr := s.teardown(ctx, sb); terr != nil {
				s.log.Error(terr, "cleanup after failed setup failed", "pod", sb.Key())
			}
			return nil, err
		}
	}
	sb.Complete = true
	return sb, s.store.put(sb)
}

func (s *Simulator) attach(ctx context.Context, pod *corev1.Pod, sb *Sandbox, n network) error {
	if !s.stillWanted(pod) {
		return errPodGone
	}
	sb.Attachments = append(sb.Attachments, Attachment{Network: n.Name, IfName: n.IfName, Default: n.Default, ConfList: n.ConfList})
	if err := s.store.put(sb); err != nil { // so that a crash during ADD still gets its DEL
		return err
	}
	res, err := s.cni.add(ctx, sb, sb.Attachments[len(sb.Attachments)-1])
	if err != nil {
		return err
	}
	a := &sb.Attachments[len(sb.Attachments)-1]
	a.Result = res
	if v, err := viewOf(*a); err == nil {
		s.recorder.Eventf(pod, corev1.EventTypeNormal, "AddedInterface", "Add %s %v from %s", a.IfName, v.CIDR, a.Network)
	}
	return s.store.put(sb)
}

// stillWanted reports whether the cache still holds this incarnation of the
// pod, not being deleted.
func (s *Simulator) stillWanted(pod *corev1.Pod) bool {
	cur, err := s.pods.Pods(pod.Namespace).Get(pod.Name)
	return err == nil && cur.UID == pod.UID && cur.DeletionTimestamp == nil
}

// teardown runs CNI DEL for every attachment in reverse order, then removes
// the namespace and the record. On a DEL failure it keeps both for a retry.
func (s *Simulator) teardown(ctx context.Context, sb *Sandbox) error {
	var errs []error
	for i := len(sb.Attachments) - 1; i >= 0; i-- {
		a := sb.Attachments[i]
		if err := s.cni.del(ctx, sb, a); err != nil {
			errs = append(errs, fmt.Errorf("%s: %w", a.IfName, err))
		}
	}
	if len(errs) > 0 {
		return fmt.Errorf("tear down sandbox of %s: %w", sb.Key(), errors.Join(errs...))
	}
	if err := nsmount.Remove(sb.NetNS); err != nil {
		return err
	}
	if err := s.store.remove(sb.UID); err != nil {
		return err
	}
	s.log.Info("sandbox removed", "pod", sb.Key(), "uid", sb.UID)
	return nil
}

func (s *Simulator) teardownPod(ctx context.Context, pod *corev1.Pod) error {
	if sb := s.store.get(pod.UID); sb != nil {
		return s.teardown(ctx, sb)
	}
	return nil
}

// reportSandbox writes the network-status annotation and the Running status.
func (s *Simulator) reportSandbox(ctx context.Context, pod *corev1.Pod, sb *Sandbox) error {
	ips, err := podIPs(sb)
	if err != nil {
		return err
	}
	status, err := networkStatus(sb)
	if err != nil {
		return err
	}
	if err := s.annotate(ctx, pod, status); err != nil {
		return err
	}
	return s.reportRunning(ctx, pod, sb, ips)
}

// reportFailure tells the user why the sandbox could not be made, as the
// kubelet does: a Warning event and a Pending pod whose containers wait in
// ContainerCreating.
func (s *Simulator) reportFailure(ctx context.Context, pod *corev1.Pod, cause error) {
	s.recorder.Event(pod, corev1.EventTypeWarning, "FailedCreatePodSandBox", "Failed to create pod sandbox: "+cause.Error())
	err := s.writeStatus(ctx, pod, func(p *corev1.Pod) corev1.PodStatus {
		return creatingStatus(p, s.cfg.NodeIP, nowTime())
	})
	if err != nil {
		s.log.Error(err, "report pending status failed", "pod", pod.Namespace+"/"+pod.Name)
	}
}
