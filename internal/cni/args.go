package cni

import (
	"fmt"
	"strings"

	"github.com/containernetworking/cni/pkg/types"

	"github.com/ipkeeper/ipkeeper/internal/agentapi"
)

// CNI_ARGS keys a Kubernetes runtime passes.
const (
	argPodNamespace = "K8S_POD_NAMESPACE"
	argPodName      = "K8S_POD_NAME"
	argPodUID       = "K8S_POD_UID"
	// K8S_POD_INFRA_CONTAINER_ID is accepted and not used: the agent keys
	// allocations on CNI_CONTAINERID, which is the same sandbox ID.
)

// ParsePodRef reads the pod's namespace, name and UID from CNI_ARGS
// ("K1=V1;K2=V2"). Keys it does not know are ignored, as with CNI's
// IgnoreUnknown. A missing namespace or name is an error (code 4, invalid
// environment variables) naming the key, unless optional is set: DEL releases
// by container ID and interface and must not fail only because a runtime left
// the pod out or passed a malformed pair (which optional skips).
func ParsePodRef(cniArgs string, optional bool) (agentapi.PodRef, error) {
	args, err := parseArgs(cniArgs, optional)
	if err != nil {
		return agentapi.PodRef{}, types.NewError(types.ErrInvalidEnvironmentVariables, "parse CNI_ARGS", err.Error())
	}
	pod := agentapi.PodRef{
		Namespace: args[argPodNamespace],
		Name:      args[argPodName],
		UID:       args[argPodUID],
	}
	if optional {
		return pod, nil
	}
	for _, key := range []string{argPodNamespace, argPodName} {
		if args[key] == "" {
			return agentapi.PodRef{}, types.NewError(types.ErrInvalidEnvironmentVariables,
				"missing "+key+" in CNI_ARGS", "the runtime must pass the pod's namespace and name")
		}
	}
	return pod, nil
}

// parseArgs splits "K1=V1;K2=V2" into a map. Empty pairs (a trailing ';')
// are skipped; a pair without '=' is an error, or skipped too when lenient.
func parseArgs(cniArgs string, lenient bool) (map[string]string, error) {
	args := map[string]string{}
	for pair := range strings.SplitSeq(cniArgs, ";") {
		if pair == "" {
			continue
		}
		key, value, ok := strings.Cut(pair, "=")
		if (!ok || key == "") && lenient {
			continue
		}
		if !ok || key == "" {
			return nil, fmt.Errorf("invalid pair %q, want KEY=VALUE", pair)
		}
		args[key] = value
	}
	return args, nil
}
