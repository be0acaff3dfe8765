//go:build e2e

package realnodes

import (
	"context"
	"encoding/json"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	appsv1 "k8s.io/api/apps/v1"
	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/utils/ptr"

	"github.com/ipkeeper/ipkeeper/test/framework"
	"github.com/ipkeeper/ipkeeper/test/localcluster"
	"github.com/ipkeeper/ipkeeper/test/seedwalk"
)

// claim is the part of an IPClaim the tests read.
type claim struct {
	Metadata struct {
		Name string `json:"name"`
	} `json:"metadata"`
	Spec struct {
		Address string `json:"address"`
		Node    string `json:"node"`
		Holder  struct {
			Namespace string `json:"namespace"`
			Name      string `json:"name"`
			UID       string `json:"uid"`
		} `json:"holder"`
	} `json:"spec"`
}

func listClaims(ctx context.Context, env *framework.Env) ([]claim, error) {
	out, err := exec.CommandContext(ctx, env.KubectlPath, "--kubeconfig", env.Kubeconfig, "get", "ipclaims", "-o", "json").Output()
	if err != nil {
		return nil, err
	}
	var list struct {
		Items []claim `json:"items"`
	}
	if err := json.Unmarshal(out, &list); err != nil {
		return nil, err
	}
	return list.Items, nil
}

// checkAgentDeletedDuringPodStarts: six pods start while node1's agent pod
// is deleted (the DaemonSet starts a new one). Every pod ends Running with
// an address, no address is held twice, and every claim's holder is a live
// pod of that UID.
func checkAgentDeletedDuringPodStarts(t *testing.T, env *framework.Env) {
	ns := env.Namespace(t)
	ctx := t.Context()
	ds, err := env.Client.AppsV1().DaemonSets("kube-system").Get(ctx, "ipkeeper-agent", metav1.GetOptions{})
	if err != nil {
		t.Fatal(err)
	}
	selector := metav1.FormatLabelSelector(ds.Spec.Selector)
	agents, err := env.Client.CoreV1().Pods("kube-system").List(ctx, metav1.ListOptions{LabelSelector: selector, FieldSelector: "spec.nodeName=node1"})
	if err != nil || len(agents.Items) != 1 {
		t.Fatalf("node1's agent pod: %v, %d pods", err, len(agents.Items))
	}
	const n = 6
	labels := map[string]string{"app": "churn"}
	deploy := &appsv1.Deployment{
		ObjectMeta: metav1.ObjectMeta{Name: "churn"},
		Spec: appsv1.DeploymentSpec{
			Replicas: ptr.To[int32](n),
			Selector: &metav1.LabelSelector{MatchLabels: labels},
			Template: corev1.PodTemplateSpec{
				ObjectMeta: metav1.ObjectMeta{Labels: labels},
				Spec:       corev1.PodSpec{Containers: []corev1.Container{{Name: "web", Image: "nginx", ImagePullPolicy: corev1.PullIfNotPresent}}},
			},
		},
	}
	if _, err := env.Client.AppsV1().Deployments(ns).Create(ctx, deploy, metav1.CreateOptions{}); err != nil {
		t.Fatal(err)
	}
	if err := env.Client.CoreV1().Pods("kube-system").Delete(ctx, agents.Items[0].Name, metav1.DeleteOptions{}); err != nil {
		t.Fatal(err)
	}
	t.Logf("deleted agent %s while %d pods start", agents.Items[0].Name, n)

	var pods map[string]corev1.Pod
	env.WaitFor(t, 3*time.Minute, fmt.Sprintf("%d pods Running with addresses", n), func(ctx context.Context) (bool, error) {
		ready, _, err := readyPods(ctx, env, ns, "app=churn")
		pods = ready
		return err == nil && len(ready) == n, nil
	})
	env.WaitFor(t, 2*time.Minute, "both agents ready again", func(ctx context.Context) (bool, error) {
		ds, err := env.Client.AppsV1().DaemonSets("kube-system").Get(ctx, "ipkeeper-agent", metav1.GetOptions{})
		return err == nil && ds.Status.NumberReady == 2, nil
	})
	byIP := map[string]string{}
	onNode := map[string]int{}
	for name, p := range pods {
		if other, ok := byIP[p.Status.PodIP]; ok {
			t.Errorf("%s and %s both have %s", name, other, p.Status.PodIP)
		}
		byIP[p.Status.PodIP] = name
		onNode[p.Spec.NodeName]++
	}
	t.Logf("pods per node: %v", onNode)

	claims, err := listClaims(ctx, env)
	if err != nil {
		t.Fatal(err)
	}
	claimed := map[string]claim{}
	for _, c := range claims {
		if prev, ok := claimed[c.Spec.Address]; ok {
			t.Errorf("address %s claimed twice: %s and %s", c.Spec.Address, prev.Metadata.Name, c.Metadata.Name)
		}
		claimed[c.Spec.Address] = c
		p, err := env.Client.CoreV1().Pods(c.Spec.Holder.Namespace).Get(ctx, c.Spec.Holder.Name, metav1.GetOptions{})
		switch {
		case err != nil:
			t.Errorf("claim %s (%s): holder %s/%s: %v", c.Metadata.Name, c.Spec.Address, c.Spec.Holder.Namespace, c.Spec.Holder.Name, err)
		case string(p.UID) != c.Spec.Holder.UID:
			t.Errorf("claim %s (%s): holder %s/%s has UID %s, the claim %s", c.Metadata.Name, c.Spec.Address, p.Namespace, p.Name, p.UID, c.Spec.Holder.UID)
		}
	}
	for ip, name := range byIP {
		c, ok := claimed[ip]
		if !ok || c.Spec.Holder.Namespace != ns || c.Spec.Holder.Name != name {
			t.Errorf("%s's address %s: claim %+v, want one held by %s/%s", name, ip, c.Spec, ns, name)
		}
	}
}

// checkHelmUninstall (last: it removes ipkeeper): `helm uninstall` and the
// two webhook deletions of docs/install.md's Uninstall section remove the
// agent DaemonSet and the controller Deployment, and leave what that
// section says stays: the CRDs, every pool, SpiderMultusConfig and its
// NetworkAttachmentDefinition, the IPClaims and SpiderEndpoints, the Secret
// ipkeeper-webhook-certs and /opt/cni/bin/spiderpool on every node. The
// running pod keeps running.
func checkHelmUninstall(t *testing.T, env *framework.Env) {
	ns := env.Namespace(t)
	ctx := t.Context()
	mc := `apiVersion: spiderpool.spidernet.io/v2beta1
kind: SpiderMultusConfig
metadata:
  name: macvlan-stays
  namespace: ` + ns + `
spec:
  cniType: macvlan
  enableCoordinator: false
  macvlan:
    master:
    - ens192
`
	if out, err := seedwalk.Kubectl(ctx, env, mc, "apply", "-f", "-"); err != nil {
		t.Fatalf("apply the SpiderMultusConfig: %v: %s", err, out)
	}
	env.WaitFor(t, time.Minute, "NetworkAttachmentDefinition macvlan-stays", func(ctx context.Context) (bool, error) {
		_, err := seedwalk.Kubectl(ctx, env, "", "-n", ns, "get", "network-attachment-definitions", "macvlan-stays")
		return err == nil, nil
	})
	stays := startPod(t, env, ns, "stays", "node1", nil)
	// Earlier subtests' namespaces are still going, their pods releasing
	// their addresses: only what is left once they are gone must stay.
	env.WaitFor(t, 3*time.Minute, "earlier tests' namespaces gone", func(ctx context.Context) (bool, error) {
		list, err := env.Client.CoreV1().Namespaces().List(ctx, metav1.ListOptions{LabelSelector: "ipkeeper.io/test=true"})
		if err != nil {
			return false, nil
		}
		return len(list.Items) == 1 && list.Items[0].Name == ns, nil
	})
	names := func(ctx context.Context, kind string, args ...string) (map[string]bool, error) {
		out, err := seedwalk.Kubectl(ctx, env, "", append([]string{"get", kind, "-o", "name"}, args...)...)
		if err != nil {
			return nil, fmt.Errorf("%w: %s", err, out)
		}
		m := map[string]bool{}
		for _, n := range strings.Fields(out) {
			m[n] = true
		}
		return m, nil
	}
	kinds := [][]string{
		{"crd"}, {"spiderippools"}, {"spidersubnets"}, {"spiderreservedips"},
		{"spidermultusconfigs", "-A"}, {"network-attachment-definitions", "-A"}, {"ipclaims"}, {"spiderendpoints", "-A"},
	}
	before := map[string]map[string]bool{}
	for _, k := range kinds {
		m, err := names(ctx, k[0], k[1:]...)
		if err != nil {
			t.Fatalf("list %s: %v", k[0], err)
		}
		before[k[0]] = m
	}
	for _, want := range []struct{ kind, name string }{
		{"crd", "customresourcedefinition.apiextensions.k8s.io/spiderippools.spiderpool.spidernet.io"},
		{"crd", "customresourcedefinition.apiextensions.k8s.io/ipclaims.ipkeeper.io"},
		{"spiderippools", "spiderippool.spiderpool.spidernet.io/default-v4"},
		{"spiderendpoints", "spiderendpoint.spiderpool.spidernet.io/stays"},
		{"ipclaims", "ipclaim.ipkeeper.io/" + stays.Status.PodIP},
	} {
		if !before[want.kind][want.name] {
			t.Errorf("before the uninstall: no %s among %v", want.name, before[want.kind])
		}
	}

	root, err := localcluster.RepoRoot()
	if err != nil {
		t.Fatal(err)
	}
	helm, err := localcluster.Helm(root)
	if err != nil {
		t.Fatal(err)
	}
	uninstall := exec.CommandContext(ctx, helm, "uninstall", "ipkeeper", "-n", "kube-system", "--kubeconfig", env.Kubeconfig, "--wait", "--timeout", "3m")
	uninstall.Env = append(uninstall.Environ(), "HELM_CACHE_HOME="+t.TempDir(), "HELM_CONFIG_HOME="+t.TempDir(), "HELM_DATA_HOME="+t.TempDir())
	if out, err := uninstall.CombinedOutput(); err != nil {
		t.Fatalf("helm uninstall: %v: %s", err, out)
	}
	for _, kind := range []string{"validatingwebhookconfiguration", "mutatingwebhookconfiguration"} {
		env.RunKubectl(t, "delete", kind, "ipkeeper")
	}

	env.WaitFor(t, 2*time.Minute, "agent DaemonSet and controller Deployment gone", func(ctx context.Context) (bool, error) {
		_, errDS := env.Client.AppsV1().DaemonSets("kube-system").Get(ctx, "ipkeeper-agent", metav1.GetOptions{})
		_, errDeploy := env.Client.AppsV1().Deployments("kube-system").Get(ctx, "ipkeeper-controller", metav1.GetOptions{})
		return apierrors.IsNotFound(errDS) && apierrors.IsNotFound(errDeploy), nil
	})
	for _, k := range kinds {
		after, err := names(ctx, k[0], k[1:]...)
		if err != nil {
			t.Fatalf("list %s after the uninstall: %v", k[0], err)
		}
		for n := range before[k[0]] {
			if !after[n] {
				t.Errorf("%s gone after helm uninstall", n)
			}
		}
	}
	if _, err := env.Client.CoreV1().Secrets("kube-system").Get(ctx, "ipkeeper-webhook-certs", metav1.GetOptions{}); err != nil {
		t.Errorf("Secret ipkeeper-webhook-certs after helm uninstall: %v", err)
	}
	for _, n := range env.Cluster.Nodes() {
		if _, err := os.Stat(filepath.Join(n.CNIBinDir(), "spiderpool")); err != nil {
			t.Errorf("%s: /opt/cni/bin/spiderpool after helm uninstall: %v", n.Name, err)
		}
	}
	p, err := env.Client.CoreV1().Pods(ns).Get(ctx, "stays", metav1.GetOptions{})
	if err != nil || p.Status.Phase != corev1.PodRunning || p.Status.PodIP != stays.Status.PodIP {
		t.Errorf("pod stays after helm uninstall: %v, %s %s (had %s)", err, p.Status.Phase, p.Status.PodIP, stays.Status.PodIP)
	}
}
