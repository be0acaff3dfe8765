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

// profile starts Go CPU profiles of the API server and of every agent,
// written to prefix-apiserver.pprof and prefix-agent-<node>.pprof; the returned
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
			save("agent-"+n.Name, func() ([]byte, error) { return agentProfile(ctx, e, n.Name) })
		}
	}
	return wg.Wait
}

func agentProfile(ctx context.Context, e *env, node string) ([]byte, error) {
	addr, err := e.cluster.AgentPprofAddress(node)
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
		return nil, fmt.Errorf("agent profile: %s", resp.Status)
	}
	return io.ReadAll(resp.Body)
}
