package main

import (
	"context"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"time"

	"k8s.io/apimachinery/pkg/util/wait"

	"github.com/ipkeeper/ipkeeper/test/localcluster"
)

// checks is what the bench verifies after each phase, once no pod is
// terminating any more.
type checks struct {
	// Pods is the number of pods with an address.
	Pods int `json:"pods"`
	// Duplicates is the number of addresses held by more than one pod.
	Duplicates int `json:"duplicates"`
	// Claims is the number of IPClaims of the bench pool (ipkeeper).
	Claims *int `json:"claims,omitempty"`
	// Unclaimed counts pods whose address has no claim naming that very
	// pod (ipkeeper).
	Unclaimed *int `json:"unclaimed,omitempty"`
	// PoolAllocated is the pool's status.allocatedIPCount (ipkeeper).
	PoolAllocated *int64 `json:"pool_allocated,omitempty"`
	// StoreFiles is the number of allocation files in the nodes'
	// host-local stores (host-local).
	StoreFiles *int `json:"store_files,omitempty"`
}

// problems lists what is inconsistent: an address held twice, or the IPAM's
// own record not matching the pods.
func (c checks) problems() []string {
	var out []string
	if c.Duplicates > 0 {
		out = append(out, fmt.Sprintf("%d addresses held by two pods or more", c.Duplicates))
	}
	if c.Claims != nil && *c.Claims != c.Pods {
		out = append(out, fmt.Sprintf("%d claims for %d pods", *c.Claims, c.Pods))
	}
	if c.Unclaimed != nil && *c.Unclaimed > 0 {
		out = append(out, fmt.Sprintf("%d pods without their own claim", *c.Unclaimed))
	}
	if c.PoolAllocated != nil && *c.PoolAllocated != int64(c.Pods) {
		out = append(out, fmt.Sprintf("pool status allocatedIPCount %d for %d pods", *c.PoolAllocated, c.Pods))
	}
	if c.StoreFiles != nil && *c.StoreFiles != c.Pods {
		out = append(out, fmt.Sprintf("%d host-local allocation files for %d pods", *c.StoreFiles, c.Pods))
	}
	return out
}

// settleTimeout bounds the wait for terminating pods and the pool status
// before the checks; it is not part of any phase's time.
const settleTimeout = 2 * time.Minute

// check waits until no pod is terminating and then verifies the addresses.
func (e *env) check(ctx context.Context, t *tracker) (checks, error) {
	err := wait.PollUntilContextTimeout(ctx, 200*time.Millisecond, settleTimeout, true, func(context.Context) (bool, error) {
		return t.count(nil).terminating == 0, nil
	})
	if err != nil {
		return checks{}, fmt.Errorf("pods still terminating (%s): %w", t.count(nil), err)
	}
	var c checks
	holders := map[string]int{}
	for _, p := range t.pods() {
		if p.Status.PodIP != "" {
			c.Pods++
			holders[p.Status.PodIP]++
		}
	}
	for _, n := range holders {
		if n > 1 {
			c.Duplicates++
		}
	}
	if e.mode == modeIpkeeper {
		return c, e.checkClaims(ctx, t, &c)
	}
	files, err := e.hostLocalFiles()
	c.StoreFiles = &files
	return c, err
}

// checkClaims compares the bench pool's claims with the pods, and waits
// for the pool status to catch up with the claims (it is batched).
func (e *env) checkClaims(ctx context.Context, t *tracker, c *checks) error {
	claims, err := e.claims(ctx, 0)
	if err != nil {
		return err
	}
	n := len(claims)
	holder := map[string]string{}
	for _, cl := range claims {
		holder[cl.Spec.Address] = string(cl.Spec.Holder.UID)
	}
	unclaimed := 0
	for _, p := range t.pods() {
		if p.Status.PodIP != "" && holder[p.Status.PodIP] != string(p.UID) {
			unclaimed++
		}
	}
	c.Claims, c.Unclaimed = &n, &unclaimed
	var st poolCounts
	err = wait.PollUntilContextTimeout(ctx, 200*time.Millisecond, settleTimeout, true, func(ctx context.Context) (bool, error) {
		got, gerr := e.poolStatus(ctx)
		st = got
		return gerr == nil && got.allocated == int64(n), nil
	})
	c.PoolAllocated = &st.allocated
	if err != nil && !wait.Interrupted(err) {
		return err
	}
	return nil
}

// hostLocalStores are the nodes' host-local stores as seen from the host.
func (e *env) hostLocalStores() []string {
	var out []string
	for _, n := range e.nodes {
		out = append(out, filepath.Join(n.LibDir(), "networks", localcluster.HostLocalNetworkName))
	}
	return out
}

// hostLocalFiles counts the allocation files (one per address, named by it)
// in every node's host-local store.
func (e *env) hostLocalFiles() (int, error) {
	total := 0
	for _, dir := range e.hostLocalStores() {
		entries, err := os.ReadDir(dir)
		if errors.Is(err, os.ErrNotExist) {
			continue
		}
		if err != nil {
			return 0, fmt.Errorf("read host-local store: %w", err)
		}
		for _, en := range entries {
			if name := en.Name(); name != "lock" && !strings.HasPrefix(name, "last_reserved_ip") {
				total++
			}
		}
	}
	return total, nil
}
