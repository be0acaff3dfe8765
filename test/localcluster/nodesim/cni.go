package nodesim

import (
	"context"
	"encoding/json"
	"fmt"
	"os"

	"github.com/containernetworking/cni/libcni"
	"github.com/containernetworking/cni/pkg/invoke"
	cnitypes "github.com/containernetworking/cni/pkg/types"
	types100 "github.com/containernetworking/cni/pkg/types/100"
	"github.com/containernetworking/cni/pkg/version"
	"github.com/containernetworking/plugins/pkg/ns"
)

// nodeExec runs CNI plugins with the node's network namespace as their host
// side: the plugin is forked from an OS thread locked into that namespace
// (ns.Do), so it starts there, while the simulator itself stays in the root
// namespace. Plugins inherit the simulator's private mount namespace, hence
// the node's /etc/cni/net.d, /run/spidernet and /var/lib/cni.
type nodeExec struct {
	raw  *invoke.DefaultExec
	node ns.NetNS
}

func (e *nodeExec) ExecPlugin(ctx context.Context, path string, stdin []byte, env []string) ([]byte, error) {
	var out []byte
	err := e.node.Do(func(ns.NetNS) error {
		var err error
		out, err = e.raw.ExecPlugin(ctx, path, stdin, env)
		return err
	})
	return out, err
}

func (e *nodeExec) FindInPath(plugin string, paths []string) (string, error) {
	return e.raw.FindInPath(plugin, paths)
}

func (e *nodeExec) Decode(data []byte) (version.PluginInfo, error) { return e.raw.Decode(data) }

// cniRunner runs the ADD and DEL of one attachment through libcni, with the
// result cache in the node's /var/lib/cni so that DEL receives prevResult.
type cniRunner struct {
	cni *libcni.CNIConfig
}

func newCNIRunner(binDirs []string, cacheDir string, node ns.NetNS) *cniRunner {
	exec := &nodeExec{raw: &invoke.DefaultExec{RawExec: &invoke.RawExec{Stderr: os.Stderr}}, node: node}
	return &cniRunner{cni: libcni.NewCNIConfigWithCacheDir(binDirs, cacheDir, exec)}
}

func runtimeConf(sb *Sandbox, ifName string) *libcni.RuntimeConf {
	return &libcni.RuntimeConf{
		ContainerID: sb.ContainerID,
		NetNS:       sb.NetNS,
		IfName:      ifName,
		Args: [][2]string{
			{"IgnoreUnknown", "1"},
			{"K8S_POD_NAMESPACE", sb.Namespace},
			{"K8S_POD_NAME", sb.Name},
			{"K8S_POD_INFRA_CONTAINER_ID", sb.ContainerID},
			{"K8S_POD_UID", string(sb.UID)},
		},
	}
}

// add runs ADD and returns the result converted to spec 1.0.0, as JSON.
func (r *cniRunner) add(ctx context.Context, sb *Sandbox, a Attachment) (json.RawMessage, error) {
	list, err := libcni.NetworkConfFromBytes(a.ConfList)
	if err != nil {
		return nil, fmt.Errorf("network %s: %w", a.Network, err)
	}
	res, err := r.cni.AddNetworkList(ctx, list, runtimeConf(sb, a.IfName))
	if err != nil {
		return nil, err
	}
	return encodeResult(res)
}

func (r *cniRunner) del(ctx context.Context, sb *Sandbox, a Attachment) error {
	list, err := libcni.NetworkConfFromBytes(a.ConfList)
	if err != nil {
		return fmt.Errorf("network %s: %w", a.Network, err)
	}
	return r.cni.DelNetworkList(ctx, list, runtimeConf(sb, a.IfName))
}

func encodeResult(res cnitypes.Result) (json.RawMessage, error) {
	cur, err := types100.NewResultFromResult(res)
	if err != nil {
		return nil, fmt.Errorf("convert CNI result: %w", err)
	}
	data, err := json.Marshal(cur)
	if err != nil {
		return nil, fmt.Errorf("encode CNI result: %w", err)
	}
	return data, nil
}

// decodeResult reads a stored spec 1.0.0 result.
func decodeResult(data json.RawMessage) (*types100.Result, error) {
	var res types100.Result
	if err := json.Unmarshal(data, &res); err != nil {
		return nil, fmt.Errorf("decode CNI result: %w", err)
	}
	return &res, nil
}
