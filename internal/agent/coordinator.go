package agent

import (
	"context"
	"fmt"
	"net/http"

	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/utils/ptr"
	"sigs.k8s.io/controller-runtime/pkg/client"

	"github.com/ipkeeper/ipkeeper/api/v2beta1"
	"github.com/ipkeeper/ipkeeper/internal/agentapi"
	"github.com/ipkeeper/ipkeeper/internal/spiderpool"
)

// The coordinator plugin's configuration: the cluster's SpiderCoordinator
// and the pod's default-route-nic annotation, from the agent's cache.
//
// +kubebuilder:rbac:groups=spiderpool.spidernet.io,resources=spidercoordinators,verbs=get;list;watch

// Coordinators answers the coordinator plugin from a cache.
type Coordinators struct {
	Reader client.Reader
}

// Coordinator returns the configuration for pod; a missing pod only leaves
// the annotation out, since the plugin may run before the cache sees it.
func (c Coordinators) Coordinator(ctx context.Context, pod agentapi.PodRef) (*agentapi.CoordinatorResponse, error) {
	var scc v2beta1.SpiderCoordinator
	err := c.Reader.Get(ctx, client.ObjectKey{Name: v2beta1.CoordinatorName}, &scc)
	if apierrors.IsNotFound(err) {
		return &agentapi.CoordinatorResponse{}, nil
	}
	if err != nil {
		return nil, fmt.Errorf("get SpiderCoordinator %s: %w", v2beta1.CoordinatorName, err)
	}
	resp := coordinatorResponse(&scc)
	meta := &metav1.PartialObjectMetadata{}
	meta.SetGroupVersionKind(corev1.SchemeGroupVersion.WithKind("Pod"))
	err = c.Reader.Get(ctx, client.ObjectKey{Namespace: pod.Namespace, Name: pod.Name}, meta)
	switch {
	case err == nil:
		resp.DefaultRouteNIC = meta.Annotations[spiderpool.AnnoDefaultRouteNIC]
	case !apierrors.IsNotFound(err):
		return nil, fmt.Errorf("get pod %s/%s: %w", pod.Namespace, pod.Name, err)
	}
	return resp, nil
}

// coordinatorResponse is the wire form of a SpiderCoordinator.
func coordinatorResponse(scc *v2beta1.SpiderCoordinator) *agentapi.CoordinatorResponse {
	s := &scc.Spec
	return &agentapi.CoordinatorResponse{
		Found: true, Phase: scc.Status.Phase, Mode: ptr.Deref(s.Mode, ""),
		ServiceCIDR: scc.Status.ServiceCIDR, PodCIDR: scc.Status.OverlayPodCIDR,
		HijackCIDR: s.HijackCIDR, PodMACPrefix: ptr.Deref(s.PodMACPrefix, ""), TunePodRoutes: s.TunePodRoutes,
		PodDefaultRouteNIC: ptr.Deref(s.PodDefaultRouteNIC, ""), HostRuleTable: s.HostRuleTable,
		PodRPFilter: s.PodRPFilter, VethLinkAddress: ptr.Deref(s.VethLinkAddress, ""),
	}
}

func (s *Server) handleCoordinator(w http.ResponseWriter, r *http.Request) {
	var req agentapi.CoordinatorRequest
	validate := func() error {
		if req.Pod.Namespace == "" || req.Pod.Name == "" {
			return fmt.Errorf("pod %q/%q: want K8S_POD_NAMESPACE and K8S_POD_NAME in CNI_ARGS", req.Pod.Namespace, req.Pod.Name)
		}
		return nil
	}
	s.serve(w, r, "coordinator", &req, validate, func(ctx context.Context) (any, error) {
		return s.Coordinator.Coordinator(ctx, req.Pod)
	})
}
