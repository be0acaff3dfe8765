//go:build e2e

package realnodes

import (
	"context"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	"github.com/ipkeeper/ipkeeper/test/framework"
	"github.com/ipkeeper/ipkeeper/test/localcluster"
	"github.com/ipkeeper/ipkeeper/test/seedwalk"
)

// upgradeTag tags the images `helm upgrade` rolls to.
const upgradeTag = "e2e-upgrade"

// checkUpgrade: `helm upgrade` to images with a new tag rolls the agent
// DaemonSet and the controller; running pods keep their addresses and every
// claim stays; a pod started while helm upgrade runs gets an address (the
// test does not force it into the window where an agent is down).
func checkUpgrade(t *testing.T, env *framework.Env) {
	ns := env.Namespace(t)
	ctx := t.Context()
	before := map[string]string{}
	for _, node := range []string{"node1", "node2"} {
		p := startPod(t, env, ns, "steady-"+node, node, nil)
		before[p.Name] = p.Status.PodIP
	}
	claims := claimNames(t, env)

	root, err := localcluster.RepoRoot()
	if err != nil {
		t.Fatal(err)
	}
	images, err := localcluster.BuildImages(root, filepath.Join(env.Cluster.StateDir(), "bin-upgrade"), upgradeTag)
	if err != nil {
		t.Fatal(err)
	}
	if err := env.Cluster.ImportImages(ctx, images); err != nil {
		t.Fatal(err)
	}
	helm, err := localcluster.Helm(root)
	if err != nil {
		t.Fatal(err)
	}
	upgrade := exec.CommandContext(ctx, helm, "upgrade", "ipkeeper", filepath.Join(root, "charts", "ipkeeper"),
		"-n", "kube-system", "--kubeconfig", env.Kubeconfig, "--reuse-values", "--wait", "--timeout", "5m",
		"--set", "spiderpoolAgent.image.tag="+upgradeTag, "--set", "spiderpoolController.image.tag="+upgradeTag)
	upgrade.Env = append(upgrade.Environ(), "HELM_CACHE_HOME="+t.TempDir(), "HELM_CONFIG_HOME="+t.TempDir(), "HELM_DATA_HOME="+t.TempDir())
	done := make(chan error, 1)
	var out strings.Builder
	upgrade.Stdout, upgrade.Stderr = &out, &out
	if err := upgrade.Start(); err != nil {
		t.Fatal(err)
	}
	go func() { done <- upgrade.Wait() }()

	// Started while helm upgrade runs: an address, maybe after retries.
	during := startPod(t, env, ns, "during", "node1", nil)
	if err := <-done; err != nil {
		t.Fatalf("helm upgrade: %v: %s", err, out.String())
	}
	env.WaitFor(t, 2*time.Minute, "agents rolled to "+upgradeTag, func(ctx context.Context) (bool, error) {
		ds, err := env.Client.AppsV1().DaemonSets("kube-system").Get(ctx, "ipkeeper-agent", metav1.GetOptions{})
		if err != nil || !strings.HasSuffix(ds.Spec.Template.Spec.Containers[0].Image, ":"+upgradeTag) {
			return false, nil
		}
		return ds.Status.UpdatedNumberScheduled == 2 && ds.Status.NumberReady == 2, nil
	})
	// helm --wait takes a Deployment at maxUnavailable as ready: wait until
	// the new controller serves (its webhook gates every pool write).
	env.WaitFor(t, 2*time.Minute, "controller rolled to "+upgradeTag, func(ctx context.Context) (bool, error) {
		d, err := env.Client.AppsV1().Deployments("kube-system").Get(ctx, "ipkeeper-controller", metav1.GetOptions{})
		if err != nil || !strings.HasSuffix(d.Spec.Template.Spec.Containers[0].Image, ":"+upgradeTag) {
			return false, nil
		}
		return d.Status.ObservedGeneration == d.Generation && d.Status.UpdatedReplicas == 1 &&
			d.Status.AvailableReplicas == 1 && d.Status.Replicas == 1, nil
	})
	t.Logf("pod started while helm upgrade ran: %s", during.Status.PodIP)

	for name, ip := range before {
		p, err := env.Client.CoreV1().Pods(ns).Get(ctx, name, metav1.GetOptions{})
		if err != nil || p.Status.PodIP != ip {
			t.Errorf("%s: address %q after the upgrade, was %s (%v)", name, p.Status.PodIP, ip, err)
		}
	}
	after := claimNames(t, env)
	for c := range claims {
		if !after[c] {
			t.Errorf("claim %s gone after the upgrade", c)
		}
	}
}

// claimNames lists ipkeeper's address claims.
func claimNames(t *testing.T, env *framework.Env) map[string]bool {
	t.Helper()
	out, err := seedwalk.Kubectl(t.Context(), env, "", "get", "ipclaims", "-o", "name")
	if err != nil {
		t.Fatalf("list claims: %v: %s", err, out)
	}
	names := map[string]bool{}
	for _, n := range strings.Fields(out) {
		names[n] = true
	}
	return names
}
