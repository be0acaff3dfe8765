package agentapi

import (
	"errors"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"testing"
	"time"
)

// serve answers on a unix socket with mux until the test ends.
func serve(t *testing.T, mux *http.ServeMux) string {
	t.Helper()
	dir, err := os.MkdirTemp("", "agentapi-")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { os.RemoveAll(dir) })
	socket := filepath.Join(dir, "s")
	ln, err := net.Listen("unix", socket)
	if err != nil {
		t.Fatal(err)
	}
	srv := &http.Server{Handler: mux, ReadHeaderTimeout: time.Second}
	go func() { _ = srv.Serve(ln) }()
	t.Cleanup(func() { srv.Close() })
	return socket
}

// TestCoordinatorSkew: an agent without the endpoint is told apart from an
// agent that answers with an error, so a newer plugin works with an older
// agent and still reports a newer agent's refusals.
func TestCoordinatorSkew(t *testing.T) {
	old := http.NewServeMux()
	old.HandleFunc("POST "+PathAdd, func(http.ResponseWriter, *http.Request) {})
	_, err := NewClient(serve(t, old), time.Second).Coordinator(t.Context(), &CoordinatorRequest{})
	if !errors.Is(err, ErrNotServed) {
		t.Errorf("older agent: %v, want ErrNotServed", err)
	}

	refusing := http.NewServeMux()
	refusing.HandleFunc("POST "+PathCoordinator, func(w http.ResponseWriter, _ *http.Request) {
		w.WriteHeader(http.StatusNotFound)
		_, _ = w.Write([]byte(`{"code":101,"msg":"no such pod"}`))
	})
	_, err = NewClient(serve(t, refusing), time.Second).Coordinator(t.Context(), &CoordinatorRequest{})
	var apiErr *Error
	if errors.Is(err, ErrNotServed) || !errors.As(err, &apiErr) || apiErr.Code != CodeNotFound {
		t.Errorf("agent answering an error: %v, want its *Error with code %d", err, CodeNotFound)
	}

	newer := http.NewServeMux()
	newer.HandleFunc("POST "+PathCoordinator, func(w http.ResponseWriter, _ *http.Request) {
		// A field this client does not know is ignored.
		_, _ = w.Write([]byte(`{"found":true,"serviceCIDR":["10.96.0.0/16"],"someday":1}`))
	})
	resp, err := NewClient(serve(t, newer), time.Second).Coordinator(t.Context(), &CoordinatorRequest{})
	if err != nil || !resp.Found || len(resp.ServiceCIDR) != 1 {
		t.Errorf("newer agent: %+v, %v", resp, err)
	}
}
