//go:build e2e

package cni

import (
	"errors"
	"testing"
	"time"

	"github.com/containernetworking/cni/pkg/types"
	current "github.com/containernetworking/cni/pkg/types/100"
	"github.com/containernetworking/cni/pkg/version"
	"github.com/google/go-cmp/cmp"
	"github.com/google/go-cmp/cmp/cmpopts"
)

// TestSpecVersions runs a pod's life, ADD, CHECK, a repeated ADD, DEL and a
// repeated DEL, in every spec version a runtime may speak.
func TestSpecVersions(t *testing.T) {
	requireRoot(t)
	tests := []struct {
		cniVersion string
		chain      chain
	}{
		{"0.3.1", viaMacvlan},
		{"0.4.0", viaMacvlan},
		{"1.0.0", viaMacvlan},
		{"1.1.0", direct},
	}
	for _, tt := range tests {
		t.Run(tt.cniVersion, func(t *testing.T) {
			socket := agentSocket(t)
			startAgent(t, socket)
			node := newNode(t)
			opts := networkOptions{cniVersion: tt.cniVersion, socket: socket, chain: tt.chain, ipv4Pools: []string{"p1"}}
			rt := newRuntime(t, node, opts)
			pod := newSandbox(t, "web-0")

			result := rt.mustAdd(t, pod)
			addrs, gws := summarize(result)
			if len(addrs) != 1 || gws["4"] == "" {
				t.Fatalf("ADD result: addresses %v, gateways %v; want one IPv4 address with a gateway", addrs, gws)
			}
			if tt.chain == viaMacvlan {
				wantView(t, pod, podView{exists: true, addrs: addrs, gws: gws})
			}

			if v, _ := version.GreaterThanOrEqualTo(tt.cniVersion, "0.4.0"); v {
				if err := rt.check(t, pod); err != nil {
					t.Errorf("CHECK: %v", err)
				}
			}

			// The runtime retries ADD after a failure it cannot attribute:
			// the same sandbox and interface get the same address.
			opts.chain = direct
			again := newRuntime(t, node, opts).mustAdd(t, pod)
			if againAddrs, _ := summarize(again); !cmp.Equal(againAddrs, addrs) {
				t.Errorf("repeated ADD gave %v, first ADD gave %v", againAddrs, addrs)
			}

			if err := rt.del(t, pod); err != nil {
				t.Fatalf("DEL: %v", err)
			}
			if tt.chain == viaMacvlan {
				wantView(t, pod, podView{})
			}
			if err := rt.del(t, pod); err != nil {
				t.Errorf("second DEL: %v", err)
			}
		})
	}
}

func TestDualStack(t *testing.T) {
	requireRoot(t)
	socket := agentSocket(t)
	startAgent(t, socket)
	rt := newRuntime(t, newNode(t), networkOptions{
		cniVersion: "1.0.0", socket: socket, chain: viaMacvlan,
		ipv4Pools: []string{"p1"}, ipv6Pools: []string{"p6"},
	})
	pod := newSandbox(t, "dual-0")

	addrs, gws := summarize(rt.mustAdd(t, pod))
	if len(addrs) != 2 || gws["4"] == "" || gws["6"] == "" {
		t.Fatalf("ADD result: addresses %v, gateways %v; want an IPv4 and an IPv6 address, each with a gateway", addrs, gws)
	}
	wantView(t, pod, podView{exists: true, addrs: addrs, gws: gws})
	if err := rt.check(t, pod); err != nil {
		t.Errorf("CHECK: %v", err)
	}
	if err := rt.del(t, pod); err != nil {
		t.Fatalf("DEL: %v", err)
	}
	wantView(t, pod, podView{})
}

// TestDelAfterAgentLostState: the agent restarted and knows nothing of the
// pod; DEL has nothing to release and succeeds.
func TestDelAfterAgentLostState(t *testing.T) {
	requireRoot(t)
	socket := agentSocket(t)
	stop := startAgent(t, socket)
	rt := newRuntime(t, newNode(t), networkOptions{cniVersion: "1.0.0", socket: socket, chain: viaMacvlan, ipv4Pools: []string{"p1"}})
	pod := newSandbox(t, "web-0")
	rt.mustAdd(t, pod)

	stop()
	startAgent(t, socket)
	if err := rt.del(t, pod); err != nil {
		t.Fatalf("DEL: %v", err)
	}
	wantView(t, pod, podView{})
}

// TestAgentDown: without its agent the plugin fails every command with a
// code the runtime acts on and a message naming the socket.
func TestAgentDown(t *testing.T) {
	requireRoot(t)

	t.Run("ADD: try again later", func(t *testing.T) {
		socket := agentSocket(t)
		rt := newRuntime(t, newNode(t), networkOptions{cniVersion: "1.0.0", socket: socket, chain: viaMacvlan, ipv4Pools: []string{"p1"}})
		pod := newSandbox(t, "web-0")
		_, err := rt.add(t, pod)
		wantCNIError(t, err, types.ErrTryAgainLater, "ipkeeper agent unreachable at "+socket)
	})

	t.Run("DEL: try again later, then released once the agent is back", func(t *testing.T) {
		socket := agentSocket(t)
		stop := startAgent(t, socket)
		rt := newRuntime(t, newNode(t), networkOptions{cniVersion: "1.0.0", socket: socket, chain: viaMacvlan, ipv4Pools: []string{"p1"}})
		pod := newSandbox(t, "web-0")
		rt.mustAdd(t, pod)

		stop()
		wantCNIError(t, rt.del(t, pod), types.ErrTryAgainLater, "ipkeeper agent unreachable at "+socket)

		startAgent(t, socket)
		if err := rt.del(t, pod); err != nil {
			t.Fatalf("DEL retried with the agent back: %v", err)
		}
		wantView(t, pod, podView{})
	})

	t.Run("STATUS: plugin not available", func(t *testing.T) {
		socket := agentSocket(t)
		rt := newRuntime(t, newNode(t), networkOptions{cniVersion: "1.1.0", socket: socket, chain: direct, ipv4Pools: []string{"p1"}})
		wantCNIError(t, rt.status(t), types.ErrPluginNotAvailable, "ipkeeper agent unreachable at "+socket)

		startAgent(t, socket)
		if err := rt.status(t); err != nil {
			t.Errorf("STATUS with the agent up: %v", err)
		}
	})
}

// TestGC: the runtime lost its cache (so it issues no DEL itself) and sends
// GC with the attachments still in use; the agent releases the others.
func TestGC(t *testing.T) {
	requireRoot(t)
	socket := agentSocket(t)
	startAgent(t, socket)
	node := newNode(t)
	opts := networkOptions{cniVersion: "1.1.0", socket: socket, chain: direct, ipv4Pools: []string{"p1"}}
	rt := newRuntime(t, node, opts)
	kept, gone := newSandbox(t, "kept-0"), newSandbox(t, "gone-0")
	rt.mustAdd(t, kept)
	rt.mustAdd(t, gone)
	for _, sb := range []*sandbox{kept, gone} {
		if err := rt.check(t, sb); err != nil {
			t.Fatalf("CHECK before GC: %v", err)
		}
	}

	restarted := newRuntime(t, node, opts) // empty cache
	if err := restarted.gc(t, kept); err != nil {
		t.Fatalf("GC: %v", err)
	}

	poll(t, 10*time.Second, "CHECK of the collected sandbox to fail", func() bool { return rt.check(t, gone) != nil })
	if err := rt.check(t, kept); err != nil {
		t.Errorf("CHECK of the sandbox GC was told to keep: %v", err)
	}
}

// TestAddWithoutPodName: a runtime that does not pass the pod gets an error
// naming the missing argument.
func TestAddWithoutPodName(t *testing.T) {
	requireRoot(t)
	socket := agentSocket(t)
	startAgent(t, socket)
	rt := newRuntime(t, newNode(t), networkOptions{cniVersion: "1.0.0", socket: socket, chain: viaMacvlan, ipv4Pools: []string{"p1"}})
	pod := newSandbox(t, "web-0")
	pod.rt.Args = pod.rt.Args[:2] // IgnoreUnknown and K8S_POD_NAMESPACE only

	_, err := rt.add(t, pod)
	wantCNIError(t, err, types.ErrInvalidEnvironmentVariables, "missing K8S_POD_NAME in CNI_ARGS")

	// The runtime follows a failed ADD with DEL, with the same arguments;
	// it succeeds and removes what macvlan 1.1.1 left behind.
	if err := rt.del(t, pod); err != nil {
		t.Fatalf("DEL after the failed ADD: %v", err)
	}
	wantView(t, pod, podView{})
}

// summarize returns a result's addresses (CIDR form) and its default
// routes' gateways by family.
func summarize(result *current.Result) (addrs []string, gws map[string]string) {
	gws = map[string]string{}
	for _, ip := range result.IPs {
		addrs = append(addrs, ip.Address.String())
	}
	for _, r := range result.Routes {
		if isDefault(&r.Dst) && r.GW != nil {
			gws[family(r.GW)] = r.GW.String()
		}
	}
	return addrs, gws
}

func wantView(t *testing.T, sb *sandbox, want podView) {
	t.Helper()
	if want.gws == nil {
		want.gws = map[string]string{}
	}
	got := sb.view(t)
	if diff := cmp.Diff(want, got, cmp.AllowUnexported(podView{}), cmpopts.SortSlices(func(a, b string) bool { return a < b })); diff != "" {
		t.Errorf("pod's %s (-want +got):\n%s", podIfName, diff)
	}
}

func wantCNIError(t *testing.T, err error, code uint, msg string) {
	t.Helper()
	var cniErr *types.Error
	if !errors.As(err, &cniErr) {
		t.Fatalf("error = %v, want a CNI error with code %d", err, code)
	}
	if cniErr.Code != code || cniErr.Msg != msg {
		t.Errorf("error = code %d %q (details %q), want code %d %q", cniErr.Code, cniErr.Msg, cniErr.Details, code, msg)
	}
}

// poll waits until cond holds, failing the test after timeout.
func poll(t *testing.T, timeout time.Duration, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(timeout)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("timed out after %v waiting for %s", timeout, what)
		}
		time.Sleep(50 * time.Millisecond)
	}
}
