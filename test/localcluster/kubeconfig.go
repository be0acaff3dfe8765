package localcluster

import (
	"fmt"
	"os"

	"k8s.io/client-go/rest"
	"k8s.io/client-go/tools/clientcmd"
	clientcmdapi "k8s.io/client-go/tools/clientcmd/api"
)

// ContextName is the kubeconfig context of every local cluster; test helpers
// reuse a cluster only when its kubeconfig's current context has this name.
const ContextName = "ipkeeper-local"

// writeKubeconfig writes an admin kubeconfig with the certificates inlined.
func writeKubeconfig(path, server string, p pki) error {
	return writeUserKubeconfig(path, server, p, "ipkeeper-admin", p.adminCert(), p.adminKey())
}

// writeUserKubeconfig writes a kubeconfig for user's client certificate,
// everything inlined.
func writeUserKubeconfig(path, server string, p pki, user, certPath, keyPath string) error {
	ca, err := os.ReadFile(p.caCert())
	if err != nil {
		return fmt.Errorf("read CA: %w", err)
	}
	cert, err := os.ReadFile(certPath)
	if err != nil {
		return fmt.Errorf("read certificate of %s: %w", user, err)
	}
	key, err := os.ReadFile(keyPath)
	if err != nil {
		return fmt.Errorf("read key of %s: %w", user, err)
	}
	cfg := clientcmdapi.NewConfig()
	cfg.Clusters[ContextName] = &clientcmdapi.Cluster{Server: server, CertificateAuthorityData: ca}
	cfg.AuthInfos[user] = &clientcmdapi.AuthInfo{ClientCertificateData: cert, ClientKeyData: key}
	cfg.Contexts[ContextName] = &clientcmdapi.Context{Cluster: ContextName, AuthInfo: user}
	cfg.CurrentContext = ContextName
	if err := clientcmd.WriteToFile(*cfg, path); err != nil {
		return fmt.Errorf("write kubeconfig: %w", err)
	}
	return nil
}

// RESTConfigFrom loads a kubeconfig file with its current context and raises
// the client rate limits to what a busy local test needs.
func RESTConfigFrom(path string) (*rest.Config, error) {
	cfg, err := clientcmd.BuildConfigFromFlags("", path)
	if err != nil {
		return nil, fmt.Errorf("load kubeconfig %s: %w", path, err)
	}
	cfg.QPS, cfg.Burst = 100, 200
	return cfg, nil
}

// CurrentContext returns the name of a kubeconfig file's current context.
func CurrentContext(path string) (string, error) {
	cfg, err := clientcmd.LoadFromFile(path)
	if err != nil {
		return "", fmt.Errorf("load kubeconfig %s: %w", path, err)
	}
	return cfg.CurrentContext, nil
}
