package agentapi

import (
	"context"
	"encoding/json"
	"errors"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

// TestClientReadsWhatNetHTTPAnswers: the client's own HTTP/1.0 reaches the
// agent's net/http server and reads every kind of answer it gives: a body
// longer than the server buffers before it would chunk an HTTP/1.1 answer,
// a refusal, an empty answer.
func TestClientReadsWhatNetHTTPAnswers(t *testing.T) {
	long := strings.Repeat("a", 100_000)
	mux := http.NewServeMux()
	mux.HandleFunc("POST "+PathGC, func(w http.ResponseWriter, r *http.Request) {
		var req GCRequest
		if err := json.NewDecoder(r.Body).Decode(&req); err != nil || len(req.ValidAttachments) != 1 {
			http.Error(w, "bad request body", http.StatusBadRequest)
			return
		}
		w.Header().Set("Content-Type", "application/json")
		// No Content-Length: net/http chunks this for an HTTP/1.1 client.
		_ = json.NewEncoder(w).Encode(GCResponse{Released: []string{long}})
	})
	mux.HandleFunc("POST "+PathDel, func(w http.ResponseWriter, _ *http.Request) {
		w.WriteHeader(http.StatusConflict)
		_ = json.NewEncoder(w).Encode(Error{Code: CodeNotFound, Msg: "no such pod"})
	})
	mux.HandleFunc("POST "+PathCheck, func(http.ResponseWriter, *http.Request) {})
	mux.HandleFunc("GET "+PathReadyz, func(w http.ResponseWriter, _ *http.Request) {
		http.Error(w, "informers not synced", http.StatusServiceUnavailable)
	})
	c := NewClient(serve(t, mux), 5*time.Second)

	got, err := c.GC(t.Context(), &GCRequest{ValidAttachments: []Attachment{{ContainerID: "c1", IfName: "eth0"}}})
	if err != nil || len(got.Released) != 1 || got.Released[0] != long {
		t.Errorf("GC: %v, err %v; want the one 100,000-byte name", got != nil, err)
	}
	var refusal *Error
	if err := c.Del(t.Context(), &DelRequest{}); !errors.As(err, &refusal) || refusal.Code != CodeNotFound || refusal.Msg != "no such pod" {
		t.Errorf("Del: %v, want the agent's error with code %d", err, CodeNotFound)
	}
	if err := c.Check(t.Context(), &CheckRequest{}); err != nil {
		t.Errorf("Check with an empty answer: %v", err)
	}
	if err := c.Ready(t.Context()); err == nil || !strings.Contains(err.Error(), "informers not synced") {
		t.Errorf("Ready: %v, want the agent's reason", err)
	}
}

// TestClientGivesUpOnASilentAgent: an agent that accepts and never answers
// is unreachable once the timeout passes, and so is an absent socket.
func TestClientGivesUpOnASilentAgent(t *testing.T) {
	dir := t.TempDir()
	socket := filepath.Join(dir, "s")
	ln, err := net.Listen("unix", socket)
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	go func() {
		for {
			conn, err := ln.Accept()
			if err != nil {
				return
			}
			defer conn.Close()
		}
	}()
	start := time.Now()
	err = NewClient(socket, 200*time.Millisecond).Del(t.Context(), &DelRequest{})
	if !errors.Is(err, ErrUnreachable) || time.Since(start) > 5*time.Second {
		t.Errorf("silent agent: %v after %v, want ErrUnreachable after the timeout", err, time.Since(start))
	}
	ctx, cancel := context.WithCancel(t.Context())
	go func() { time.Sleep(100 * time.Millisecond); cancel() }()
	if err := NewClient(socket, time.Minute).Del(ctx, &DelRequest{}); !errors.Is(err, ErrUnreachable) || !errors.Is(err, context.Canceled) {
		t.Errorf("cancelled: %v, want ErrUnreachable and context.Canceled", err)
	}
	if err := NewClient(filepath.Join(dir, "absent"), time.Second).Del(t.Context(), &DelRequest{}); !errors.Is(err, ErrUnreachable) || !errors.Is(err, os.ErrNotExist) {
		t.Errorf("absent socket: %v, want ErrUnreachable", err)
	}
}

func TestParseAnswer(t *testing.T) {
	for _, tc := range []struct {
		name, answer string
		status       int
		body         string
		err          string
	}{
		{name: "length", answer: "HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\n{}", status: 200, body: "{}"},
		{name: "ends at close", answer: "HTTP/1.0 500 Internal Server Error\r\nConnection: close\r\n\r\noops\n", status: 500, body: "oops\n"},
		{name: "length shorter than what follows", answer: "HTTP/1.1 200 OK\r\ncontent-length:  1 \r\n\r\n{}", status: 200, body: "{"},
		{name: "no body", answer: "HTTP/1.1 204 No Content\r\n\r\n", status: 204, body: ""},
		{name: "short body", answer: "HTTP/1.1 200 OK\r\nContent-Length: 10\r\n\r\n{}", err: "ends after 2 of its 10 bytes"},
		{name: "bad length", answer: "HTTP/1.1 200 OK\r\nContent-Length: -1\r\n\r\n", err: `Content-Length "-1"`},
		{name: "chunked", answer: "HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n2\r\n{}\r\n0\r\n\r\n", err: `transfer encoding "chunked"`},
		{name: "cut in the headers", answer: "HTTP/1.1 200 OK\r\nContent-Le", err: "ends before its headers do"},
		{name: "not HTTP", answer: "SSH-2.0-OpenSSH\r\n\r\n", err: "is not HTTP/1.x"},
		{name: "no code", answer: "HTTP/1.1 OK\r\n\r\n", err: "is not HTTP/1.x"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			status, body, err := parseAnswer([]byte(tc.answer))
			if tc.err != "" {
				if err == nil || !strings.Contains(err.Error(), tc.err) {
					t.Fatalf("err %v, want one saying %q", err, tc.err)
				}
				return
			}
			if err != nil || status != tc.status || string(body) != tc.body {
				t.Errorf("got %d %q %v, want %d %q", status, body, err, tc.status, tc.body)
			}
		})
	}
}
