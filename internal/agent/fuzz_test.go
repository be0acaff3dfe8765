package agent

import (
	"bytes"
	"encoding/json"
	"net/http"
	"net/http/httptest"
	"testing"

	"github.com/go-logr/logr"
	"github.com/prometheus/client_golang/prometheus"

	"github.com/ipkeeper/ipkeeper/internal/agentapi"
)

// The agent decodes whatever reaches its socket. For every endpoint and any
// body: no panic; a refusal is a 400 whose body is an agentapi.Error of code
// 7 with a message, and reaches no allocator; a request that reaches the
// allocator, decoded and encoded again, is accepted again (a plugin that
// writes what the agent read is understood).
func FuzzRequestDecoding(f *testing.F) {
	paths := []string{agentapi.PathAdd, agentapi.PathDel, agentapi.PathCheck, agentapi.PathGC}
	for i, seed := range []string{
		`{"containerID":"c1","ifName":"eth0","pod":{"namespace":"ns","name":"p","uid":"u"},"network":"n","defaultIPv4Pools":["a"]}`,
		`{"containerID":"c1","ifName":"eth0","pod":{"namespace":"ns","name":"p"},"prevResult":{"ips":["10.6.168.101/16"]}}`,
		`{"network":"n","validAttachments":[{"containerID":"c1","ifName":"eth0"}]}`,
		`{"containerID":"c1","ifName":"eth0","pod":{"namespace":"ns","name":"p"},"newerField":{"x":1}}`,
		`{"containerID":"c1","ifName":"eth0"}{}`, `{"containerID":"c1"`, `{"ifName":"` + string(bytes.Repeat([]byte("x"), 16)) + `"}`,
		`null`, `[]`, ``, `{"pod":7}`,
	} {
		f.Add(uint8(i), []byte(seed))
	}
	f.Fuzz(func(t *testing.T, which uint8, body []byte) {
		path := paths[int(which)%len(paths)]
		alloc := &recordingAllocator{}
		s := &Server{Alloc: alloc, Events: &recordedEvents{}, Metrics: NewMetrics(prometheus.NewRegistry()),
			Log: logr.Discard(), Ready: func() bool { return true }}
		h := s.Handler()
		post := func(b []byte) *httptest.ResponseRecorder {
			w := httptest.NewRecorder()
			h.ServeHTTP(w, httptest.NewRequest(http.MethodPost, path, bytes.NewReader(b)))
			return w
		}
		w := post(body)
		if alloc.calls == 0 {
			var e agentapi.Error
			if w.Code != http.StatusBadRequest || json.Unmarshal(w.Body.Bytes(), &e) != nil ||
				e.Code != agentapi.CodeInvalidConfig || e.Msg == "" {
				t.Fatalf("%s %q: refused with HTTP %d %s; want 400 with an agentapi.Error of code %d and a message",
					path, body, w.Code, w.Body, agentapi.CodeInvalidConfig)
			}
			return
		}
		if w.Code != http.StatusOK {
			t.Fatalf("%s %q reached the allocator, which succeeded, but the answer is HTTP %d %s", path, body, w.Code, w.Body)
		}
		again := reencode(t, path, body)
		if w := post(again); w.Code != http.StatusOK || alloc.calls != 2 {
			t.Fatalf("%s: accepted %q, but not %q written back out: HTTP %d %s", path, body, again, w.Code, w.Body)
		}
	})
}

// reencode decodes body as path's request type and encodes it again.
func reencode(t *testing.T, path string, body []byte) []byte {
	t.Helper()
	var req any
	switch path {
	case agentapi.PathAdd:
		req = &agentapi.AddRequest{}
	case agentapi.PathDel:
		req = &agentapi.DelRequest{}
	case agentapi.PathCheck:
		req = &agentapi.CheckRequest{}
	default:
		req = &agentapi.GCRequest{}
	}
	dec := json.NewDecoder(bytes.NewReader(body))
	if err := dec.Decode(req); err != nil {
		t.Fatalf("%s: the agent accepted %q, which does not decode: %v", path, body, err)
	}
	out, err := json.Marshal(req)
	if err != nil {
		t.Fatal(err)
	}
	return out
}
