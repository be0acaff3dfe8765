//go:build integration

package integration

import (
	"context"
	"os"
	"path/filepath"
	"testing"
	"time"

	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/utils/ptr"
	"sigs.k8s.io/controller-runtime/pkg/client"

	"github.com/ipkeeper/ipkeeper/api/v2beta1"
)

// The controller creates the configuration's default pools once its webhooks
// serve (the webhook defaults them: ipVersion is set), and leaves an
// existing pool of such a name as it is.
func TestIntegrationControllerCreatesTheDefaultPoolsOfItsConfiguration(t *testing.T) {
	ctx := t.Context()
	existing := ipPool("cfg-default-kept", "10.47.0.0/16", "10.47.0.10")
	mustCreate(t, existing)
	t.Cleanup(func() {
		for _, name := range []string{"cfg-default-v4", "cfg-default-kept"} {
			_ = env.client.Delete(context.Background(), &v2beta1.SpiderIPPool{ObjectMeta: metav1.ObjectMeta{Name: name}})
		}
	})
	conf := filepath.Join(t.TempDir(), "conf.yml")
	if err := os.WriteFile(conf, []byte(`clusterDefaultPools:
- name: cfg-default-v4
  subnet: 10.46.0.0/16
  ips: ["10.46.0.10-10.46.0.20"]
  gateway: 10.46.0.1
- name: cfg-default-kept
  subnet: 10.47.0.0/16
  ips: ["10.47.0.10-10.47.0.99"]
`), 0o600); err != nil {
		t.Fatal(err)
	}
	startControllerAs(t, env.kubeconfig, nil, "--config", conf)
	got := &v2beta1.SpiderIPPool{}
	poll(t, 60*time.Second, "the default pool cfg-default-v4", func(ctx context.Context) (bool, error) {
		err := env.client.Get(ctx, client.ObjectKey{Name: "cfg-default-v4"}, got)
		return err == nil, client.IgnoreNotFound(err)
	})
	if !ptr.Deref(got.Spec.Default, false) || ptr.Deref(got.Spec.Gateway, "") != "10.46.0.1" || got.Spec.IPVersion == nil || *got.Spec.IPVersion != 4 {
		t.Fatalf("default pool spec %+v: want default true, gateway 10.46.0.1 and ipVersion 4 set by the webhook", got.Spec)
	}
	kept := &v2beta1.SpiderIPPool{}
	if err := env.client.Get(ctx, client.ObjectKey{Name: "cfg-default-kept"}, kept); err != nil {
		t.Fatal(err)
	}
	if len(kept.Spec.IPs) != 1 || kept.Spec.IPs[0] != "10.47.0.10" || ptr.Deref(kept.Spec.Default, false) {
		t.Fatalf("the existing pool was changed: %+v", kept.Spec)
	}
}
