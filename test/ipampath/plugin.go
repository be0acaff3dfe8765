package ipampath

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"net/netip"
	"os/exec"
	"path/filepath"
	"strings"
	"time"

	"github.com/ipkeeper/ipkeeper/test/localcluster"
)

// CNIError is the error a plugin printed (CNI spec: code, msg, details).
type CNIError struct {
	Code    int    `json:"code"`
	Msg     string `json:"msg"`
	Details string `json:"details,omitempty"`
}

func (e *CNIError) Error() string {
	if e.Details != "" {
		return fmt.Sprintf("CNI error %d: %s: %s", e.Code, e.Msg, e.Details)
	}
	return fmt.Sprintf("CNI error %d: %s", e.Code, e.Msg)
}

// run executes the plugin once, as a runtime does: the node's network
// configuration on stdin, the CNI_* variables and nothing else in the
// environment. It returns stdout and the process's CPU time.
func (d *Driver) run(ctx context.Context, n node, pod *Pod, op string) ([]byte, time.Duration, error) {
	ctx, cancel := context.WithTimeout(ctx, d.cfg.CallTimeout)
	defer cancel()
	netns := n.NetNSPath
	if d.cfg.NetNS != nil {
		netns = d.cfg.NetNS(pod)
	}
	cniPath := d.cfg.CNIPath
	if cniPath == "" {
		cniPath = filepath.Dir(d.cfg.Plugin)
	}
	cmd := exec.CommandContext(ctx, d.cfg.Plugin)
	cmd.Env = []string{
		"CNI_COMMAND=" + op,
		"CNI_CONTAINERID=" + pod.ContainerID,
		"CNI_NETNS=" + netns,
		"CNI_IFNAME=" + d.cfg.IfName,
		"CNI_PATH=" + cniPath,
		"CNI_ARGS=IgnoreUnknown=1;K8S_POD_NAMESPACE=" + pod.Namespace + ";K8S_POD_NAME=" + pod.Name +
			";K8S_POD_INFRA_CONTAINER_ID=" + pod.ContainerID + ";K8S_POD_UID=" + string(pod.UID),
	}
	cmd.Stdin = bytes.NewReader(n.conf)
	var stdout, stderr bytes.Buffer
	cmd.Stdout, cmd.Stderr = &stdout, &stderr
	cmd.WaitDelay = time.Second // a child holding the pipes cannot hang the call
	err := cmd.Run()
	var cpu time.Duration
	if cmd.ProcessState != nil {
		cpu = cmd.ProcessState.UserTime() + cmd.ProcessState.SystemTime()
	}
	if err == nil {
		return stdout.Bytes(), cpu, nil
	}
	if ctx.Err() != nil {
		return nil, cpu, fmt.Errorf("plugin killed after %s: %w", d.cfg.CallTimeout, ctx.Err())
	}
	var cniErr CNIError
	if jerr := json.Unmarshal(stdout.Bytes(), &cniErr); jerr == nil && cniErr.Code != 0 {
		return nil, cpu, &cniErr
	}
	return nil, cpu, fmt.Errorf("plugin: %w: %s", err, strings.TrimSpace(stderr.String()+" "+stdout.String()))
}

// parseResult reads the addresses of a CNI result (spec 0.3.0 and later).
func parseResult(out []byte) ([]netip.Prefix, error) {
	var res struct {
		IPs []struct {
			Address string `json:"address"`
		} `json:"ips"`
	}
	if err := json.Unmarshal(out, &res); err != nil {
		return nil, fmt.Errorf("decode CNI result: %w", err)
	}
	out2 := make([]netip.Prefix, 0, len(res.IPs))
	for _, ip := range res.IPs {
		p, err := netip.ParsePrefix(ip.Address)
		if err != nil {
			return nil, fmt.Errorf("CNI result: %w", err)
		}
		out2 = append(out2, p)
	}
	return out2, nil
}

// SocketPath is where the agent of a simulated node listens, seen from the
// host: the node's /run/spidernet.
func SocketPath(n localcluster.Node) string {
	return filepath.Join(n.RunDir(), "spiderpool.sock")
}

// IpkeeperNetConf is the node's default network of IPAM=spiderpool as a
// runtime passes it to the IPAM plugin (macvlan's configuration), with the
// agent's socket as the host sees it.
func IpkeeperNetConf(n localcluster.Node) ([]byte, error) {
	return netConf(localcluster.IpkeeperNetworkName, map[string]any{
		"type": "spiderpool", "ipam_unix_socket_path": SocketPath(n),
	})
}

// HostLocalNetConf is the node's default network of IPAM=host-local (its own
// /24 of the underlay), its store in dataDir(n) instead of the host's
// /var/lib/cni.
func HostLocalNetConf(dataDir func(localcluster.Node) string) func(localcluster.Node) ([]byte, error) {
	return func(n localcluster.Node) ([]byte, error) {
		first := n.PodRange.Masked().Addr().Next()
		last := first
		for range 252 { // a /24: .1 … .254
			last = last.Next()
		}
		return netConf(localcluster.HostLocalNetworkName, map[string]any{
			"type": "host-local", "dataDir": dataDir(n),
			"ranges": [][]map[string]string{{{
				"subnet": "10.6.0.0/16", "rangeStart": first.String(), "rangeEnd": last.String(),
			}}},
		})
	}
}

func netConf(name string, ipam map[string]any) ([]byte, error) {
	data, err := json.Marshal(map[string]any{
		"cniVersion": "1.0.0", "name": name,
		"type": "macvlan", "master": localcluster.UnderlayInterface, "mode": "bridge",
		"ipam": ipam,
	})
	if err != nil {
		return nil, fmt.Errorf("encode network configuration: %w", err)
	}
	return data, nil
}
