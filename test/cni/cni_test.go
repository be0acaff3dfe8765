//go:build e2e

package cni

import (
	"context"
	"errors"
	"strings"
	"testing"
	"time"

	"github.com/containernetworking/cni/pkg/types"
	current "github.com/containernetworking/cni/pkg/types/100"
	"github.com/containernetworking/cni/pkg/version"
	"github.com/google/go-cmp/cmp"
	"github.com/google/go-cmp/cmp/cmpopts"

	"github.com/ipkeeper/ipkeeper/internal/agentapi"
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
			node := newNode(t)
			startAgent(t, node, socket)
			opts := networkOptions{cniVersion: tt.cniVersion, socket: socket, chain: tt.chain, ipv4Pools: []string{"p1"}}
			rt := newRuntime(t, node, opts)
			pod := newSandbox(t, node, "web-0", nil)

			result := rt.mustAdd(t, pod)
			addrs, gws := summarize(result)
			if len(addrs) != 1 || gws["4"] == "" {
				t.Fatalf("ADD result: addresses %v, gateways %v; want one IPv4 address with a gateway", addrs, gws)
			}
			wantClaims(t, node, addrs...)
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
			wantClaims(t, node, addrs...)

			endPod(t, pod)
			if err := rt.del(t, pod); err != nil {
				t.Fatalf("DEL: %v", err)
			}
			wantClaims(t, node)
			if tt.chain == viaMacvlan {
				wantView(t, pod, podView{})
			}
			if err := rt.del(t, pod); err != nil {
				t.Errorf("second DEL: %v", err)
			}
		})
	}
}

// TestDualStack: a pod gets an IPv4 and an IPv6 address, whether the
// netconf or the pod's annotation names the pools.
func TestDualStack(t *testing.T) {
	requireRoot(t)
	tests := []struct {
		name                 string
		ipv4Pools, ipv6Pools []string
		annotations          map[string]string
	}{
		{name: "netconf pools", ipv4Pools: []string{"p1"}, ipv6Pools: []string{"p6"}},
		{name: "pod annotation", annotations: map[string]string{"ipam.spidernet.io/ippool": `{"ipv4":["p1"],"ipv6":["p6"]}`}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			socket := agentSocket(t)
			node := newNode(t)
			startAgent(t, node, socket)
			rt := newRuntime(t, node, networkOptions{
				cniVersion: "1.0.0", socket: socket, chain: viaMacvlan,
				ipv4Pools: tt.ipv4Pools, ipv6Pools: tt.ipv6Pools,
			})
			pod := newSandbox(t, node, "dual-0", tt.annotations)

			addrs, gws := summarize(rt.mustAdd(t, pod))
			if len(addrs) != 2 || gws["4"] == "" || gws["6"] == "" {
				t.Fatalf("ADD result: addresses %v, gateways %v; want an IPv4 and an IPv6 address, each with a gateway", addrs, gws)
			}
			wantClaims(t, node, addrs...)
			wantView(t, pod, podView{exists: true, addrs: addrs, gws: gws})
			if err := rt.check(t, pod); err != nil {
				t.Errorf("CHECK: %v", err)
			}
			endPod(t, pod)
			if err := rt.del(t, pod); err != nil {
				t.Fatalf("DEL: %v", err)
			}
			wantClaims(t, node)
			wantView(t, pod, podView{})
		})
	}
}

// TestDelAfterAgentRestart: the agent keeps its state in the API server, so
// an agent restarted between ADD and DEL still releases the address.
func TestDelAfterAgentRestart(t *testing.T) {
	requireRoot(t)
	socket := agentSocket(t)
	node := newNode(t)
	stop := startAgent(t, node, socket)
	rt := newRuntime(t, node, networkOptions{cniVersion: "1.0.0", socket: socket, chain: viaMacvlan, ipv4Pools: []string{"p1"}})
	pod := newSandbox(t, node, "web-0", nil)
	addrs, _ := summarize(rt.mustAdd(t, pod))

	stop()
	startAgent(t, node, socket)
	wantClaims(t, node, addrs...)
	if err := rt.check(t, pod); err != nil {
		t.Errorf("CHECK after the restart: %v", err)
	}
	endPod(t, pod)
	if err := rt.del(t, pod); err != nil {
		t.Fatalf("DEL: %v", err)
	}
	wantClaims(t, node)
	wantView(t, pod, podView{})
}

// TestDelAfterClaimDeleted: someone (an operator, the controller) deleted
// the pod's claim; DEL has nothing to release and succeeds.
func TestDelAfterClaimDeleted(t *testing.T) {
	requireRoot(t)
	socket := agentSocket(t)
	node := newNode(t)
	startAgent(t, node, socket)
	rt := newRuntime(t, node, networkOptions{cniVersion: "1.0.0", socket: socket, chain: viaMacvlan, ipv4Pools: []string{"p1"}})
	pod := newSandbox(t, node, "web-0", nil)
	addrs, _ := summarize(rt.mustAdd(t, pod))
	wantClaims(t, node, addrs...)

	for _, c := range claims(t, node) {
		if err := kube.client.Delete(t.Context(), &c); err != nil {
			t.Fatalf("delete claim %s: %v", c.Name, err)
		}
	}
	if err := rt.del(t, pod); err != nil {
		t.Fatalf("DEL: %v", err)
	}
	wantClaims(t, node)
	wantView(t, pod, podView{})
}

// TestAgentDown: without its agent the plugin fails every command with a
// code the runtime acts on and a message naming the socket.
func TestAgentDown(t *testing.T) {
	requireRoot(t)

	t.Run("ADD: try again later", func(t *testing.T) {
		socket := agentSocket(t)
		node := newNode(t)
		rt := newRuntime(t, node, networkOptions{cniVersion: "1.0.0", socket: socket, chain: viaMacvlan, ipv4Pools: []string{"p1"}})
		pod := newSandbox(t, node, "web-0", nil)
		_, err := rt.add(t, pod)
		wantCNIError(t, err, types.ErrTryAgainLater, "ipkeeper agent unreachable at "+socket)
		wantClaims(t, node)
	})

	t.Run("DEL: try again later, then released once the agent is back", func(t *testing.T) {
		socket := agentSocket(t)
		node := newNode(t)
		stop := startAgent(t, node, socket)
		rt := newRuntime(t, node, networkOptions{cniVersion: "1.0.0", socket: socket, chain: viaMacvlan, ipv4Pools: []string{"p1"}})
		pod := newSandbox(t, node, "web-0", nil)
		addrs, _ := summarize(rt.mustAdd(t, pod))

		stop()
		endPod(t, pod)
		wantCNIError(t, rt.del(t, pod), types.ErrTryAgainLater, "ipkeeper agent unreachable at "+socket)
		wantClaims(t, node, addrs...)

		startAgent(t, node, socket)
		if err := rt.del(t, pod); err != nil {
			t.Fatalf("DEL retried with the agent back: %v", err)
		}
		wantClaims(t, node)
		wantView(t, pod, podView{})
	})

	t.Run("STATUS: plugin not available", func(t *testing.T) {
		socket := agentSocket(t)
		node := newNode(t)
		rt := newRuntime(t, node, networkOptions{cniVersion: "1.1.0", socket: socket, chain: direct, ipv4Pools: []string{"p1"}})
		wantCNIError(t, rt.status(t), types.ErrPluginNotAvailable, "ipkeeper agent unreachable at "+socket)

		startAgent(t, node, socket)
		if err := rt.status(t); err != nil {
			t.Errorf("STATUS with the agent up: %v", err)
		}
	})
}

// TestGC: the runtime lost its cache (so it issues no DEL itself) and sends
// GC with the attachments still in use.
//
// The agent releases only claims older than a minute (ipam's gcMinAge: the
// ADD of a sandbox the runtime does not list yet may still be in flight).
// Waiting that minute out would make this the slowest test by far, so what
// is asserted here is that GC is accepted through the plugin, that the
// attachment in the valid list keeps its address, and that the attachment
// missing from it keeps its address too because it is seconds old. That an
// old attachment missing from the list is released is not asserted here.
func TestGC(t *testing.T) {
	requireRoot(t)
	socket := agentSocket(t)
	node := newNode(t)
	startAgent(t, node, socket)
	opts := networkOptions{cniVersion: "1.1.0", socket: socket, chain: direct, ipv4Pools: []string{"p1"}}
	rt := newRuntime(t, node, opts)
	kept, young := newSandbox(t, node, "kept-0", nil), newSandbox(t, node, "young-0", nil)
	keptAddrs, _ := summarize(rt.mustAdd(t, kept))
	youngAddrs, _ := summarize(rt.mustAdd(t, young))
	for _, sb := range []*sandbox{kept, young} {
		if err := rt.check(t, sb); err != nil {
			t.Fatalf("CHECK before GC: %v", err)
		}
	}

	restarted := newRuntime(t, node, opts) // empty cache
	if err := restarted.gc(t, kept); err != nil {
		t.Fatalf("GC: %v", err)
	}

	wantClaims(t, node, append(keptAddrs, youngAddrs...)...)
	if err := rt.check(t, kept); err != nil {
		t.Errorf("CHECK of the sandbox GC was told to keep: %v", err)
	}
	if err := rt.check(t, young); err != nil {
		t.Errorf("CHECK of the sandbox too young to collect: %v", err)
	}
}

// TestCheckWithoutAddresses: CHECK fails, with "not found", for a sandbox
// whose claim is gone from the API server.
func TestCheckWithoutAddresses(t *testing.T) {
	requireRoot(t)
	socket := agentSocket(t)
	node := newNode(t)
	startAgent(t, node, socket)
	rt := newRuntime(t, node, networkOptions{cniVersion: "1.1.0", socket: socket, chain: direct, ipv4Pools: []string{"p1"}})
	pod := newSandbox(t, node, "web-0", nil)
	rt.mustAdd(t, pod)
	for _, c := range claims(t, node) {
		if err := kube.client.Delete(t.Context(), &c); err != nil {
			t.Fatalf("delete claim %s: %v", c.Name, err)
		}
	}

	// The agent learns of the deletion from its informer.
	var err error
	poll(t, 10*time.Second, "CHECK to fail", func(context.Context) (bool, error) {
		err = rt.check(t, pod)
		return err != nil, nil
	})
	var cniErr *types.Error
	if !errors.As(err, &cniErr) || cniErr.Code != agentapi.CodeNotFound || !strings.Contains(cniErr.Msg, pod.rt.ContainerID) {
		t.Errorf("CHECK: %v; want code %d naming sandbox %s", err, agentapi.CodeNotFound, pod.rt.ContainerID)
	}
}

// TestAddWithoutPodName: a runtime that does not pass the pod gets an error
// naming the missing argument.
func TestAddWithoutPodName(t *testing.T) {
	requireRoot(t)
	socket := agentSocket(t)
	node := newNode(t)
	startAgent(t, node, socket)
	rt := newRuntime(t, node, networkOptions{cniVersion: "1.0.0", socket: socket, chain: viaMacvlan, ipv4Pools: []string{"p1"}})
	pod := newSandbox(t, node, "web-0", nil)
	pod.rt.Args = pod.rt.Args[:2] // IgnoreUnknown and K8S_POD_NAMESPACE only

	_, err := rt.add(t, pod)
	wantCNIError(t, err, types.ErrInvalidEnvironmentVariables, "missing K8S_POD_NAME in CNI_ARGS")
	wantClaims(t, node)

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
