package main

import (
	"context"
	"fmt"
	"slices"
	"strings"
)

// requestKey is one series of apiserver_request_total.
type requestKey struct{ verb, group, resource, subresource, code string }

func (k requestKey) String() string {
	r := k.resource
	if k.subresource != "" {
		r += "/" + k.subresource
	}
	return k.verb + " " + r
}

// requests counts the API server's requests per series.
type requests map[requestKey]float64

// apiRequests reads apiserver_request_total from the API server's /metrics.
func (e *env) apiRequests(ctx context.Context) (requests, error) {
	raw, err := e.cs.Discovery().RESTClient().Get().AbsPath("/metrics").DoRaw(ctx)
	if err != nil {
		return nil, fmt.Errorf("read API server metrics: %w", err)
	}
	samples, err := parseSamples(string(raw), func(name string) bool { return name == "apiserver_request_total" })
	if err != nil {
		return nil, err
	}
	out := requests{}
	for _, s := range samples {
		k := requestKey{s.labels["verb"], s.labels["group"], s.labels["resource"], s.labels["subresource"], s.labels["code"]}
		out[k] += s.value
	}
	return out, nil
}

// minus returns the requests made since before.
func (r requests) minus(before requests) requests {
	out := requests{}
	for k, v := range r {
		if d := v - before[k]; d > 0 {
			out[k] = d
		}
	}
	return out
}

func (r requests) total() float64 {
	var sum float64
	for _, v := range r {
		sum += v
	}
	return sum
}

var writeVerbs = []string{"POST", "PUT", "PATCH", "APPLY", "DELETE", "DELETECOLLECTION"}

// ipamWrites counts the writes on ipkeeper's per-address objects, and
// those of them refused with 409 (a claim on an address another agent took
// first, or an update conflict).
func (r requests) ipamWrites() (all, conflicts float64) {
	for k, v := range r {
		if (k.resource == "ipclaims" || k.resource == "spiderendpoints") && slices.Contains(writeVerbs, k.verb) {
			all += v
			if k.code == "409" {
				conflicts += v
			}
		}
	}
	return all, conflicts
}

// requestCount is one line of a breakdown.
type requestCount struct {
	Request string  `json:"request"`
	Count   float64 `json:"count"`
}

// top returns the n largest series, "VERB resource[/subresource]".
func (r requests) top(n int) []requestCount {
	byName := map[string]float64{}
	for k, v := range r {
		byName[k.String()] += v
	}
	var out []requestCount
	for name, v := range byName {
		out = append(out, requestCount{Request: name, Count: v})
	}
	slices.SortFunc(out, func(a, b requestCount) int {
		if a.Count != b.Count {
			if a.Count > b.Count {
				return -1
			}
			return 1
		}
		return strings.Compare(a.Request, b.Request)
	})
	return out[:min(n, len(out))]
}
