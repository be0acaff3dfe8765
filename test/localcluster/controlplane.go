package localcluster

import (
	"bytes"
	"context"
	"fmt"
	"io"
	"net/http"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"time"

	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/util/wait"
	"k8s.io/client-go/kubernetes"
)

const (
	serviceCIDR  = "10.96.0.0/16"
	startTimeout = 90 * time.Second
)

func (c *Cluster) writeCredentials() error {
	p := c.pki()
	if err := p.generate(); err != nil {
		return err
	}
	if err := c.writeRealNodeCredentials(); err != nil {
		return err
	}
	return writeKubeconfig(c.Kubeconfig(), c.Server(), p)
}

func (c *Cluster) bin(name string) string { return filepath.Join(c.st.K8sBinDir, name) }

func (c *Cluster) startEtcd(ctx context.Context) error {
	client := fmt.Sprintf("http://127.0.0.1:%d", c.st.EtcdPort)
	peer := fmt.Sprintf("http://127.0.0.1:%d", c.st.EtcdPeerPort)
	argv := []string{c.cfg.EtcdPath,
		"--name=default", "--data-dir=" + filepath.Join(c.cfg.StateDir, "etcd"),
		"--listen-client-urls=" + client, "--advertise-client-urls=" + client,
		"--listen-peer-urls=" + peer, "--initial-advertise-peer-urls=" + peer,
		"--initial-cluster=default=" + peer, "--log-level=warn", "--logger=zap",
		"--snapshot-count=10000", "--quota-backend-bytes=4294967296",
	}
	info, err := c.spawn(Process{Name: "etcd", Argv: argv}, tierStore, 0)
	if err != nil {
		return err
	}
	return c.waitFor(ctx, info, func(ctx context.Context) (bool, error) {
		body, err := httpGet(ctx, http.DefaultClient, client+"/health")
		return err == nil && strings.Contains(body, `"health":"true"`), nil
	})
}

func (c *Cluster) startAPIServer(ctx context.Context) error {
	p := c.pki()
	argv := []string{c.bin("kube-apiserver"),
		"--etcd-servers=" + fmt.Sprintf("http://127.0.0.1:%d", c.st.EtcdPort),
		"--bind-address=127.0.0.1", "--advertise-address=127.0.0.1",
		"--secure-port=" + strconv.Itoa(c.st.APIServerPort),
		"--tls-cert-file=" + p.servingCert(), "--tls-private-key-file=" + p.servingKey(),
		"--client-ca-file=" + p.caCert(),
		"--service-account-issuer=https://kubernetes.default.svc.cluster.local",
		"--service-account-key-file=" + p.saPub(), "--service-account-signing-key-file=" + p.saKey(),
		"--authorization-mode=RBAC", "--service-cluster-ip-range=" + serviceCIDR,
		"--allow-privileged=true", "--endpoint-reconciler-type=none", "--profiling=false",
		"--cert-dir=" + filepath.Join(c.cfg.StateDir, "pki", "apiserver-generated"),
	}
	argv = withFlags(argv, c.realNodeAPIServerFlags())
	argv = withFlags(argv, c.cfg.APIServerArgs)
	info, err := c.spawn(Process{Name: "kube-apiserver", Argv: argv}, tierAPI, 0)
	if err != nil {
		return err
	}
	cfg, err := c.RESTConfig()
	if err != nil {
		return err
	}
	cs, err := kubernetes.NewForConfig(cfg)
	if err != nil {
		return fmt.Errorf("build clientset: %w", err)
	}
	return c.waitFor(ctx, info, func(ctx context.Context) (bool, error) {
		body, err := cs.Discovery().RESTClient().Get().AbsPath("/readyz").DoRaw(ctx)
		return err == nil && string(body) == "ok", nil
	})
}

func (c *Cluster) startControllers() error {
	p, kc := c.pki(), c.Kubeconfig()
	auth := []string{"--kubeconfig=" + kc, "--authentication-kubeconfig=" + kc, "--authorization-kubeconfig=" + kc,
		"--secure-port=0", "--leader-elect=false"}
	kcm := append([]string{c.bin("kube-controller-manager")}, auth...)
	kcm = append(kcm, "--service-account-private-key-file="+p.saKey(), "--root-ca-file="+p.caCert(),
		"--use-service-account-credentials=false", "--controllers=*",
		"--kube-api-qps=100", "--kube-api-burst=200")
	kcm = append(kcm, c.cfg.ControllerManagerArgs...)
	if _, err := c.spawn(Process{Name: "kube-controller-manager", Argv: kcm}, tierControl, 0); err != nil {
		return err
	}
	sched := append([]string{c.bin("kube-scheduler")}, auth...)
	_, err := c.spawn(Process{Name: "kube-scheduler", Argv: sched}, tierControl, 0)
	return err
}

// waitServiceAccount waits for the controller-manager to create the default
// service account, without which no pod can be admitted.
func (c *Cluster) waitServiceAccount(ctx context.Context) error {
	cs, err := c.Clientset()
	if err != nil {
		return err
	}
	return c.waitFor(ctx, c.mustInfo("kube-controller-manager"), func(ctx context.Context) (bool, error) {
		_, err := cs.CoreV1().ServiceAccounts(metav1.NamespaceDefault).Get(ctx, "default", metav1.GetOptions{})
		return err == nil, nil
	})
}

func (c *Cluster) waitNodesReady(ctx context.Context) error {
	cs, err := c.Clientset()
	if err != nil {
		return err
	}
	return wait.PollUntilContextTimeout(ctx, 200*time.Millisecond, startTimeout, true, func(ctx context.Context) (bool, error) {
		for _, n := range c.st.Nodes {
			if p := c.mustInfo(c.nodeProcessName(n.Name)); !p.Alive() || isZombie(p.PID) {
				return false, fmt.Errorf("%s exited: %s", p.Name, logTail(p.Log, 5))
			}
			node, err := cs.CoreV1().Nodes().Get(ctx, n.Name, metav1.GetOptions{})
			if err != nil || !NodeReady(node) {
				return false, nil
			}
		}
		return true, nil
	})
}

// NodeReady reports whether a node's Ready condition is True.
func NodeReady(n *corev1.Node) bool {
	for _, cond := range n.Status.Conditions {
		if cond.Type == corev1.NodeReady {
			return cond.Status == corev1.ConditionTrue
		}
	}
	return false
}

// mustInfo returns the recorded pid file of name, or a zero one.
func (c *Cluster) mustInfo(name string) ProcessInfo {
	procs, _ := c.Processes()
	for _, p := range procs {
		if p.Name == name {
			return p
		}
	}
	return ProcessInfo{Name: name}
}

// waitFor polls ready until it reports true, failing early (with the end of
// the log) if the process dies.
func (c *Cluster) waitFor(ctx context.Context, p ProcessInfo, ready wait.ConditionWithContextFunc) error {
	err := wait.PollUntilContextTimeout(ctx, 100*time.Millisecond, startTimeout, true, func(ctx context.Context) (bool, error) {
		if p.PID != 0 && (!p.Alive() || isZombie(p.PID)) {
			return false, fmt.Errorf("%s exited: %s", p.Name, logTail(p.Log, 5))
		}
		return ready(ctx)
	})
	if err != nil {
		return fmt.Errorf("wait for %s: %w", p.Name, err)
	}
	return nil
}

func httpGet(ctx context.Context, client *http.Client, url string) (string, error) {
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, url, nil)
	if err != nil {
		return "", err
	}
	resp, err := client.Do(req)
	if err != nil {
		return "", err
	}
	defer resp.Body.Close()
	body, err := io.ReadAll(io.LimitReader(resp.Body, 4096))
	return string(body), err
}

// logTail returns the last n lines of a log file, for error messages.
func logTail(path string, n int) string {
	data, err := os.ReadFile(path)
	if err != nil {
		return "(no log)"
	}
	lines := bytes.Split(bytes.TrimSpace(data), []byte("\n"))
	if len(lines) > n {
		lines = lines[len(lines)-n:]
	}
	return string(bytes.Join(lines, []byte(" | ")))
}
