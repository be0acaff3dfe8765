package localcluster

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"os/exec"
	"path/filepath"
	"strings"
	"time"

	rbacv1 "k8s.io/api/rbac/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
)

// Chart is a Helm chart installed once real nodes are Ready (ipkeeper's own,
// as a user installs it).
type Chart struct {
	// Helm is the helm binary.
	Helm string
	// Release, Path and Namespace are what `helm install RELEASE PATH -n
	// NAMESPACE` gets.
	Release, Path, Namespace string
	// Set are --set values (key=value).
	Set []string
	// Timeout bounds `helm install --wait`; zero means 5 minutes.
	Timeout time.Duration
}

// The kubelet client certificate the API server presents to real kubelets.
const apiserverKubeletClient = "apiserver-kubelet-client"

// writeRealNodeCredentials issues what the API server needs to talk to real
// kubelets (it verifies their serving certificates with the cluster CA).
func (c *Cluster) writeRealNodeCredentials() error {
	if !c.st.RealNodes {
		return nil
	}
	return c.pki().issueClient(apiserverKubeletClient, "kube-apiserver-kubelet-client", "system:masters")
}

// realNodeAPIServerFlags are the API server flags real nodes need; each
// replaces a flag of the same name. The API server binds HostAddress (on the
// underlay bridge, which the nodes reach); nodes authenticate with their
// certificates and are limited by the Node authorizer and NodeRestriction;
// the kubernetes Service's endpoint is HostAddress (kube-proxy on each node
// sends the Service VIP there); webhooks and the kubelets are dialled at
// endpoint and InternalIP addresses, never through a Service VIP or a name
// the machine's resolver would be asked for.
func (c *Cluster) realNodeAPIServerFlags() []string {
	if !c.st.RealNodes {
		return nil
	}
	p := c.pki()
	return []string{
		"--bind-address=" + HostAddress.Addr().String(), "--advertise-address=" + HostAddress.Addr().String(),
		"--authorization-mode=Node,RBAC", "--enable-admission-plugins=NodeRestriction",
		"--kubelet-client-certificate=" + p.path(apiserverKubeletClient+".crt"),
		"--kubelet-client-key=" + p.path(apiserverKubeletClient+".key"),
		"--kubelet-certificate-authority=" + p.caCert(),
		"--kubelet-preferred-address-types=InternalIP",
		"--endpoint-reconciler-type=lease", "--enable-aggregator-routing=true",
		"--allow-privileged=true",
	}
}

// withFlags returns argv with each of flags (--name=value) replacing the
// flags of the same name.
func withFlags(argv, flags []string) []string {
	names := map[string]bool{}
	for _, f := range flags {
		name, _, _ := strings.Cut(f, "=")
		names[name] = true
	}
	out := argv[:0:0]
	for _, a := range argv {
		name, _, _ := strings.Cut(a, "=")
		if !names[name] {
			out = append(out, a)
		}
	}
	return append(out, flags...)
}

// grantMultus lets every node's Multus read pods and NetworkAttachmentDefinitions
// and write the pods' network-status annotation.
func (c *Cluster) grantMultus(ctx context.Context) error {
	if !c.st.RealNodes {
		return nil
	}
	cs, err := c.Clientset()
	if err != nil {
		return err
	}
	const name = "ipkeeper-local-multus"
	role := &rbacv1.ClusterRole{
		ObjectMeta: metav1.ObjectMeta{Name: name},
		Rules: []rbacv1.PolicyRule{
			{APIGroups: []string{"k8s.cni.cncf.io"}, Resources: []string{"network-attachment-definitions"}, Verbs: []string{"get", "list", "watch"}},
			{APIGroups: []string{""}, Resources: []string{"pods"}, Verbs: []string{"get", "list", "watch", "update", "patch"}},
			{APIGroups: []string{""}, Resources: []string{"pods/status"}, Verbs: []string{"get", "update", "patch"}},
			{APIGroups: []string{"", "events.k8s.io"}, Resources: []string{"events"}, Verbs: []string{"create", "patch", "update"}},
		},
	}
	binding := &rbacv1.ClusterRoleBinding{
		ObjectMeta: metav1.ObjectMeta{Name: name},
		RoleRef:    rbacv1.RoleRef{APIGroup: rbacv1.GroupName, Kind: "ClusterRole", Name: name},
		Subjects:   []rbacv1.Subject{{APIGroup: rbacv1.GroupName, Kind: rbacv1.UserKind, Name: multusUser}},
	}
	if _, err := cs.RbacV1().ClusterRoles().Create(ctx, role, metav1.CreateOptions{}); err != nil && !apierrors.IsAlreadyExists(err) {
		return fmt.Errorf("create cluster role %s: %w", name, err)
	}
	if _, err := cs.RbacV1().ClusterRoleBindings().Create(ctx, binding, metav1.CreateOptions{}); err != nil && !apierrors.IsAlreadyExists(err) {
		return fmt.Errorf("create cluster role binding %s: %w", name, err)
	}
	return nil
}

// installChart runs `helm install --wait` of the configured chart.
func (c *Cluster) installChart(ctx context.Context) error {
	ch := c.cfg.Chart
	timeout := ch.Timeout
	if timeout == 0 {
		timeout = 5 * time.Minute
	}
	args := []string{"install", ch.Release, ch.Path, "--namespace", ch.Namespace, "--create-namespace",
		"--kubeconfig", c.Kubeconfig(), "--wait", "--timeout", timeout.String()}
	for _, s := range ch.Set {
		args = append(args, "--set", s)
	}
	cmd := exec.CommandContext(ctx, ch.Helm, args...)
	home := filepath.Join(c.cfg.StateDir, "helm")
	cmd.Env = append(cmd.Environ(), "HELM_CACHE_HOME="+home, "HELM_CONFIG_HOME="+home, "HELM_DATA_HOME="+home)
	out, err := cmd.CombinedOutput()
	if err != nil {
		return fmt.Errorf("helm install %s: %w: %s", ch.Release, err, strings.TrimSpace(string(out)))
	}
	return nil
}

// registryAddress is where the local registry listens; "" when there is none.
func (c *Cluster) registryAddress() string {
	if c.st.RegistryPort == 0 {
		return ""
	}
	return fmt.Sprintf("%s:%d", HostAddress.Addr(), c.st.RegistryPort)
}

// startRegistry starts the local registry serving the images, and waits
// until it answers (it loads them all before it listens).
func (c *Cluster) startRegistry(ctx context.Context) error {
	addr := c.registryAddress()
	if addr == "" {
		return nil
	}
	argv := append([]string{c.cfg.RegistryPath, "-listen", addr}, c.cfg.Images...)
	info, err := c.spawn(Process{Name: "local-registry", Argv: argv}, tierExtra, 0)
	if err != nil {
		return err
	}
	return c.waitFor(ctx, info, func(ctx context.Context) (bool, error) {
		_, err := httpGet(ctx, http.DefaultClient, "http://"+addr+"/v2/")
		return err == nil, nil
	})
}

// removeRealNodes kills what is left of the real nodes once their processes
// are stopped (containers, shims), removes their cgroups and the host
// directories the nodes' views needed.
func (c *Cluster) removeRealNodes(ctx context.Context) error {
	if !c.st.RealNodes {
		return nil
	}
	var errs []error
	for _, n := range c.st.Nodes {
		if err := removeCgroup(ctx, n.Cgroup()); err != nil {
			errs = append(errs, err)
		}
	}
	if err := c.removeHostDirs(); err != nil {
		errs = append(errs, err)
	}
	if len(errs) == 0 {
		return c.saveState()
	}
	return errors.Join(errs...)
}
