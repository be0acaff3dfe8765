package cni

import (
	"errors"
	"fmt"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/containernetworking/cni/pkg/types"
	"github.com/google/go-cmp/cmp"

	"github.com/ipkeeper/ipkeeper/internal/agentapi"
)

func TestCNIError(t *testing.T) {
	socket := filepath.Join(t.TempDir(), "absent.sock")
	// A real client on a socket nobody listens on: the error the plugin
	// gets when the agent is down.
	_, unreachable := agentapi.NewClient(socket, time.Second).Add(t.Context(), &agentapi.AddRequest{})
	if !errors.Is(unreachable, agentapi.ErrUnreachable) {
		t.Fatalf("client error %v does not wrap ErrUnreachable", unreachable)
	}

	tests := []struct {
		name        string
		err         error
		want        *types.Error
		wantDetails string // substring of Details, checked instead of want.Details
	}{
		{
			name:        "agent unreachable: try again later, naming the socket",
			err:         unreachable,
			want:        &types.Error{Code: types.ErrTryAgainLater, Msg: "ipkeeper agent unreachable at " + socket},
			wantDetails: "no such file or directory",
		},
		{
			name: "agent error passed through",
			err:  fmt.Errorf("call agent: %w", &agentapi.Error{Code: agentapi.CodeAllocationFailed, Msg: "no free address", Details: "pool p1: 10 total, 10 in use"}),
			want: &types.Error{Code: agentapi.CodeAllocationFailed, Msg: "no free address", Details: "pool p1: 10 total, 10 in use"},
		},
		{
			name: "agent's try again later passed through",
			err:  &agentapi.Error{Code: agentapi.CodeTryAgainLater, Msg: "cache not synced"},
			want: &types.Error{Code: types.ErrTryAgainLater, Msg: "cache not synced"},
		},
		{
			name: "agent error without a code",
			err:  &agentapi.Error{Msg: "boom"},
			want: &types.Error{Code: types.ErrInternal, Msg: "boom"},
		},
		{
			name: "CNI error kept",
			err:  types.NewError(types.ErrInvalidEnvironmentVariables, "missing K8S_POD_NAME in CNI_ARGS", ""),
			want: &types.Error{Code: types.ErrInvalidEnvironmentVariables, Msg: "missing K8S_POD_NAME in CNI_ARGS"},
		},
		{
			name: "anything else: internal",
			err:  errors.New("decode agent answer: unexpected EOF"),
			want: &types.Error{Code: types.ErrInternal, Msg: "decode agent answer: unexpected EOF"},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got := asCNIError(t, cniError(tt.err, socket))
			if tt.wantDetails != "" {
				if !strings.Contains(got.Details, tt.wantDetails) {
					t.Errorf("details %q do not contain %q", got.Details, tt.wantDetails)
				}
				got.Details = ""
			}
			if diff := cmp.Diff(tt.want, got); diff != "" {
				t.Errorf("cniError() mismatch (-want +got):\n%s", diff)
			}
		})
	}
	if err := cniError(nil, socket); err != nil {
		t.Errorf("cniError(nil) = %v, want nil", err)
	}
}

func TestStatusError(t *testing.T) {
	const socket = "/run/ipkeeper/agent.sock"
	tests := []struct {
		name    string
		err     error
		wantMsg string
	}{
		{
			name:    "unreachable",
			err:     fmt.Errorf("%w at %s: connection refused", agentapi.ErrUnreachable, socket),
			wantMsg: "ipkeeper agent unreachable at " + socket,
		},
		{
			name:    "not ready",
			err:     errors.New("agent at " + socket + " is not ready: informers not synced"),
			wantMsg: "ipkeeper agent at " + socket + " is not ready",
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got := asCNIError(t, statusError(tt.err, socket))
			want := &types.Error{Code: types.ErrPluginNotAvailable, Msg: tt.wantMsg, Details: tt.err.Error()}
			if diff := cmp.Diff(want, got); diff != "" {
				t.Errorf("statusError() mismatch (-want +got):\n%s", diff)
			}
		})
	}
}

func asCNIError(t *testing.T, err error) *types.Error {
	t.Helper()
	var cniErr *types.Error
	if !errors.As(err, &cniErr) {
		t.Fatalf("error %v (%T) is not a *types.Error", err, err)
	}
	return cniErr
}
