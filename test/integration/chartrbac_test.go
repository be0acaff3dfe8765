//go:build integration

package integration

import (
	"bufio"
	"bytes"
	"context"
	"errors"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"testing"

	authenticationv1 "k8s.io/api/authentication/v1"
	corev1 "k8s.io/api/core/v1"
	rbacv1 "k8s.io/api/rbac/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime/serializer"
	utilyaml "k8s.io/apimachinery/pkg/util/yaml"
	"k8s.io/client-go/kubernetes"
	"k8s.io/client-go/tools/clientcmd"
	clientcmdapi "k8s.io/client-go/tools/clientcmd/api"
	"k8s.io/utils/ptr"
	"sigs.k8s.io/controller-runtime/pkg/client"

	"github.com/ipkeeper/ipkeeper/test/localcluster"
)

// chartRBAC is what charts/ipkeeper renders for the credentials of its
// components: ServiceAccounts, ClusterRoles, Roles and their bindings.
type chartRBAC struct {
	objects []client.Object
}

// renderChartRBAC runs helm template for release in namespace ns and keeps
// the ServiceAccounts and the RBAC objects.
func renderChartRBAC(t *testing.T, release, ns string) chartRBAC {
	t.Helper()
	root, err := localcluster.RepoRoot()
	if err != nil {
		t.Fatal(err)
	}
	helm, err := localcluster.Helm(root)
	if err != nil {
		t.Fatal(err)
	}
	var stdout, stderr bytes.Buffer
	cmd := exec.CommandContext(t.Context(), helm, "template", release, filepath.Join(root, "charts", "ipkeeper"),
		"--namespace", ns, "--show-only", "templates/serviceaccounts.yaml", "--show-only", "templates/rbac.yaml")
	home := t.TempDir() // no user configuration or repositories
	cmd.Env = append(os.Environ(), "HELM_CONFIG_HOME="+home, "HELM_CACHE_HOME="+home, "HELM_DATA_HOME="+home)
	cmd.Stdout, cmd.Stderr = &stdout, &stderr
	if err := cmd.Run(); err != nil {
		t.Fatalf("helm template: %v\n%s", err, stderr.String())
	}
	decode := serializer.NewCodecFactory(env.client.Scheme()).UniversalDeserializer().Decode
	docs := utilyaml.NewYAMLReader(bufio.NewReader(&stdout))
	var r chartRBAC
	for {
		doc, err := docs.Read()
		if errors.Is(err, io.EOF) {
			return r
		}
		if err != nil {
			t.Fatalf("read the rendered manifest: %v", err)
		}
		if len(bytes.TrimSpace(doc)) == 0 {
			continue
		}
		obj, _, err := decode(doc, nil, nil)
		if err != nil {
			t.Fatalf("decode a rendered object: %v\n%s", err, doc)
		}
		r.objects = append(r.objects, obj.(client.Object))
	}
}

// apply creates the objects as the admin; the cluster-scoped ones are
// deleted when the test ends (the namespaced ones go with their namespace).
func (r chartRBAC) apply(t *testing.T) {
	t.Helper()
	for _, o := range r.objects {
		mustCreate(t, o)
		if o.GetNamespace() == "" {
			t.Cleanup(func() { _ = env.client.Delete(context.Background(), o) })
		}
	}
}

// rules returns the rules of every rendered ClusterRole and Role, by
// "Kind/name".
func (r chartRBAC) rules() map[string][]rbacv1.PolicyRule {
	out := map[string][]rbacv1.PolicyRule{}
	for _, o := range r.objects {
		switch role := o.(type) {
		case *rbacv1.ClusterRole:
			out["ClusterRole/"+role.Name] = role.Rules
		case *rbacv1.Role:
			out["Role/"+role.Name] = role.Rules
		}
	}
	return out
}

// serviceAccount returns the name of the rendered ServiceAccount of a
// component (agent, controller).
func (r chartRBAC) serviceAccount(t *testing.T, component string) string {
	t.Helper()
	for _, o := range r.objects {
		if sa, ok := o.(*corev1.ServiceAccount); ok && sa.Labels["app.kubernetes.io/component"] == component {
			return sa.Name
		}
	}
	t.Fatalf("the chart renders no ServiceAccount for the %s", component)
	return ""
}

// certSecret returns the name of the webhook certificate Secret the
// controller's Role lets it read and renew.
func (r chartRBAC) certSecret(t *testing.T) string {
	t.Helper()
	for _, o := range r.objects {
		role, ok := o.(*rbacv1.Role)
		if !ok {
			continue
		}
		for _, rule := range role.Rules {
			if slices.Contains(rule.Resources, "secrets") && len(rule.ResourceNames) == 1 {
				return rule.ResourceNames[0]
			}
		}
	}
	t.Fatal("the chart renders no Role rule naming the certificate Secret")
	return ""
}

// serviceAccountKubeconfig writes a kubeconfig that reaches the admin
// kubeconfig's server, trusting its CA, with a TokenRequest token of the
// ServiceAccount ns/name, and returns its path.
func serviceAccountKubeconfig(t *testing.T, ns, name string) string {
	t.Helper()
	cfg, err := localcluster.RESTConfigFrom(env.kubeconfig)
	if err != nil {
		t.Fatal(err)
	}
	cs, err := kubernetes.NewForConfig(cfg)
	if err != nil {
		t.Fatal(err)
	}
	tr, err := cs.CoreV1().ServiceAccounts(ns).CreateToken(t.Context(), name,
		&authenticationv1.TokenRequest{Spec: authenticationv1.TokenRequestSpec{ExpirationSeconds: ptr.To[int64](3600)}},
		metav1.CreateOptions{})
	if err != nil {
		t.Fatalf("token of %s/%s: %v", ns, name, err)
	}
	admin, err := clientcmd.LoadFromFile(env.kubeconfig)
	if err != nil {
		t.Fatal(err)
	}
	kc := clientcmdapi.NewConfig()
	kc.Clusters["local"] = admin.Clusters[admin.Contexts[admin.CurrentContext].Cluster]
	kc.AuthInfos[name] = &clientcmdapi.AuthInfo{Token: tr.Status.Token}
	kc.Contexts[name] = &clientcmdapi.Context{Cluster: "local", AuthInfo: name}
	kc.CurrentContext = name
	path := filepath.Join(t.TempDir(), name+".kubeconfig")
	if err := clientcmd.WriteToFile(*kc, path); err != nil {
		t.Fatal(err)
	}
	return path
}

// clientFor returns a client with the credentials of a kubeconfig file.
func clientFor(t *testing.T, kubeconfig string) client.Client {
	t.Helper()
	cfg, err := localcluster.RESTConfigFrom(kubeconfig)
	if err != nil {
		t.Fatal(err)
	}
	c, err := client.New(cfg, client.Options{Scheme: env.client.Scheme()})
	if err != nil {
		t.Fatal(err)
	}
	return c
}
