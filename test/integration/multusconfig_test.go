//go:build integration

package integration

import (
	"bytes"
	"context"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/go-logr/logr"
	"github.com/go-logr/logr/funcr"
	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/apimachinery/pkg/types"
	clientgoscheme "k8s.io/client-go/kubernetes/scheme"
	"k8s.io/utils/ptr"
	ctrl "sigs.k8s.io/controller-runtime"
	"sigs.k8s.io/controller-runtime/pkg/cache"
	"sigs.k8s.io/controller-runtime/pkg/client"
	"sigs.k8s.io/controller-runtime/pkg/config"
	metricsserver "sigs.k8s.io/controller-runtime/pkg/metrics/server"

	nadv1 "github.com/ipkeeper/ipkeeper/api/nad/v1"
	"github.com/ipkeeper/ipkeeper/api/v2beta1"
	"github.com/ipkeeper/ipkeeper/internal/controller/multusconfig"
	"github.com/ipkeeper/ipkeeper/test/localcluster"
)

const (
	seedSMCName = "macvlan-ens192"
	// seedNADConfig is what the seed's SpiderMultusConfig renders to.
	seedNADConfig = `{"cniVersion":"0.3.1","name":"macvlan-ens192","plugins":[{"type":"macvlan","master":"ens192","mode":"bridge","ipam":{"type":"spiderpool"}},{"type":"coordinator"}]}`
)

// startMultusConfig runs the multusconfig reconciler in-process, watching ns
// only, until the test ends. It returns a client whose scheme knows NADs.
func startMultusConfig(t *testing.T, ns string) client.Client {
	t.Helper()
	cfg, err := localcluster.RESTConfigFrom(env.kubeconfig)
	if err != nil {
		t.Fatalf("rest config: %v", err)
	}
	scheme := runtime.NewScheme()
	for _, add := range []func(*runtime.Scheme) error{clientgoscheme.AddToScheme, v2beta1.AddToScheme, nadv1.AddToScheme} {
		if err := add(scheme); err != nil {
			t.Fatalf("scheme: %v", err)
		}
	}
	c, err := client.New(cfg, client.Options{Scheme: scheme})
	if err != nil {
		t.Fatalf("client: %v", err)
	}
	logs := &syncBuffer{}
	t.Cleanup(func() {
		if t.Failed() {
			t.Logf("controller logs:\n%s", logs.String())
		}
	})
	logger := funcr.New(func(prefix, args string) { logs.line(prefix + " " + args) }, funcr.Options{Verbosity: 1})
	mgr, err := ctrl.NewManager(cfg, ctrl.Options{
		Scheme:                 scheme,
		Logger:                 logger,
		Metrics:                metricsserver.Options{BindAddress: "0"},
		HealthProbeBindAddress: "0",
		Cache:                  cache.Options{DefaultNamespaces: map[string]cache.Config{ns: {}}},
		// Every test starts its own manager, each with a "multusconfig" controller.
		Controller: config.Controller{SkipNameValidation: ptr.To(true)},
	})
	if err != nil {
		t.Fatalf("manager: %v", err)
	}
	r := &multusconfig.Reconciler{Client: mgr.GetClient(), Recorder: mgr.GetEventRecorder("ipkeeper-multusconfig")}
	if err := r.SetupWithManager(mgr); err != nil {
		t.Fatalf("setup reconciler: %v", err)
	}
	// The logger in the context reaches client-go's informers too.
	ctx, cancel := context.WithCancel(logr.NewContext(context.Background(), logger))
	done := make(chan error, 1)
	go func() { done <- mgr.Start(ctx) }()
	t.Cleanup(func() {
		cancel()
		if err := <-done; err != nil {
			t.Errorf("manager: %v", err)
		}
	})
	return c
}

// syncBuffer collects the controller's log lines.
type syncBuffer struct {
	mu  sync.Mutex
	buf bytes.Buffer
}

func (b *syncBuffer) line(s string) {
	b.mu.Lock()
	defer b.mu.Unlock()
	b.buf.WriteString(s + "\n")
}

func (b *syncBuffer) String() string {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.String()
}

func seedSMC(ns string) *v2beta1.SpiderMultusConfig {
	return &v2beta1.SpiderMultusConfig{
		ObjectMeta: metav1.ObjectMeta{Namespace: ns, Name: seedSMCName},
		Spec: v2beta1.SpiderMultusConfigSpec{
			CNIType:           v2beta1.CNITypeMacvlan,
			EnableCoordinator: ptr.To(true),
			Macvlan:           &v2beta1.MasterNICConfig{Master: []string{"ens192"}},
		},
	}
}

// waitNAD waits until the NAD key exists, is controlled by smc and carries
// config, and returns it.
func waitNAD(t *testing.T, c client.Client, smc *v2beta1.SpiderMultusConfig, config string) *nadv1.NetworkAttachmentDefinition {
	t.Helper()
	nad := &nadv1.NetworkAttachmentDefinition{}
	poll(t, 30*time.Second, "NetworkAttachmentDefinition "+smc.Name+" with the rendered config", func(ctx context.Context) (bool, error) {
		err := c.Get(ctx, client.ObjectKeyFromObject(smc), nad)
		if err != nil {
			return false, client.IgnoreNotFound(err)
		}
		return nad.Spec.Config == config && metav1.IsControlledBy(nad, smc), nil
	})
	return nad
}

// waitWarning waits for a Warning event with reason on the SpiderMultusConfig
// name whose message contains text.
func waitWarning(t *testing.T, c client.Client, ns, name, reason, text string) {
	t.Helper()
	poll(t, 30*time.Second, reason+" event on "+name, func(ctx context.Context) (bool, error) {
		var events corev1.EventList
		if err := c.List(ctx, &events, client.InNamespace(ns)); err != nil {
			return false, err
		}
		for _, e := range events.Items {
			if e.InvolvedObject.Kind == "SpiderMultusConfig" && e.InvolvedObject.Name == name &&
				e.Type == corev1.EventTypeWarning && e.Reason == reason && strings.Contains(e.Message, text) {
				return true, nil
			}
		}
		return false, nil
	})
}

func TestIntegrationMultusConfigKeepsNAD(t *testing.T) {
	const ns = "multus-keep"
	namespace(t, ns)
	c := startMultusConfig(t, ns)
	smc := seedSMC(ns)
	if err := c.Create(t.Context(), smc); err != nil {
		t.Fatalf("create SpiderMultusConfig: %v", err)
	}

	nad := waitNAD(t, c, smc, seedNADConfig)
	if len(nad.OwnerReferences) != 1 || nad.OwnerReferences[0].Kind != "SpiderMultusConfig" || nad.OwnerReferences[0].UID != smc.UID {
		t.Fatalf("NAD owner references %+v; want one controller reference to SpiderMultusConfig %s", nad.OwnerReferences, smc.UID)
	}

	// Deleted: it comes back.
	first := nad.UID
	if err := c.Delete(t.Context(), nad); err != nil {
		t.Fatalf("delete NAD: %v", err)
	}
	poll(t, 30*time.Second, "the NAD to be re-created", func(ctx context.Context) (bool, error) {
		err := c.Get(ctx, client.ObjectKeyFromObject(smc), nad)
		if err != nil {
			return false, client.IgnoreNotFound(err)
		}
		return nad.UID != first && nad.Spec.Config == seedNADConfig, nil
	})

	// Edited: the NAD follows.
	if err := c.Get(t.Context(), client.ObjectKeyFromObject(smc), smc); err != nil {
		t.Fatalf("get SpiderMultusConfig: %v", err)
	}
	smc.Spec.Macvlan.VlanID = ptr.To[int32](100)
	smc.Spec.Macvlan.IPPools = &v2beta1.PoolNames{IPv4: []string{"test-ippool"}}
	if err := c.Update(t.Context(), smc); err != nil {
		t.Fatalf("update SpiderMultusConfig: %v", err)
	}
	waitNAD(t, c, smc, `{"cniVersion":"0.3.1","name":"macvlan-ens192","plugins":[{"type":"macvlan","master":"ens192.100","mode":"bridge",`+
		`"ipam":{"type":"spiderpool","default_ipv4_ippool":["test-ippool"]}},{"type":"coordinator"}]}`)

	// Deleted SpiderMultusConfig: the garbage collector removes the NAD.
	if err := c.Delete(t.Context(), smc); err != nil {
		t.Fatalf("delete SpiderMultusConfig: %v", err)
	}
	poll(t, 120*time.Second, "the garbage collector to delete the NAD", func(ctx context.Context) (bool, error) {
		err := c.Get(ctx, client.ObjectKeyFromObject(smc), &nadv1.NetworkAttachmentDefinition{})
		if apierrors.IsNotFound(err) {
			return true, nil
		}
		return false, err
	})
}

func TestIntegrationMultusConfigLeavesForeignNAD(t *testing.T) {
	const ns = "multus-foreign"
	const theirs = `{"cniVersion":"0.3.1","name":"theirs","type":"bridge"}`
	namespace(t, ns)
	c := startMultusConfig(t, ns)
	foreign := &nadv1.NetworkAttachmentDefinition{
		ObjectMeta: metav1.ObjectMeta{Namespace: ns, Name: seedSMCName},
		Spec:       nadv1.NetworkAttachmentDefinitionSpec{Config: theirs},
	}
	if err := c.Create(t.Context(), foreign); err != nil {
		t.Fatalf("create foreign NAD: %v", err)
	}
	smc := seedSMC(ns)
	if err := c.Create(t.Context(), smc); err != nil {
		t.Fatalf("create SpiderMultusConfig: %v", err)
	}

	waitWarning(t, c, ns, smc.Name, multusconfig.ReasonForeignNAD, "is not controlled by this SpiderMultusConfig")
	got := &nadv1.NetworkAttachmentDefinition{}
	if err := c.Get(t.Context(), client.ObjectKeyFromObject(foreign), got); err != nil {
		t.Fatalf("get foreign NAD: %v", err)
	}
	if got.Spec.Config != theirs || len(got.OwnerReferences) != 0 || got.ResourceVersion != foreign.ResourceVersion {
		t.Fatalf("foreign NAD was touched: config %s, owners %+v, resourceVersion %s (was %s)",
			got.Spec.Config, got.OwnerReferences, got.ResourceVersion, foreign.ResourceVersion)
	}

	// Once the foreign NAD is gone, the SpiderMultusConfig gets its own.
	if err := c.Delete(t.Context(), got); err != nil {
		t.Fatalf("delete foreign NAD: %v", err)
	}
	waitNAD(t, c, smc, seedNADConfig)
}

func TestIntegrationMultusConfigInvalidSpec(t *testing.T) {
	const ns = "multus-invalid"
	namespace(t, ns)
	c := startMultusConfig(t, ns)
	// Two masters without a bond pass the CRD schema; only Validate refuses them.
	smc := seedSMC(ns)
	smc.Spec.Macvlan.Master = []string{"ens192", "ens224"}
	if err := c.Create(t.Context(), smc); err != nil {
		t.Fatalf("create SpiderMultusConfig: %v", err)
	}

	waitWarning(t, c, ns, smc.Name, multusconfig.ReasonInvalidSpec, `spec.macvlan.master: Invalid value: ["ens192","ens224"]`)
	err := c.Get(t.Context(), types.NamespacedName{Namespace: ns, Name: smc.Name}, &nadv1.NetworkAttachmentDefinition{})
	if !apierrors.IsNotFound(err) {
		t.Fatalf("get NAD of an invalid SpiderMultusConfig: %v; want not found", err)
	}

	// Fixing the spec ends the terminal state.
	if err := c.Get(t.Context(), client.ObjectKeyFromObject(smc), smc); err != nil {
		t.Fatalf("get SpiderMultusConfig: %v", err)
	}
	smc.Spec.Macvlan.Master = []string{"ens192"}
	if err := c.Update(t.Context(), smc); err != nil {
		t.Fatalf("update SpiderMultusConfig: %v", err)
	}
	waitNAD(t, c, smc, seedNADConfig)
}
