package localcluster

import (
	"context"
	"fmt"
	"net/http"
	"strings"
	"syscall"
	"time"

	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/util/wait"
	"k8s.io/client-go/kubernetes"
)

// Faults for the chaos run: a process killed outright and started again with
// the same argv, and a node that stops reporting until it is NotReady.

// Names of the control plane's processes.
const (
	EtcdProcess      = "etcd"
	APIServerProcess = "kube-apiserver"
)

// KillProcess sends SIGKILL to the named process, as a crash or an OOM kill
// would, and waits until it is gone. Its pid file stays, so that
// RestartProcess can start it again; it returns what the file records.
func (c *Cluster) KillProcess(ctx context.Context, name string) (ProcessInfo, error) {
	p, ok := c.info(name)
	if !ok {
		return ProcessInfo{}, fmt.Errorf("no process named %q", name)
	}
	if p.Alive() {
		if err := syscall.Kill(p.PID, syscall.SIGKILL); err != nil {
			return p, fmt.Errorf("kill %s (pid %d): %w", name, p.PID, err)
		}
		if !waitGone(ctx, p, stopGrace) {
			return p, fmt.Errorf("process %s (pid %d) did not exit after SIGKILL", name, p.PID)
		}
	}
	return p, nil
}

// RestartProcess starts a process that was killed (or has exited) again,
// with the argv, environment and namespaces it was first started with, and
// records its new pid. It refuses a process that still runs.
func (c *Cluster) RestartProcess(_ context.Context, name string) error {
	p, ok := c.info(name)
	if !ok {
		return fmt.Errorf("no process named %q", name)
	}
	if p.Alive() {
		return fmt.Errorf("process %s (pid %d) still runs", name, p.PID)
	}
	_, err := c.spawn(Process{Name: p.Name, Argv: p.Argv, Env: p.Env}, p.Tier, p.Cloneflags)
	return err
}

// ProcessAlive reports whether the named process runs.
func (c *Cluster) ProcessAlive(name string) bool {
	p, ok := c.info(name)
	return ok && p.Alive()
}

// WaitEtcdHealthy polls etcd's /health until it answers healthy.
func (c *Cluster) WaitEtcdHealthy(ctx context.Context) error {
	url := fmt.Sprintf("http://127.0.0.1:%d/health", c.st.EtcdPort)
	return c.waitFor(ctx, c.mustInfo(EtcdProcess), func(ctx context.Context) (bool, error) {
		body, err := httpGet(ctx, http.DefaultClient, url)
		return err == nil && strings.Contains(body, `"health":"true"`), nil
	})
}

// WaitAPIServerReady polls the API server's /readyz until it answers ok.
func (c *Cluster) WaitAPIServerReady(ctx context.Context) error {
	cs, err := c.Clientset()
	if err != nil {
		return err
	}
	return c.waitFor(ctx, c.mustInfo(APIServerProcess), func(ctx context.Context) (bool, error) {
		body, err := cs.Discovery().RESTClient().Get().AbsPath("/readyz").DoRaw(ctx)
		return err == nil && string(body) == "ok", nil
	})
}

// MakeNodeNotReady kills a simulated node's simulator (its kubelet dies;
// its pods' sandboxes stay) and waits, up to limit, until the node
// controller marks the node NotReady once its lease expires. Its agent and
// other processes keep running. StartNode brings it back.
func (c *Cluster) MakeNodeNotReady(ctx context.Context, node string, limit time.Duration) error {
	if _, ok := c.node(node); !ok {
		return fmt.Errorf("no node %q", node)
	}
	if _, err := c.KillProcess(ctx, NodesimProcessName(node)); err != nil {
		return err
	}
	return c.waitNode(ctx, node, limit, false)
}

// StartNode starts a node's simulator again after MakeNodeNotReady and waits,
// up to limit, until the node is Ready.
func (c *Cluster) StartNode(ctx context.Context, node string, limit time.Duration) error {
	if err := c.RestartProcess(ctx, NodesimProcessName(node)); err != nil {
		return err
	}
	return c.waitNode(ctx, node, limit, true)
}

func (c *Cluster) waitNode(ctx context.Context, node string, limit time.Duration, ready bool) error {
	cs, err := c.Clientset()
	if err != nil {
		return err
	}
	return waitNodeReady(ctx, cs, node, limit, ready)
}

func waitNodeReady(ctx context.Context, cs kubernetes.Interface, node string, limit time.Duration, ready bool) error {
	err := wait.PollUntilContextTimeout(ctx, 250*time.Millisecond, limit, true, func(ctx context.Context) (bool, error) {
		n, err := cs.CoreV1().Nodes().Get(ctx, node, metav1.GetOptions{})
		return err == nil && NodeReady(n) == ready, nil
	})
	if err != nil {
		return fmt.Errorf("wait for node %s ready=%t: %w", node, ready, err)
	}
	return nil
}

// info returns the recorded pid file of name.
func (c *Cluster) info(name string) (ProcessInfo, bool) {
	p := c.mustInfo(name)
	return p, p.PID != 0
}
