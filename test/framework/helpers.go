package framework

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"testing"
	"time"

	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/util/wait"

	"github.com/ipkeeper/ipkeeper/test/localcluster"
	"github.com/ipkeeper/ipkeeper/test/localcluster/nodesim"
)

// Namespace creates a namespace for one test, waits until pods can be
// admitted in it (its default service account exists) and deletes it at the
// end of the test.
func (e *Env) Namespace(t testing.TB) string {
	t.Helper()
	ctx := t.Context()
	ns, err := e.Client.CoreV1().Namespaces().Create(ctx, &corev1.Namespace{
		ObjectMeta: metav1.ObjectMeta{GenerateName: "e2e-", Labels: map[string]string{"ipkeeper.io/test": "true"}},
	}, metav1.CreateOptions{})
	if err != nil {
		t.Fatalf("create namespace: %v", err)
	}
	t.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
		defer cancel()
		_ = e.Client.CoreV1().Namespaces().Delete(ctx, ns.Name, metav1.DeleteOptions{})
	})
	e.WaitFor(t, time.Minute, "default service account in "+ns.Name, func(ctx context.Context) (bool, error) {
		_, err := e.Client.CoreV1().ServiceAccounts(ns.Name).Get(ctx, "default", metav1.GetOptions{})
		return err == nil, nil
	})
	return ns.Name
}

// WaitFor polls cond every 200 ms until it holds, failing the test after
// timeout with what was awaited.
func (e *Env) WaitFor(t testing.TB, timeout time.Duration, what string, cond wait.ConditionWithContextFunc) {
	t.Helper()
	if err := wait.PollUntilContextTimeout(t.Context(), 200*time.Millisecond, timeout, true, cond); err != nil {
		t.Fatalf("waiting for %s: %v", what, err)
	}
}

// RunKubectl runs the cluster's kubectl with its kubeconfig and returns the
// standard output, failing the test on error.
func (e *Env) RunKubectl(t testing.TB, args ...string) string {
	t.Helper()
	cmd := exec.CommandContext(t.Context(), e.KubectlPath, append([]string{"--kubeconfig", e.Kubeconfig}, args...)...)
	out, err := cmd.Output()
	if err != nil {
		var stderr []byte
		if ee := (*exec.ExitError)(nil); errors.As(err, &ee) {
			stderr = ee.Stderr
		}
		t.Fatalf("kubectl %v: %v: %s", args, err, stderr)
	}
	return string(out)
}

// Sandbox returns the node simulator's record of a pod's sandbox (its
// network namespace path, container id and attachments).
func (e *Env) Sandbox(t testing.TB, pod *corev1.Pod) nodesim.Sandbox {
	t.Helper()
	n := e.Node(t, pod.Spec.NodeName)
	data, err := os.ReadFile(filepath.Join(n.SimDir(), string(pod.UID)+".json"))
	if err != nil {
		t.Fatalf("read sandbox of %s/%s: %v", pod.Namespace, pod.Name, err)
	}
	var sb nodesim.Sandbox
	if err := json.Unmarshal(data, &sb); err != nil {
		t.Fatalf("decode sandbox of %s/%s: %v", pod.Namespace, pod.Name, err)
	}
	return sb
}

// Node returns a simulated node of the local cluster by name.
func (e *Env) Node(t testing.TB, name string) localcluster.Node {
	t.Helper()
	if e.Cluster == nil {
		t.Fatalf("no local cluster state to look up node %s", name)
	}
	for _, n := range e.Cluster.Nodes() {
		if n.Name == name {
			return n
		}
	}
	t.Fatalf("no node %q in the local cluster", name)
	return localcluster.Node{}
}

// String names the cluster in test logs.
func (e *Env) String() string {
	if e.Cluster != nil {
		return fmt.Sprintf("local cluster %s (%d nodes)", e.Cluster.Prefix(), len(e.Nodes))
	}
	return fmt.Sprintf("cluster of %s", e.Kubeconfig)
}
