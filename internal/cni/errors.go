package cni

import (
	"errors"

	"github.com/containernetworking/cni/pkg/types"

	"github.com/ipkeeper/ipkeeper/internal/agentapi"
)

// cniError translates an error of a call to the agent at socket into the
// CNI error the runtime sees:
//   - the agent could not be reached: code 11, try again later, naming the
//     socket, so the runtime retries and the operator knows where to look;
//   - the agent answered with an error: its code, message and details,
//     unchanged;
//   - a *types.Error already made here: itself;
//   - anything else: code 999 with the text.
func cniError(err error, socket string) error {
	if err == nil {
		return nil
	}
	var cniErr *types.Error
	if errors.As(err, &cniErr) {
		return cniErr
	}
	if errors.Is(err, agentapi.ErrUnreachable) {
		return types.NewError(types.ErrTryAgainLater, unreachableMsg(socket), err.Error())
	}
	var agentErr *agentapi.Error
	if errors.As(err, &agentErr) {
		code := types.ErrInternal
		if agentErr.Code > 0 {
			code = uint(agentErr.Code)
		}
		return &types.Error{Code: code, Msg: agentErr.Msg, Details: agentErr.Details}
	}
	return types.NewError(types.ErrInternal, err.Error(), "")
}

// statusError translates a failed readiness probe of the agent at socket:
// code 50, plugin not available, so the runtime reports the network as not
// ready instead of starting pods that cannot get an address.
func statusError(err error, socket string) error {
	if errors.Is(err, agentapi.ErrUnreachable) {
		return types.NewError(types.ErrPluginNotAvailable, unreachableMsg(socket), err.Error())
	}
	return types.NewError(types.ErrPluginNotAvailable, "ipkeeper agent at "+socket+" is not ready", err.Error())
}

func unreachableMsg(socket string) string {
	return "ipkeeper agent unreachable at " + socket
}
