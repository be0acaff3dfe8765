//go:build e2e

package cni

// TEMPORARY: replaced by the real agent (internal/agent) when it lands.
//
// Until then startAgent runs a minimal in-memory server that speaks agentapi
// on the socket: it hands out addresses from a fixed range (IPv4 when the
// request names IPv4 pools, IPv6 when it names IPv6 pools), answers a
// repeated ADD with what it gave, releases on DEL and GC, and forgets
// everything when stopped. The tests assert only what a real agent must
// also do, through the plugin; nothing here is part of the contract.

import (
	"encoding/json"
	"errors"
	"fmt"
	"net"
	"net/http"
	"net/netip"
	"slices"
	"sync"
	"testing"

	"github.com/ipkeeper/ipkeeper/internal/agentapi"
)

// startAgent starts an agent listening on socketPath and returns a function
// that stops it (idempotent; also called at the end of the test). A stopped
// agent's state is gone: starting one again on the same socket is an agent
// restart with empty memory.
func startAgent(t *testing.T, socketPath string) (stop func()) {
	t.Helper()
	listener, err := net.Listen("unix", socketPath)
	if err != nil {
		t.Fatalf("agent: listen on %s: %v", socketPath, err)
	}
	agent := &memoryAgent{held: map[agentapi.Attachment]*holding{}}
	server := &http.Server{Handler: agent.routes()}
	done := make(chan struct{})
	go func() {
		defer close(done)
		_ = server.Serve(listener)
	}()
	var once sync.Once
	stop = func() {
		once.Do(func() {
			_ = server.Close() // closes the listener, which removes the socket file
			<-done
		})
	}
	t.Cleanup(stop)
	return stop
}

// The fixed ranges: a pool of 100 addresses per family.
var (
	v4Range = addrRange{first: netip.MustParseAddr("10.6.168.101"), last: netip.MustParseAddr("10.6.168.200"), bits: 16,
		gateway: "10.6.0.1", pool: "p1"}
	v6Range = addrRange{first: netip.MustParseAddr("fd00:10:6::101"), last: netip.MustParseAddr("fd00:10:6::164"), bits: 64,
		gateway: "fd00:10:6::1", pool: "p6"}
)

type addrRange struct {
	first, last netip.Addr
	bits        int
	gateway     string
	pool        string
}

type holding struct {
	network string
	ips     []agentapi.IPConfig
}

type memoryAgent struct {
	mu   sync.Mutex
	held map[agentapi.Attachment]*holding
}

func (a *memoryAgent) routes() *http.ServeMux {
	mux := http.NewServeMux()
	mux.HandleFunc("POST "+agentapi.PathAdd, handle(a.add))
	mux.HandleFunc("POST "+agentapi.PathDel, handle(a.del))
	mux.HandleFunc("POST "+agentapi.PathCheck, handle(a.check))
	mux.HandleFunc("POST "+agentapi.PathGC, handle(a.gc))
	mux.HandleFunc("GET "+agentapi.PathReadyz, func(w http.ResponseWriter, _ *http.Request) { _, _ = w.Write([]byte("ok")) })
	return mux
}

// handle decodes the request body into Req, calls fn and writes its answer
// or its *agentapi.Error as JSON.
func handle[Req any](fn func(*Req) (any, error)) http.HandlerFunc {
	return func(w http.ResponseWriter, r *http.Request) {
		req := new(Req)
		var answer any
		err := json.NewDecoder(r.Body).Decode(req)
		if err != nil {
			err = &agentapi.Error{Code: agentapi.CodeInvalidConfig, Msg: "decode request", Details: err.Error()}
		} else {
			answer, err = fn(req)
		}
		w.Header().Set("Content-Type", "application/json")
		var agentErr *agentapi.Error
		if errors.As(err, &agentErr) {
			w.WriteHeader(http.StatusBadRequest)
			answer = agentErr
		}
		if answer == nil {
			answer = struct{}{}
		}
		_ = json.NewEncoder(w).Encode(answer)
	}
}

func (a *memoryAgent) add(req *agentapi.AddRequest) (any, error) {
	if req.Pod.Namespace == "" || req.Pod.Name == "" {
		return nil, &agentapi.Error{Code: agentapi.CodeInvalidConfig, Msg: "pod namespace and name are required"}
	}
	a.mu.Lock()
	defer a.mu.Unlock()
	if h, ok := a.held[req.Attachment]; ok {
		return &agentapi.AddResponse{IPs: h.ips}, nil
	}
	var ranges []addrRange
	if len(req.DefaultIPv4Pools) > 0 {
		ranges = append(ranges, v4Range)
	}
	if len(req.DefaultIPv6Pools) > 0 {
		ranges = append(ranges, v6Range)
	}
	if len(ranges) == 0 {
		return nil, &agentapi.Error{Code: agentapi.CodeInvalidConfig, Msg: "no pool for the pod"}
	}
	h := &holding{network: req.Network}
	for _, r := range ranges {
		addr, ok := a.free(r)
		if !ok {
			return nil, &agentapi.Error{Code: agentapi.CodeAllocationFailed, Msg: "no free address in pool " + r.pool}
		}
		ip := agentapi.IPConfig{Address: netip.PrefixFrom(addr, r.bits).String(), Pool: r.pool}
		if !req.CleanGateway {
			ip.Gateway = r.gateway
		}
		h.ips = append(h.ips, ip)
	}
	a.held[req.Attachment] = h
	return &agentapi.AddResponse{IPs: h.ips}, nil
}

// free returns the lowest address of r nobody holds; a.mu is held.
func (a *memoryAgent) free(r addrRange) (netip.Addr, bool) {
	taken := map[string]bool{}
	for _, h := range a.held {
		for _, ip := range h.ips {
			taken[ip.Address] = true
		}
	}
	for addr := r.first; addr.Compare(r.last) <= 0; addr = addr.Next() {
		if !taken[netip.PrefixFrom(addr, r.bits).String()] {
			return addr, true
		}
	}
	return netip.Addr{}, false
}

func (a *memoryAgent) del(req *agentapi.DelRequest) (any, error) {
	a.mu.Lock()
	defer a.mu.Unlock()
	delete(a.held, req.Attachment) // nothing held: nothing to release, success
	return nil, nil
}

func (a *memoryAgent) check(req *agentapi.CheckRequest) (any, error) {
	a.mu.Lock()
	defer a.mu.Unlock()
	h, ok := a.held[req.Attachment]
	if !ok {
		return nil, &agentapi.Error{Code: agentapi.CodeNotFound,
			Msg: fmt.Sprintf("no addresses held for %s/%s", req.ContainerID, req.IfName)}
	}
	for _, want := range req.IPs {
		if !slices.ContainsFunc(h.ips, func(ip agentapi.IPConfig) bool { return ip.Address == want }) {
			return nil, &agentapi.Error{Code: agentapi.CodeNotFound,
				Msg: fmt.Sprintf("%s/%s does not hold %s", req.ContainerID, req.IfName, want)}
		}
	}
	return nil, nil
}

func (a *memoryAgent) gc(req *agentapi.GCRequest) (any, error) {
	a.mu.Lock()
	defer a.mu.Unlock()
	resp := &agentapi.GCResponse{}
	for attachment, h := range a.held {
		if h.network != req.Network || slices.Contains(req.ValidAttachments, attachment) {
			continue
		}
		for _, ip := range h.ips {
			resp.Released = append(resp.Released, ip.Address)
		}
		delete(a.held, attachment)
	}
	return resp, nil
}
