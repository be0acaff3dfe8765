//go:build e2e

package chart

import (
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"
	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"k8s.io/apimachinery/pkg/runtime"
	"sigs.k8s.io/yaml"

	"github.com/ipkeeper/ipkeeper/internal/config"
)

// defaultConf is conf.yml with the chart's default values.
const defaultConf = `
ipamUnixSocketPath: /var/run/spidernet/spiderpool.sock
enableIPv4: true
enableIPv6: false
enableStatefulSet: true
enableSpiderSubnet: true
enableAutoPoolForApplication: true
clusterSubnetDefaultFlexibleIPNumber: 1
autoPoolWaitSeconds: 30
enableIPConflictDetection: false
ipConflictDetectionTimeoutMs: 200
enableGatewayDetection: false
gatewayDetectionTimeoutMs: 1000
multusNamespace: kube-system
gc:
  enabled: true
  scanIntervalSeconds: 30
`

func TestLint(t *testing.T) {
	for _, p := range profiles(t) {
		t.Run(p.name, func(t *testing.T) {
			out, stderr, err := runHelm(t, append([]string{"lint", "--strict", chartDir(t), "--namespace", namespace}, p.args...)...)
			if err != nil {
				t.Fatalf("helm lint: %v\n%s%s", err, out, stderr)
			}
		})
	}
}

func TestConfig(t *testing.T) {
	tests := []struct {
		profile string
		change  func(conf map[string]any)
	}{
		{"default", func(map[string]any) {}},
		{"dual-stack", func(c map[string]any) { c["enableIPv6"] = true }},
		{"statefulset-off", func(c map[string]any) { c["enableStatefulSet"] = false }},
		// Automatic pools are carved from subnets: they go with them.
		{"subnet-off", func(c map[string]any) { c["enableSpiderSubnet"], c["enableAutoPoolForApplication"] = false, false }},
		{"detection", func(c map[string]any) {
			c["enableIPConflictDetection"], c["ipConflictDetectionTimeoutMs"] = true, float64(300)
			c["enableGatewayDetection"], c["gatewayDetectionTimeoutMs"] = true, float64(1500)
		}},
	}
	for _, tt := range tests {
		t.Run(tt.profile, func(t *testing.T) {
			want := yamlMap(t, defaultConf)
			tt.change(want)
			r := render(t, profileArgs(t, tt.profile)...)
			got := conf(t, r)
			delete(got, "clusterDefaultPools") // TestDefaultPools
			if diff := cmp.Diff(want, got); diff != "" {
				t.Errorf("conf.yml (-want +got):\n%s", diff)
			}
			// What the chart writes is what the components accept.
			data, _, _ := unstructured.NestedString(r.get(t, "ConfigMap", "ipkeeper-conf").Object, "data", "conf.yml")
			file := filepath.Join(t.TempDir(), "conf.yml")
			if err := os.WriteFile(file, []byte(data), 0o600); err != nil {
				t.Fatal(err)
			}
			if _, err := config.Load(file); err != nil {
				t.Errorf("the agent and controller refuse the chart's conf.yml: %v", err)
			}
		})
	}
}

// TestConfigRollsPods checks that both pod templates carry the checksum of
// the one ConfigMap, so that a configuration change restarts them.
// Spiderpool's value naming the cluster default network's
// NetworkAttachmentDefinition is read (not created): the agent matches pools'
// multusName against it for pods without a default-network annotation.
func TestConfigClusterNetwork(t *testing.T) {
	got := conf(t, render(t, "--set", "multus.multusCNI.defaultCniCRName=macvlan-ens192"))
	if got["clusterNetwork"] != "macvlan-ens192" || got["multusNamespace"] != namespace {
		t.Errorf("conf.yml clusterNetwork %v, multusNamespace %v; want macvlan-ens192 in %s", got["clusterNetwork"], got["multusNamespace"], namespace)
	}
}

func TestConfigRollsPods(t *testing.T) {
	sums := map[string]string{}
	for _, profile := range []string{"default", "statefulset-off"} {
		r := render(t, profileArgs(t, profile)...)
		agent := podTemplate(t, r.get(t, "DaemonSet", "ipkeeper-agent"))
		ctrl := podTemplate(t, r.get(t, "Deployment", "ipkeeper-controller"))
		a, c := agent.Annotations["checksum/config"], ctrl.Annotations["checksum/config"]
		if a == "" || a != c {
			t.Fatalf("%s: checksum/config of agent %q and controller %q: want the same, non-empty", profile, a, c)
		}
		sums[profile] = a
		for _, pt := range []corev1.PodTemplateSpec{agent, ctrl} {
			if !mountsConfig(pt) {
				t.Errorf("%s: %s does not mount the ConfigMap ipkeeper-conf read-only at /etc/ipkeeper", profile, pt.Spec.Containers[0].Name)
			}
			if !slices.Contains(pt.Spec.Containers[0].Args, "--config=/etc/ipkeeper/conf.yml") {
				t.Errorf("%s: %s args %v lack --config=/etc/ipkeeper/conf.yml", profile, pt.Spec.Containers[0].Name, pt.Spec.Containers[0].Args)
			}
		}
	}
	if sums["default"] == sums["statefulset-off"] {
		t.Errorf("checksum/config did not change with the configuration")
	}
}

func TestAgent(t *testing.T) {
	r := render(t)
	ds := r.get(t, "DaemonSet", "ipkeeper-agent")
	pt := podTemplate(t, ds)
	spec := pt.Spec
	if !spec.HostNetwork || spec.DNSPolicy != corev1.DNSClusterFirstWithHostNet {
		t.Errorf("hostNetwork %v, dnsPolicy %q: want true, ClusterFirstWithHostNet", spec.HostNetwork, spec.DNSPolicy)
	}
	if spec.PriorityClassName != "system-node-critical" {
		t.Errorf("priorityClassName %q", spec.PriorityClassName)
	}
	if diff := cmp.Diff([]corev1.Toleration{{Operator: corev1.TolerationOpExists}}, spec.Tolerations); diff != "" {
		t.Errorf("tolerations (-want +got):\n%s", diff)
	}
	strategy, _, _ := unstructured.NestedMap(ds.Object, "spec", "updateStrategy", "rollingUpdate")
	if diff := cmp.Diff(map[string]any{"maxUnavailable": int64(1), "maxSurge": int64(0)}, strategy); diff != "" {
		t.Errorf("rollingUpdate (-want +got):\n%s", diff)
	}

	if len(spec.InitContainers) != 1 {
		t.Fatalf("init containers: %d, want 1", len(spec.InitContainers))
	}
	installer := spec.InitContainers[0]
	if diff := cmp.Diff([]string{"/ipkeeper-cni-installer"}, installer.Command); diff != "" {
		t.Errorf("installer command (-want +got):\n%s", diff)
	}
	if diff := cmp.Diff([]string{"--src-dir=/opt/ipkeeper/cni", "--dst-dir=/host/opt/cni/bin"}, installer.Args); diff != "" {
		t.Errorf("installer args (-want +got):\n%s", diff)
	}
	if hostPath(spec, installer, "/host/opt/cni/bin") != "/opt/cni/bin" {
		t.Errorf("/host/opt/cni/bin is not the host's /opt/cni/bin")
	}

	agent := spec.Containers[0]
	wantArgs := []string{
		"--config=/etc/ipkeeper/conf.yml", "--node-name=$(NODE_NAME)",
		"--metrics-bind-address=0", "--health-probe-bind-address=:5710",
	}
	if diff := cmp.Diff(wantArgs, agent.Args); diff != "" {
		t.Errorf("agent args (-want +got):\n%s", diff)
	}
	if agent.Image != "ghcr.io/ipkeeper/ipkeeper-agent:"+appVersion(t) || agent.ImagePullPolicy != corev1.PullIfNotPresent {
		t.Errorf("agent image %q, pull policy %q", agent.Image, agent.ImagePullPolicy)
	}
	if len(agent.Env) == 0 || agent.Env[0].Name != "NODE_NAME" || agent.Env[0].ValueFrom == nil ||
		agent.Env[0].ValueFrom.FieldRef.FieldPath != "spec.nodeName" {
		t.Errorf("agent env %+v: want NODE_NAME from spec.nodeName", agent.Env)
	}
	if hostPath(spec, agent, "/var/run/spidernet") != "/var/run/spidernet" {
		t.Errorf("the socket directory is not the host's /var/run/spidernet at the same path")
	}
	if agent.LivenessProbe.HTTPGet.Path != "/healthz" || agent.ReadinessProbe.HTTPGet.Path != "/readyz" {
		t.Errorf("probes: liveness %s, readiness %s", agent.LivenessProbe.HTTPGet.Path, agent.ReadinessProbe.HTTPGet.Path)
	}
	for _, c := range []corev1.Container{installer, agent} {
		checkRootNoCaps(t, c)
	}
}

func TestController(t *testing.T) {
	r := render(t)
	dep := r.get(t, "Deployment", "ipkeeper-controller")
	replicas, _, _ := unstructured.NestedInt64(dep.Object, "spec", "replicas")
	if replicas != 2 {
		t.Errorf("replicas %d, want 2", replicas)
	}
	spec := podTemplate(t, dep).Spec
	c := spec.Containers[0]
	for _, want := range []string{
		"--leader-elect", "--leader-election-namespace=kube-system", "--webhook-port=5722",
		"--webhook-service=kube-system/ipkeeper-controller:443",
		"--webhook-cert-secret=kube-system/ipkeeper-webhook-certs",
		"--webhook-cert-hosts=ipkeeper-controller,ipkeeper-controller.kube-system,ipkeeper-controller.kube-system.svc",
		"--health-probe-bind-address=:5720", "--metrics-bind-address=0",
	} {
		if !slices.Contains(c.Args, want) {
			t.Errorf("controller args %v lack %s", c.Args, want)
		}
	}
	if c.Image != "ghcr.io/ipkeeper/ipkeeper-controller:"+appVersion(t) {
		t.Errorf("controller image %q", c.Image)
	}
	psc := spec.SecurityContext
	if psc == nil || psc.RunAsUser == nil || *psc.RunAsUser != 65532 || psc.RunAsNonRoot == nil || !*psc.RunAsNonRoot ||
		psc.SeccompProfile == nil || psc.SeccompProfile.Type != corev1.SeccompProfileTypeRuntimeDefault {
		t.Errorf("pod securityContext %+v: want non-root 65532, seccomp RuntimeDefault", psc)
	}
	checkNoCaps(t, c)
	if spec.Affinity == nil || spec.Affinity.PodAntiAffinity == nil ||
		len(spec.Affinity.PodAntiAffinity.PreferredDuringSchedulingIgnoredDuringExecution) == 0 {
		t.Errorf("no preferred podAntiAffinity across nodes")
	}

	svc := r.get(t, "Service", "ipkeeper-controller")
	ports, _, _ := unstructured.NestedSlice(svc.Object, "spec", "ports")
	if len(ports) != 1 || ports[0].(map[string]any)["port"] != int64(443) || ports[0].(map[string]any)["targetPort"] != "webhook" {
		t.Errorf("webhook Service ports %v: want 443 → webhook", ports)
	}
	r.get(t, "PodDisruptionBudget", "ipkeeper-controller")
	for _, kind := range []string{"ValidatingWebhookConfiguration", "MutatingWebhookConfiguration", "SpiderIPPool", "Certificate", "Secret", "ServiceMonitor", "PrometheusRule"} {
		if objs := r.ofKind(kind); len(objs) > 0 {
			t.Errorf("default values render a %s", kind)
		}
	}
}

func TestDefaultPools(t *testing.T) {
	r := render(t, profileArgs(t, "dual-stack")...)
	// The controller creates them once its webhooks serve; the chart renders
	// no pool object (a hook could run before the webhook has endpoints).
	want := []any{
		map[string]any{"name": "default-v4-ippool", "subnet": "10.6.0.0/16", "ips": []any{"10.6.168.101-10.6.168.200"}, "gateway": "10.6.0.1"},
		map[string]any{"name": "default-v6-ippool", "subnet": "fd00:10:6::/64", "ips": []any{"fd00:10:6::101-fd00:10:6::200"}, "gateway": "fd00:10:6::1"},
	}
	if diff := cmp.Diff(want, conf(t, r)["clusterDefaultPools"]); diff != "" {
		t.Errorf("conf.yml clusterDefaultPools (-want +got):\n%s", diff)
	}
	for _, o := range r.objs {
		if o.GetKind() == "SpiderIPPool" {
			t.Errorf("the chart renders SpiderIPPool %s; the controller creates the default pools", o.GetName())
		}
	}
}

func TestTLS(t *testing.T) {
	t.Run("auto", func(t *testing.T) {
		r := render(t)
		if args := podTemplate(t, r.get(t, "Deployment", "ipkeeper-controller")).Spec.Containers[0].Args; slices.Contains(args, "--webhook-register=false") {
			t.Errorf("args %v: the controller must register its own webhook configurations by default", args)
		}
		rules := roleRules(t, r.get(t, "Role", "ipkeeper-controller"))
		var names []string
		for _, rule := range rules {
			if slices.Contains(rule.resources, "secrets") {
				names = append(names, rule.resourceNames...)
			}
		}
		if diff := cmp.Diff([]string{"ipkeeper-webhook-certs"}, names); diff != "" {
			t.Errorf("Secret names of the Role (-want +got):\n%s", diff)
		}
	})
	for _, tt := range []struct{ profile, secret string }{
		{"provided-tls", "ipkeeper-webhook-provided-certs"},
		{"cert-manager", "ipkeeper-webhook-certmanager-certs"},
	} {
		t.Run(tt.profile, func(t *testing.T) {
			r := render(t, profileArgs(t, tt.profile)...)
			spec := podTemplate(t, r.get(t, "Deployment", "ipkeeper-controller")).Spec
			args := spec.Containers[0].Args
			for _, want := range []string{"--webhook-cert-dir=/certs", "--webhook-ca-file=/certs/ca.crt"} {
				if !slices.Contains(args, want) {
					t.Errorf("args %v lack %s", args, want)
				}
			}
			if slices.ContainsFunc(args, func(a string) bool { return strings.HasPrefix(a, "--webhook-cert-secret") }) {
				t.Errorf("args %v name a self-managed Secret", args)
			}
			var mounted string
			for _, v := range spec.Volumes {
				if v.Secret != nil {
					mounted = v.Secret.SecretName
				}
			}
			if mounted != tt.secret {
				t.Errorf("mounted Secret %q, want %q", mounted, tt.secret)
			}
			for _, rule := range roleRules(t, r.get(t, "Role", "ipkeeper-controller")) {
				if slices.Contains(rule.resources, "secrets") {
					t.Errorf("the controller may %v Secrets though it does not manage its certificate", rule.verbs)
				}
			}
			for _, kind := range []string{"ValidatingWebhookConfiguration", "MutatingWebhookConfiguration"} {
				checkWebhooks(t, r.get(t, kind, "ipkeeper"), tt.profile)
			}
			// The chart owns the configurations: the controller must only
			// write their CA bundle, not fight Helm over their contents.
			if !slices.Contains(args, "--webhook-register=false") {
				t.Errorf("args %v lack --webhook-register=false with chart-owned webhook configurations", args)
			}
			if tt.profile == "provided-tls" {
				r.get(t, "Secret", tt.secret)
				return
			}
			cert := r.get(t, "Certificate", "ipkeeper-webhook")
			secretName, _, _ := unstructured.NestedString(cert.Object, "spec", "secretName")
			dns, _, _ := unstructured.NestedStringSlice(cert.Object, "spec", "dnsNames")
			if secretName != tt.secret || !slices.Contains(dns, "ipkeeper-controller.kube-system.svc") {
				t.Errorf("Certificate secretName %q dnsNames %v", secretName, dns)
			}
			r.get(t, "Issuer", "ipkeeper-selfsigned")
		})
	}
}

// checkWebhooks checks a chart-rendered webhook configuration: four
// webhooks through the Service, failurePolicy Fail, and a CA bundle.
func checkWebhooks(t *testing.T, cfg *unstructured.Unstructured, profile string) {
	t.Helper()
	hooks, _, _ := unstructured.NestedSlice(cfg.Object, "webhooks")
	if len(hooks) != 4 {
		t.Fatalf("%s: %d webhooks, want 4", cfg.GetKind(), len(hooks))
	}
	for _, h := range hooks {
		h := h.(map[string]any)
		svc, _, _ := unstructured.NestedString(h, "clientConfig", "service", "name")
		ca, _, _ := unstructured.NestedString(h, "clientConfig", "caBundle")
		if h["failurePolicy"] != "Fail" || svc != "ipkeeper-controller" {
			t.Errorf("%s %s: failurePolicy %v, service %q", cfg.GetKind(), h["name"], h["failurePolicy"], svc)
		}
		injected := cfg.GetAnnotations()["cert-manager.io/inject-ca-from"] == "kube-system/ipkeeper-webhook"
		if (profile == "provided-tls") == (ca == "") || (profile == "cert-manager") != injected {
			t.Errorf("%s %s: caBundle set %v, cert-manager injection %v", cfg.GetKind(), h["name"], ca != "", injected)
		}
	}
}

func TestMetricsAndAPIServer(t *testing.T) {
	r := render(t, profileArgs(t, "metrics-no-kube-proxy")...)
	for _, name := range []string{"ipkeeper-agent", "ipkeeper-controller"} {
		r.get(t, "ServiceMonitor", name)
	}
	r.get(t, "Service", "ipkeeper-agent-metrics")
	agent := podTemplate(t, r.get(t, "DaemonSet", "ipkeeper-agent")).Spec
	ctrl := podTemplate(t, r.get(t, "Deployment", "ipkeeper-controller")).Spec
	if ctrl.HostNetwork {
		t.Errorf("controller in the host network with hostnetwork=false")
	}
	for _, c := range []corev1.Container{agent.Containers[0], ctrl.Containers[0]} {
		env := map[string]string{}
		for _, e := range c.Env {
			env[e.Name] = e.Value
		}
		if env["KUBERNETES_SERVICE_HOST"] != "192.0.2.10" || env["KUBERNETES_SERVICE_PORT"] != "6443" {
			t.Errorf("%s env %v: want the API server's address", c.Name, env)
		}
	}
	if a := agent.Containers[0].Args; !slices.Contains(a, "--metrics-bind-address=:5711") {
		t.Errorf("agent args %v: want metrics on :5711", a)
	}
	checkMonitoring(t, r)
}

// checkMonitoring checks that the dashboard ConfigMap and the PrometheusRule
// carry the chart's files unchanged, and that the ServiceMonitors name the
// jobs the rules select.
func checkMonitoring(t *testing.T, r rendered) {
	files := filepath.Join(chartDir(t), "files")
	dashboard, err := os.ReadFile(filepath.Join(files, "dashboards", "ipkeeper.json"))
	if err != nil {
		t.Fatal(err)
	}
	cm := r.get(t, "ConfigMap", "ipkeeper-dashboard")
	if cm.GetLabels()["grafana_dashboard"] != "1" {
		t.Errorf("dashboard ConfigMap labels %v: want grafana_dashboard: \"1\"", cm.GetLabels())
	}
	got, _, _ := unstructured.NestedString(cm.Object, "data", "ipkeeper.json")
	if got != strings.TrimRight(string(dashboard), "\n") {
		t.Errorf("dashboard ConfigMap's ipkeeper.json differs from files/dashboards/ipkeeper.json")
	}
	rulesFile, err := os.ReadFile(filepath.Join(files, "alerts", "ipkeeper.rules.yaml"))
	if err != nil {
		t.Fatal(err)
	}
	spec, _, _ := unstructured.NestedMap(r.get(t, "PrometheusRule", "ipkeeper").Object, "spec")
	if diff := cmp.Diff(yamlMap(t, string(rulesFile)), spec); diff != "" {
		t.Errorf("PrometheusRule spec differs from files/alerts/ipkeeper.rules.yaml (-file +rendered):\n%s", diff)
	}
	for svc, job := range map[string]string{"ipkeeper-agent-metrics": "ipkeeper-agent", "ipkeeper-controller": "ipkeeper-controller"} {
		if got := r.get(t, "Service", svc).GetLabels()["ipkeeper.io/metrics-job"]; got != job {
			t.Errorf("Service %s: ipkeeper.io/metrics-job %q, want %q", svc, got, job)
		}
		if !strings.Contains(string(rulesFile), `job="`+job+`"`) && job == "ipkeeper-agent" {
			t.Errorf("the rules select no job %q", job)
		}
	}
	for _, name := range []string{"ipkeeper-agent", "ipkeeper-controller"} {
		if got, _, _ := unstructured.NestedString(r.get(t, "ServiceMonitor", name).Object, "spec", "jobLabel"); got != "ipkeeper.io/metrics-job" {
			t.Errorf("ServiceMonitor %s jobLabel %q, want ipkeeper.io/metrics-job", name, got)
		}
	}
}

// TestLabels checks the standard labels on every object of every profile.
func TestLabels(t *testing.T) {
	for _, p := range profiles(t) {
		r := render(t, p.args...)
		for _, o := range r.objs {
			l := o.GetLabels()
			for _, key := range []string{"helm.sh/chart", "app.kubernetes.io/name", "app.kubernetes.io/instance", "app.kubernetes.io/version", "app.kubernetes.io/managed-by"} {
				if l[key] == "" {
					t.Errorf("%s: %s/%s lacks label %s", p.name, o.GetKind(), o.GetName(), key)
				}
			}
		}
	}
}

// TestRolesGenerated checks that the chart's roles are the generated ones
// (files/rbac, from the kubebuilder markers) and that no rule of any profile
// grants a wildcard.
func TestRolesGenerated(t *testing.T) {
	for _, p := range profiles(t) {
		r := render(t, p.args...)
		for _, kind := range []string{"ClusterRole", "Role"} {
			for _, o := range r.ofKind(kind) {
				for _, rule := range roleRules(t, o) {
					for _, s := range slices.Concat(rule.apiGroups, rule.resources, rule.verbs, rule.resourceNames) {
						if strings.Contains(s, "*") {
							t.Errorf("%s: %s %s grants %q: %+v", p.name, kind, o.GetName(), s, rule)
						}
					}
				}
			}
		}
	}
	r := render(t)
	agent := roleRules(t, r.get(t, "ClusterRole", "ipkeeper-agent"))
	for _, rule := range agent {
		if slices.Contains(rule.resources, "secrets") {
			t.Errorf("the agent may %v Secrets", rule.verbs)
		}
		if slices.Contains(rule.resources, "spiderippools") && slices.ContainsFunc(rule.verbs, func(v string) bool { return v != "get" && v != "list" && v != "watch" }) {
			t.Errorf("the agent may %v pools", rule.verbs)
		}
	}
	if r.find("Role", "ipkeeper-agent") != nil {
		t.Errorf("the agent has a namespaced Role")
	}
}

type rule struct{ apiGroups, resources, verbs, resourceNames []string }

func roleRules(t testing.TB, o *unstructured.Unstructured) []rule {
	t.Helper()
	raw, _, _ := unstructured.NestedSlice(o.Object, "rules")
	if len(raw) == 0 {
		t.Fatalf("%s %s has no rules", o.GetKind(), o.GetName())
	}
	var out []rule
	for _, r := range raw {
		m := r.(map[string]any)
		list := func(k string) []string { s, _, _ := unstructured.NestedStringSlice(m, k); return s }
		out = append(out, rule{list("apiGroups"), list("resources"), list("verbs"), list("resourceNames")})
	}
	return out
}

func podTemplate(t testing.TB, o *unstructured.Unstructured) corev1.PodTemplateSpec {
	t.Helper()
	raw, _, _ := unstructured.NestedMap(o.Object, "spec", "template")
	var pt corev1.PodTemplateSpec
	if err := runtime.DefaultUnstructuredConverter.FromUnstructured(raw, &pt); err != nil {
		t.Fatalf("pod template of %s %s: %v", o.GetKind(), o.GetName(), err)
	}
	return pt
}

func conf(t testing.TB, r rendered) map[string]any {
	t.Helper()
	data, _, _ := unstructured.NestedString(r.get(t, "ConfigMap", "ipkeeper-conf").Object, "data", "conf.yml")
	return yamlMap(t, data)
}

func yamlMap(t testing.TB, s string) map[string]any {
	t.Helper()
	var m map[string]any
	if err := yaml.Unmarshal([]byte(s), &m); err != nil {
		t.Fatalf("parse %q: %v", s, err)
	}
	return m
}

func appVersion(t testing.TB) string {
	t.Helper()
	out, stderr, err := runHelm(t, "show", "chart", chartDir(t))
	if err != nil {
		t.Fatalf("helm show chart: %v: %s", err, stderr)
	}
	var c struct {
		AppVersion string `json:"appVersion"`
	}
	if err := yaml.Unmarshal([]byte(out), &c); err != nil || c.AppVersion == "" {
		t.Fatalf("appVersion of %q: %v", out, err)
	}
	return c.AppVersion
}

func mountsConfig(pt corev1.PodTemplateSpec) bool {
	for _, v := range pt.Spec.Volumes {
		if v.ConfigMap == nil || v.ConfigMap.Name != "ipkeeper-conf" {
			continue
		}
		for _, m := range pt.Spec.Containers[0].VolumeMounts {
			if m.Name == v.Name && m.MountPath == "/etc/ipkeeper" && m.ReadOnly {
				return true
			}
		}
	}
	return false
}

// hostPath returns the host path mounted at mountPath in c, or "".
func hostPath(spec corev1.PodSpec, c corev1.Container, mountPath string) string {
	for _, m := range c.VolumeMounts {
		if m.MountPath != mountPath {
			continue
		}
		for _, v := range spec.Volumes {
			if v.Name == m.Name && v.HostPath != nil {
				return v.HostPath.Path
			}
		}
	}
	return ""
}

func checkRootNoCaps(t *testing.T, c corev1.Container) {
	t.Helper()
	sc := c.SecurityContext
	if sc == nil || sc.RunAsUser == nil || *sc.RunAsUser != 0 {
		t.Errorf("%s: want uid 0", c.Name)
	}
	checkNoCaps(t, c)
}

func checkNoCaps(t *testing.T, c corev1.Container) {
	t.Helper()
	sc := c.SecurityContext
	if sc == nil || sc.Privileged != nil && *sc.Privileged || sc.Capabilities == nil ||
		!slices.Equal(sc.Capabilities.Drop, []corev1.Capability{"ALL"}) || len(sc.Capabilities.Add) > 0 ||
		sc.ReadOnlyRootFilesystem == nil || !*sc.ReadOnlyRootFilesystem ||
		sc.AllowPrivilegeEscalation == nil || *sc.AllowPrivilegeEscalation {
		t.Errorf("%s securityContext %+v: want all capabilities dropped, read-only root, no escalation", c.Name, sc)
	}
}
