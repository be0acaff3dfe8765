package agent

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net"
	"net/http"
	"net/netip"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/go-logr/logr"
	"github.com/prometheus/client_golang/prometheus"
	"k8s.io/apimachinery/pkg/util/wait"

	"github.com/ipkeeper/ipkeeper/api/ipkeeper/v1alpha1"
	"github.com/ipkeeper/ipkeeper/internal/agentapi"
	"github.com/ipkeeper/ipkeeper/internal/ipam"
	"github.com/ipkeeper/ipkeeper/internal/spiderpool"
)

// recordingAllocator answers with a fixed error and counts the calls that
// reached it.
type recordingAllocator struct {
	mu    sync.Mutex
	calls int
	err   error
}

func (r *recordingAllocator) hit() error {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.calls++
	return r.err
}

func (r *recordingAllocator) Add(context.Context, *ipam.AddRequest) (*ipam.Allocation, error) {
	if err := r.hit(); err != nil {
		return nil, err
	}
	return &ipam.Allocation{IPs: []ipam.Address{{Address: netip.MustParsePrefix("10.6.168.101/16"), Pool: "p"}}}, nil
}
func (r *recordingAllocator) Del(context.Context, *ipam.DelRequest) error { return r.hit() }
func (r *recordingAllocator) Quarantine(_ context.Context, in *ipam.QuarantineRequest, _ time.Time) (*v1alpha1.IPClaim, error) {
	if err := r.hit(); err != nil {
		return nil, err
	}
	return &v1alpha1.IPClaim{Spec: v1alpha1.IPClaimSpec{Address: in.Address.String(), Pool: "p"}}, nil
}
func (r *recordingAllocator) Abandon(context.Context, *ipam.DelRequest) ([]string, error) {
	return []string{"10.6.168.101"}, r.hit()
}
func (r *recordingAllocator) Check(context.Context, *ipam.CheckRequest) error { return r.hit() }
func (r *recordingAllocator) GC(context.Context, *ipam.GCRequest, time.Time) ([]string, error) {
	return nil, r.hit()
}

type recordedEvents struct {
	mu   sync.Mutex
	msgs []string
}

func (e *recordedEvents) Warn(_ agentapi.PodRef, reason, message string) {
	e.mu.Lock()
	defer e.mu.Unlock()
	e.msgs = append(e.msgs, reason+": "+message)
}

func serve(t *testing.T, alloc Allocator, ready bool, opts ...func(*Server)) (*agentapi.Client, string, *recordedEvents) {
	t.Helper()
	sock := filepath.Join(t.TempDir(), "agent.sock")
	ev := &recordedEvents{}
	s := &Server{Socket: sock, Alloc: alloc, Events: ev, Metrics: NewMetrics(prometheus.NewRegistry()),
		Log: logr.Discard(), Ready: func() bool { return ready }}
	for _, o := range opts {
		o(s)
	}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- s.Start(ctx) }()
	t.Cleanup(func() {
		cancel()
		if err := <-done; err != nil {
			t.Errorf("server: %v", err)
		}
	})
	c := agentapi.NewClient(sock, 5*time.Second)
	// Served, not only bound: the file exists from bind(2), before listen(2),
	// and a connection in between is refused.
	err := wait.PollUntilContextTimeout(t.Context(), 10*time.Millisecond, 5*time.Second, true, func(ctx context.Context) (bool, error) {
		conn, err := (&net.Dialer{}).DialContext(ctx, "unix", sock)
		if err != nil {
			return false, nil
		}
		return true, conn.Close()
	})
	if err != nil {
		t.Fatal("socket never served")
	}
	return c, sock, ev
}

func TestSocketIsOnlyForRoot(t *testing.T) {
	_, sock, _ := serve(t, &recordingAllocator{}, true)
	st, err := os.Stat(sock)
	if err != nil {
		t.Fatal(err)
	}
	if mode := st.Mode().Perm(); mode != 0o600 {
		t.Fatalf("socket mode %v, want 0600", mode)
	}
}

func TestRequestsAreValidatedBeforeAnyWork(t *testing.T) {
	alloc := &recordingAllocator{}
	c, _, _ := serve(t, alloc, true)
	ok := agentapi.AddRequest{Attachment: agentapi.Attachment{ContainerID: "c1", IfName: "eth0"}, Pod: agentapi.PodRef{Namespace: "ns", Name: "p"}}
	tests := map[string]func(r *agentapi.AddRequest){
		"no containerID":      func(r *agentapi.AddRequest) { r.ContainerID = "" },
		"no ifName":           func(r *agentapi.AddRequest) { r.IfName = "" },
		"ifName too long":     func(r *agentapi.AddRequest) { r.IfName = strings.Repeat("x", 16) },
		"no pod name":         func(r *agentapi.AddRequest) { r.Pod.Name = "" },
		"pod namespace giant": func(r *agentapi.AddRequest) { r.Pod.Namespace = strings.Repeat("n", 64) },
	}
	for name, mutate := range tests {
		t.Run(name, func(t *testing.T) {
			req := ok
			mutate(&req)
			_, err := c.Add(t.Context(), &req)
			var e *agentapi.Error
			if !errors.As(err, &e) || e.Code != agentapi.CodeInvalidConfig {
				t.Fatalf("err = %v, want code %d", err, agentapi.CodeInvalidConfig)
			}
			t.Logf("refused: %v", err)
		})
	}
	if alloc.calls != 0 {
		t.Fatalf("%d invalid requests reached the allocator", alloc.calls)
	}
	if _, err := c.Add(t.Context(), &ok); err != nil || alloc.calls != 1 {
		t.Fatalf("valid request: %v after %d calls", err, alloc.calls)
	}
}

func TestErrorsCarryTheirCodeAndBecomeEvents(t *testing.T) {
	tests := []struct {
		err  error
		code int
	}{
		{&ipam.AllocationError{Msg: "pool p: all IPs have been exhausted"}, agentapi.CodeAllocationFailed},
		{&spiderpool.AnnotationError{Key: spiderpool.AnnoPool, Reason: "not valid JSON"}, agentapi.CodeInvalidConfig},
		{ipam.ErrNotFound, agentapi.CodeNotFound},
		{errors.New("etcdserver: request timed out"), agentapi.CodeTryAgainLater},
	}
	for _, tc := range tests {
		t.Run(tc.err.Error(), func(t *testing.T) {
			c, _, ev := serve(t, &recordingAllocator{err: tc.err}, true)
			_, err := c.Add(t.Context(), &agentapi.AddRequest{Attachment: agentapi.Attachment{ContainerID: "c", IfName: "eth0"}, Pod: agentapi.PodRef{Namespace: "ns", Name: "p"}})
			var e *agentapi.Error
			if !errors.As(err, &e) || e.Code != tc.code || !strings.Contains(e.Msg, tc.err.Error()) {
				t.Fatalf("err = %v, want code %d carrying %q", err, tc.code, tc.err)
			}
			if len(ev.msgs) != 1 || !strings.HasPrefix(ev.msgs[0], "IPAllocationFailed: interface eth0: "+tc.err.Error()) {
				t.Fatalf("events %q, want one IPAllocationFailed naming the interface and the error", ev.msgs)
			}
		})
	}
}

func TestNotReadyAgentAsksToRetry(t *testing.T) {
	alloc := &recordingAllocator{}
	c, _, _ := serve(t, alloc, false)
	_, err := c.Add(t.Context(), &agentapi.AddRequest{Attachment: agentapi.Attachment{ContainerID: "c", IfName: "eth0"}, Pod: agentapi.PodRef{Namespace: "ns", Name: "p"}})
	var e *agentapi.Error
	if !errors.As(err, &e) || e.Code != agentapi.CodeTryAgainLater || alloc.calls != 0 {
		t.Fatalf("err = %v after %d calls, want code 11 and no work", err, alloc.calls)
	}
	if err := c.Ready(t.Context()); err == nil {
		t.Fatal("readyz answered 200 before the caches synced")
	}
}

// startServer runs a server on sock until the returned stop is called.
func startServer(t *testing.T, sock string) (*Server, func()) {
	t.Helper()
	s := &Server{Socket: sock, Alloc: &recordingAllocator{}, Events: &recordedEvents{}, Metrics: NewMetrics(prometheus.NewRegistry()),
		Log: logr.Discard(), Ready: func() bool { return true }}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- s.Start(ctx) }()
	err := wait.PollUntilContextTimeout(t.Context(), 10*time.Millisecond, 5*time.Second, true, func(context.Context) (bool, error) {
		return s.Serving() == nil, nil
	})
	if err != nil {
		t.Fatalf("server on %s never served: %v", sock, s.Serving())
	}
	var once sync.Once
	stop := func() {
		once.Do(func() {
			cancel()
			if err := <-done; err != nil {
				t.Errorf("server: %v", err)
			}
		})
	}
	t.Cleanup(stop)
	return s, stop
}

// An agent replaced on its node (the new one started before the old one
// stopped) must not take the new one's socket with it when it stops, and
// must not report ready once its socket is another's.
func TestAStoppingAgentLeavesItsReplacementsSocket(t *testing.T) {
	sock := filepath.Join(t.TempDir(), "agent.sock")
	old, stopOld := startServer(t, sock)
	replacement, _ := startServer(t, sock)
	if err := old.Serving(); err == nil || !strings.Contains(err.Error(), "another process") {
		t.Fatalf("old agent's Serving() = %v, want it to say the socket belongs to another process", err)
	}
	stopOld()
	if err := replacement.Serving(); err != nil {
		t.Fatalf("after the old agent stopped, the replacement's Serving() = %v, want nil", err)
	}
	c := agentapi.NewClient(sock, 5*time.Second)
	if _, err := c.Add(t.Context(), &agentapi.AddRequest{Attachment: agentapi.Attachment{ContainerID: "c", IfName: "eth0"}, Pod: agentapi.PodRef{Namespace: "ns", Name: "p"}}); err != nil {
		t.Fatalf("ADD through the replacement's socket after the old agent stopped: %v", err)
	}
}

// A stopping agent removes its own socket, so the plugin fails fast (agent
// unreachable) instead of connecting to nothing.
func TestAStoppingAgentRemovesItsOwnSocket(t *testing.T) {
	sock := filepath.Join(t.TempDir(), "agent.sock")
	s, stop := startServer(t, sock)
	stop()
	if _, err := os.Stat(sock); !errors.Is(err, os.ErrNotExist) {
		t.Fatalf("socket after stop: %v, want it removed", err)
	}
	if err := s.Serving(); err == nil {
		t.Fatal("Serving() after stop = nil, want an error")
	}
}

// postRaw sends body as it is to path on the agent's socket and returns the
// HTTP status and the decoded error, if any.
func postRaw(t *testing.T, sock, path, body string) (int, agentapi.Error) {
	t.Helper()
	hc := &http.Client{Transport: &http.Transport{DialContext: func(ctx context.Context, _, _ string) (net.Conn, error) {
		return (&net.Dialer{}).DialContext(ctx, "unix", sock)
	}}}
	req, err := http.NewRequestWithContext(t.Context(), http.MethodPost, "http://agent"+path, strings.NewReader(body))
	if err != nil {
		t.Fatal(err)
	}
	resp, err := hc.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	var e agentapi.Error
	if resp.StatusCode != http.StatusOK {
		_ = json.NewDecoder(resp.Body).Decode(&e)
	}
	return resp.StatusCode, e
}

// A newer plugin may send fields this agent does not know (an upgrade rolls
// the plugin and the agent apart): they are ignored. Data after the request
// is refused.
func TestRequestsFromANewerPluginWorkAndTrailingDataIsRefused(t *testing.T) {
	alloc := &recordingAllocator{}
	_, sock, _ := serve(t, alloc, true)
	const req = `{"containerID":"c1","ifName":"eth0","pod":{"namespace":"ns","name":"p"},"someFieldOfANewerPlugin":{"x":1}}`
	if status, e := postRaw(t, sock, agentapi.PathAdd, req); status != http.StatusOK {
		t.Fatalf("ADD with an unknown field: status %d (%s), want 200", status, e.Error())
	}
	status, e := postRaw(t, sock, agentapi.PathAdd, req+`{"containerID":"c2"}`)
	if status != http.StatusBadRequest || e.Code != agentapi.CodeInvalidConfig || !strings.Contains(e.Error(), "after the JSON value") {
		t.Fatalf("ADD with trailing data: status %d, %+v; want 400, code %d, naming the trailing data", status, e, agentapi.CodeInvalidConfig)
	}
	if alloc.calls != 1 {
		t.Fatalf("%d calls reached the allocator, want 1 (the valid request)", alloc.calls)
	}
}

// The runtime's answer says what is wrong: a pod for which nothing names a
// pool has a configuration error (code 7), not a transient one to retry
// (code 11).
func TestToAPIErrorCodes(t *testing.T) {
	for _, tt := range []struct {
		err  error
		want int
	}{
		{fmt.Errorf("select pools: %w", ipam.ErrNoRule), agentapi.CodeInvalidConfig},
		{&ipam.AllocationError{Msg: "all IPs have been exhausted"}, agentapi.CodeAllocationFailed},
		{fmt.Errorf("pod x: %w", ipam.ErrNotFound), agentapi.CodeNotFound},
		{errors.New("etcdserver: request timed out"), agentapi.CodeTryAgainLater},
	} {
		if got := toAPIError(tt.err).Code; got != tt.want {
			t.Errorf("code of %v = %d, want %d", tt.err, got, tt.want)
		}
	}
}
