package main

import (
	"context"
	"fmt"
	"io"
	"net/http"
	"os"
	"path/filepath"
	"sync"
)

// profileSeconds is the length of each CPU profile: shorter than a phase
// of the default run, so that it holds no idle tail.
const profileSeconds = 15

// profile starts Go CPU profiles of the API server, of every agent and of
// the controller, written to prefix-apiserver.pprof,
// prefix-agent-<node>.pprof and prefix-controller.pprof; the returned
// function waits for them. A failed profile is reported, not fatal.
func (e *env) profile(ctx context.Context, prefix string) func() {
	var wg sync.WaitGroup
	save := func(name string, fetch func() ([]byte, error)) {
		wg.Go(func() {
			data, err := fetch()
			if err == nil {
				err = os.WriteFile(prefix+"-"+name+".pprof", data, 0o644)
			}
			if err != nil {
				fmt.Printf("bench: profile of %s: %v\n", name, err)
			}
		})
	}
	if err := os.MkdirAll(filepath.Dir(prefix), 0o755); err != nil {
		fmt.Printf("bench: profiles: %v\n", err)
		return func() {}
	}
	save("apiserver", func() ([]byte, error) {
		return e.cs.Discovery().RESTClient().Get().AbsPath("/debug/pprof/profile").
			Param("seconds", fmt.Sprint(profileSeconds)).DoRaw(ctx)
	})
	if e.mode == modeIpkeeper { // host-local has no agents
		for _, n := range e.nodes {
			save("agent-"+n.Name, func() ([]byte, error) {
				return goProfile(ctx, func() (string, error) { return e.cluster.AgentPprofAddress(n.Name) })
			})
		}
		save("controller", func() ([]byte, error) { return goProfile(ctx, e.cluster.ControllerPprofAddress) })
	}
	return wg.Wait
}

// goProfile fetches a CPU profile from the /debug/pprof that address names.
func goProfile(ctx context.Context, address func() (string, error)) ([]byte, error) {
	addr, err := address()
	if err != nil {
		return nil, err
	}
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, fmt.Sprintf("http://%s/debug/pprof/profile?seconds=%d", addr, profileSeconds), nil)
	if err != nil {
		return nil, err
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		return nil, err
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		return nil, fmt.Errorf("profile from %s: %s", addr, resp.Status)
	}
	return io.ReadAll(resp.Body)
}
