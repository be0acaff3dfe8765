package cni

import (
	"errors"
	"strings"
	"testing"

	"github.com/containernetworking/cni/pkg/types"
	"github.com/google/go-cmp/cmp"

	"github.com/ipkeeper/ipkeeper/internal/agentapi"
)

func TestParsePodRef(t *testing.T) {
	tests := []struct {
		name     string
		args     string
		optional bool
		want     agentapi.PodRef
		wantErr  string // substring of the error's message; empty: success
	}{
		{
			name: "kubelet's args",
			args: "IgnoreUnknown=1;K8S_POD_NAMESPACE=default;K8S_POD_NAME=web-0;K8S_POD_INFRA_CONTAINER_ID=abc;K8S_POD_UID=1234",
			want: agentapi.PodRef{Namespace: "default", Name: "web-0", UID: "1234"},
		},
		{
			name: "no UID, unknown keys, trailing separator",
			args: "K8S_POD_NAMESPACE=ns;FOO=bar;K8S_POD_NAME=p;",
			want: agentapi.PodRef{Namespace: "ns", Name: "p"},
		},
		{name: "no namespace", args: "K8S_POD_NAME=p", wantErr: "missing K8S_POD_NAMESPACE"},
		{name: "empty name", args: "K8S_POD_NAMESPACE=ns;K8S_POD_NAME=", wantErr: "missing K8S_POD_NAME"},
		{name: "no args at all", args: "", wantErr: "missing K8S_POD_NAMESPACE"},
		{name: "optional, none given", args: "", optional: true, want: agentapi.PodRef{}},
		{
			name:     "optional, given",
			args:     "K8S_POD_NAMESPACE=ns;K8S_POD_NAME=p",
			optional: true,
			want:     agentapi.PodRef{Namespace: "ns", Name: "p"},
		},
		{name: "pair without value separator", args: "K8S_POD_NAMESPACE", wantErr: "parse CNI_ARGS"},
		// DEL must be able to tear a sandbox down whatever else CNI_ARGS holds.
		{name: "optional skips malformed pairs", args: "=x;K8S_POD_NAMESPACE=ns;garbage;K8S_POD_NAME=p", optional: true,
			want: agentapi.PodRef{Namespace: "ns", Name: "p"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := ParsePodRef(tt.args, tt.optional)
			if tt.wantErr != "" {
				var cniErr *types.Error
				if !errors.As(err, &cniErr) || cniErr.Code != types.ErrInvalidEnvironmentVariables ||
					!strings.Contains(cniErr.Msg, tt.wantErr) {
					t.Fatalf("ParsePodRef() error = %#v, want code 4 and %q", err, tt.wantErr)
				}
				return
			}
			if err != nil {
				t.Fatalf("ParsePodRef() error = %v", err)
			}
			if diff := cmp.Diff(tt.want, got); diff != "" {
				t.Errorf("ParsePodRef() mismatch (-want +got):\n%s", diff)
			}
		})
	}
}
