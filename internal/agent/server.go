package agent

import (
	"cmp"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"sync"
	"time"

	"github.com/go-logr/logr"
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/types"
	"sigs.k8s.io/controller-runtime/pkg/recorder"

	"github.com/ipkeeper/ipkeeper/api/ipkeeper/v1alpha1"
	"github.com/ipkeeper/ipkeeper/internal/agentapi"
	"github.com/ipkeeper/ipkeeper/internal/ipam"
	"github.com/ipkeeper/ipkeeper/internal/spiderpool"
)

// maxBody bounds a request body: a valid request is a few hundred bytes, a GC
// list a few hundred KiB at most.
const maxBody = 4 << 20

// defaultReadTimeout is how long a client may take to send a request: the
// plugin sends a few hundred bytes at once.
const defaultReadTimeout = 10 * time.Second

// Allocator is what the server needs of ipam.Allocator.
type Allocator interface {
	Add(ctx context.Context, req *ipam.AddRequest) (*ipam.Allocation, error)
	Del(ctx context.Context, req *ipam.DelRequest) error
	Check(ctx context.Context, req *ipam.CheckRequest) error
	GC(ctx context.Context, req *ipam.GCRequest, now time.Time) ([]string, error)
	Quarantine(ctx context.Context, req *ipam.QuarantineRequest, now time.Time) (*v1alpha1.IPClaim, error)
	Abandon(ctx context.Context, req *ipam.DelRequest) ([]string, error)
}

// Events reports allocation failures on the pod.
type Events interface {
	Warn(pod agentapi.PodRef, reason, message string)
}

// Server answers the plugin on a unix socket.
type Server struct {
	Socket  string
	Alloc   Allocator
	Events  Events
	Metrics *Metrics
	// Coordinator answers the coordinator plugin; nil serves no such endpoint.
	Coordinator interface {
		Coordinator(ctx context.Context, pod agentapi.PodRef) (*agentapi.CoordinatorResponse, error)
	}
	Log logr.Logger
	// Ready reports whether the caches are synced; requests wait for it.
	Ready func() bool
	// Now is the clock CNI GC measures claim ages with; nil means time.Now.
	Now func() time.Time
	// Detection, when set, is sent with every ADD answer: the plugin checks
	// the addresses before it reports them.
	Detection *agentapi.Detection
	// ReadTimeout bounds the time a client may take to send its request;
	// zero means defaultReadTimeout.
	ReadTimeout time.Duration

	mu sync.Mutex
	// ours is the socket file this server made; the path may since lead to
	// another agent's (a replacement started before this one stopped).
	ours os.FileInfo
}

// Start listens on the socket (mode 0600: only root may allocate or release)
// and serves until ctx ends. It satisfies controller-runtime's Runnable.
func (s *Server) Start(ctx context.Context) error {
	if err := os.MkdirAll(filepath.Dir(s.Socket), 0o755); err != nil {
		return fmt.Errorf("create socket directory: %w", err)
	}
	if err := os.Remove(s.Socket); err != nil && !errors.Is(err, os.ErrNotExist) {
		return fmt.Errorf("remove stale socket: %w", err)
	}
	ln, err := net.ListenUnix("unix", &net.UnixAddr{Name: s.Socket, Net: "unix"})
	if err != nil {
		return fmt.Errorf("listen on %s: %w", s.Socket, err)
	}
	// Closing a unix listener would unlink the path, which may by then be a
	// replacement agent's socket: only removeIfOurs removes it.
	ln.SetUnlinkOnClose(false)
	defer s.removeIfOurs()
	if err := os.Chmod(s.Socket, 0o600); err != nil {
		ln.Close()
		return fmt.Errorf("restrict socket: %w", err)
	}
	fi, err := os.Stat(s.Socket)
	if err != nil {
		ln.Close()
		return fmt.Errorf("stat socket: %w", err)
	}
	s.mu.Lock()
	s.ours = fi
	s.mu.Unlock()
	// A slow or stuck client cannot hold a connection: the plugin sends a few
	// hundred bytes at once and reuses no connection.
	read := cmp.Or(s.ReadTimeout, defaultReadTimeout)
	srv := &http.Server{Handler: s.Handler(), ReadHeaderTimeout: read, ReadTimeout: read, IdleTimeout: 3 * read}
	go func() {
		<-ctx.Done()
		shutdown, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		defer cancel()
		_ = srv.Shutdown(shutdown)
	}()
	s.Log.Info("Serving plugin requests", "socket", s.Socket)
	if err := srv.Serve(ln); !errors.Is(err, http.ErrServerClosed) {
		return err
	}
	return nil
}

// Serving reports whether the socket path still leads to this server: nil,
// or why the plugin cannot reach it (not listening yet, removed, or taken
// over by another agent). The agent's readiness check uses it, so that an
// agent whose socket is gone is not reported ready.
func (s *Server) Serving() error {
	s.mu.Lock()
	ours := s.ours
	s.mu.Unlock()
	if ours == nil {
		return errors.New("not listening on the plugin socket yet")
	}
	fi, err := os.Stat(s.Socket)
	if err != nil {
		return fmt.Errorf("plugin socket: %w", err)
	}
	if !os.SameFile(fi, ours) {
		return fmt.Errorf("plugin socket %s now belongs to another process", s.Socket)
	}
	return nil
}

// removeIfOurs removes the socket file only when it is still the one this
// server made.
func (s *Server) removeIfOurs() {
	if s.Serving() == nil {
		_ = os.Remove(s.Socket)
	}
	s.mu.Lock()
	s.ours = nil
	s.mu.Unlock()
}

// Handler routes the plugin's requests.
func (s *Server) Handler() http.Handler {
	mux := http.NewServeMux()
	mux.HandleFunc("POST "+agentapi.PathAdd, s.handleAdd)
	mux.HandleFunc("POST "+agentapi.PathDel, s.handleDel)
	mux.HandleFunc("POST "+agentapi.PathCheck, s.handleCheck)
	mux.HandleFunc("POST "+agentapi.PathGC, s.handleGC)
	if s.Coordinator != nil {
		mux.HandleFunc("POST "+agentapi.PathCoordinator, s.handleCoordinator)
	}
	mux.HandleFunc("POST "+agentapi.PathQuarantine, s.handleQuarantine)
	mux.HandleFunc("POST "+agentapi.PathAbandon, s.handleAbandon)
	mux.HandleFunc("GET "+agentapi.PathReadyz, s.handleReady)
	mux.HandleFunc("GET "+agentapi.PathHealthz, func(w http.ResponseWriter, _ *http.Request) { w.WriteHeader(http.StatusOK) })
	return mux
}

func (s *Server) handleReady(w http.ResponseWriter, _ *http.Request) {
	if !s.Ready() {
		http.Error(w, "caches not synced yet", http.StatusServiceUnavailable)
		return
	}
	w.WriteHeader(http.StatusOK)
}

func (s *Server) handleAdd(w http.ResponseWriter, r *http.Request) {
	var req agentapi.AddRequest
	s.serve(w, r, "add", &req, validateAttachment(&req.Attachment, &req.Pod), func(ctx context.Context) (any, error) {
		alloc, err := s.Alloc.Add(ctx, addRequest(&req))
		if err != nil {
			s.Events.Warn(req.Pod, reasonAllocationFailed, fmt.Sprintf("interface %s: %v", req.IfName, err))
			return nil, err
		}
		resp := addResponse(alloc)
		if s.Detection != nil {
			if !req.CanProbe {
				s.Log.Info("Plugin does not check addresses; update it on this node", "pod", req.Pod.Namespace+"/"+req.Pod.Name, "interface", req.IfName)
			}
			resp.Detection = s.Detection
		}
		return resp, nil
	})
}

func (s *Server) handleDel(w http.ResponseWriter, r *http.Request) {
	var req agentapi.DelRequest
	// The runtime may not name the pod on DEL; the sandbox alone identifies it.
	s.serve(w, r, "del", &req, validateSandbox(&req.Attachment), func(ctx context.Context) (any, error) {
		return struct{}{}, s.Alloc.Del(ctx, delRequest(&req))
	})
}

func (s *Server) handleCheck(w http.ResponseWriter, r *http.Request) {
	var req agentapi.CheckRequest
	s.serve(w, r, "check", &req, validateAttachment(&req.Attachment, &req.Pod), func(ctx context.Context) (any, error) {
		in, err := checkRequest(&req)
		if err != nil {
			return nil, &agentapi.Error{Code: agentapi.CodeInvalidConfig, Msg: "invalid request", Details: err.Error()}
		}
		return struct{}{}, s.Alloc.Check(ctx, in)
	})
}

func (s *Server) handleGC(w http.ResponseWriter, r *http.Request) {
	var req agentapi.GCRequest
	validate := func() error {
		if req.Network == "" {
			return errors.New("network is empty; want the netconf name")
		}
		return nil
	}
	s.serve(w, r, "gc", &req, validate, func(ctx context.Context) (any, error) {
		now := time.Now
		if s.Now != nil {
			now = s.Now
		}
		released, err := s.Alloc.GC(ctx, gcRequest(&req), now())
		return &agentapi.GCResponse{Released: released}, err
	})
}

// serve decodes and validates a request before any work, runs it, and
// writes the answer or the error with its agentapi code.
func (s *Server) serve(w http.ResponseWriter, r *http.Request, op string, req any, validate func() error, run func(context.Context) (any, error)) {
	start := time.Now()
	out, err := s.run(r, req, validate, run)
	s.Metrics.Duration.WithLabelValues(op).Observe(time.Since(start).Seconds())
	if err != nil {
		s.Metrics.Requests.WithLabelValues(op, "error").Inc()
		s.Metrics.Failures.WithLabelValues(op, failureReason(err)).Inc()
		e := toAPIError(err)
		s.Log.Info("Plugin request failed", "op", op, "code", e.Code, "error", e.Msg)
		writeJSON(w, httpStatus(e.Code), e)
		return
	}
	s.Metrics.Requests.WithLabelValues(op, "ok").Inc()
	writeJSON(w, http.StatusOK, out)
}

func (s *Server) run(r *http.Request, req any, validate func() error, run func(context.Context) (any, error)) (any, error) {
	// Unknown fields are ignored, so that a newer plugin works with an older
	// agent during an upgrade; anything after the one JSON value is refused.
	dec := json.NewDecoder(http.MaxBytesReader(nil, r.Body, maxBody))
	if err := dec.Decode(req); err != nil {
		return nil, &agentapi.Error{Code: agentapi.CodeInvalidConfig, Msg: "malformed request", Details: decodeDetails(err)}
	}
	if _, err := dec.Token(); !errors.Is(err, io.EOF) {
		details := "data after the JSON value; want exactly one JSON object"
		if errors.As(err, new(*http.MaxBytesError)) {
			details = decodeDetails(err)
		}
		return nil, &agentapi.Error{Code: agentapi.CodeInvalidConfig, Msg: "malformed request", Details: details}
	}
	if err := validate(); err != nil {
		return nil, &agentapi.Error{Code: agentapi.CodeInvalidConfig, Msg: "invalid request", Details: err.Error()}
	}
	if !s.Ready() {
		return nil, &agentapi.Error{Code: agentapi.CodeTryAgainLater, Msg: "agent caches are not synced yet"}
	}
	return run(r.Context())
}

// decodeDetails says why a body did not decode, in the plugin's terms: a
// body cut short or larger than any request is named as such.
func decodeDetails(err error) string {
	switch {
	case errors.As(err, new(*http.MaxBytesError)):
		return fmt.Sprintf("request body larger than %d bytes; a request is a few hundred bytes", maxBody)
	case errors.Is(err, os.ErrDeadlineExceeded):
		return "request body not received within the read time-out; the plugin sends its request at once"
	case errors.Is(err, io.EOF):
		return "request body is empty; want one JSON object"
	case errors.Is(err, io.ErrUnexpectedEOF):
		return "request body ends before its JSON object does (truncated); want one complete JSON object"
	}
	return err.Error()
}

func validateSandbox(at *agentapi.Attachment) func() error {
	return func() error {
		switch {
		case at.ContainerID == "" || len(at.ContainerID) > 256:
			return fmt.Errorf("containerID %q: want 1 to 256 characters", at.ContainerID)
		case at.IfName == "" || len(at.IfName) > 15:
			return fmt.Errorf("ifName %q: want 1 to 15 characters", at.IfName)
		}
		return nil
	}
}

func validateAttachment(at *agentapi.Attachment, pod *agentapi.PodRef) func() error {
	return func() error {
		if err := validateSandbox(at)(); err != nil {
			return err
		}
		switch {
		case pod.Namespace == "" || pod.Name == "":
			return fmt.Errorf("pod %q/%q: want K8S_POD_NAMESPACE and K8S_POD_NAME in CNI_ARGS", pod.Namespace, pod.Name)
		case len(pod.Namespace) > 63 || len(pod.Name) > 253:
			return errors.New("pod namespace or name too long")
		}
		return nil
	}
}

// Reasons of the Warning events on pods.
const (
	reasonAllocationFailed   = "IPAllocationFailed"
	reasonIPConflict         = "IPConflict"
	reasonGatewayUnreachable = "GatewayUnreachable"
)

// toAPIError maps use-case errors to the codes the plugin passes to the runtime.
func toAPIError(err error) *agentapi.Error {
	var apiErr *agentapi.Error
	var allocErr *ipam.AllocationError
	var annoErr *spiderpool.AnnotationError
	switch {
	case errors.As(err, &apiErr):
		return apiErr
	case errors.As(err, &allocErr):
		return &agentapi.Error{Code: agentapi.CodeAllocationFailed, Msg: allocErr.Msg}
	case errors.As(err, &annoErr):
		return &agentapi.Error{Code: agentapi.CodeInvalidConfig, Msg: annoErr.Error()}
	case errors.Is(err, ipam.ErrNoRule):
		// Configuration, not a transient failure: nothing names a pool.
		return &agentapi.Error{Code: agentapi.CodeInvalidConfig, Msg: err.Error()}
	case errors.Is(err, ipam.ErrNotFound):
		return &agentapi.Error{Code: agentapi.CodeNotFound, Msg: err.Error()}
	}
	return &agentapi.Error{Code: agentapi.CodeTryAgainLater, Msg: err.Error()}
}

func httpStatus(code int) int {
	switch code {
	case agentapi.CodeInvalidConfig:
		return http.StatusBadRequest
	case agentapi.CodeNotFound:
		return http.StatusNotFound
	case agentapi.CodeAllocationFailed:
		return http.StatusConflict
	}
	return http.StatusServiceUnavailable
}

func writeJSON(w http.ResponseWriter, status int, v any) {
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(status)
	_ = json.NewEncoder(w).Encode(v)
}

// PodEvents emits Warning events on pods.
type PodEvents struct {
	Recorder recorder.EventRecorder
}

// Warn emits a Warning event on the pod.
func (e PodEvents) Warn(pod agentapi.PodRef, reason, message string) {
	p := &corev1.Pod{ObjectMeta: metav1.ObjectMeta{Namespace: pod.Namespace, Name: pod.Name, UID: types.UID(pod.UID)}}
	e.Recorder.Eventf(p, nil, corev1.EventTypeWarning, reason, "AllocateIP", "%s", message)
}
