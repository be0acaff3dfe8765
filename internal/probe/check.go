package probe

import (
	"context"
	"errors"
	"fmt"
	"net"
	"net/netip"
	"sync"
	"time"
)

// Target is one address of the interface and its gateway (zero when the
// pool has none).
type Target struct {
	Address netip.Addr
	Gateway netip.Addr
}

// Plan says what to check on the interface.
type Plan struct {
	Targets []Target
	// Conflict probes every address for ConflictWait.
	Conflict     bool
	ConflictWait time.Duration
	// Gateway asks for every gateway, for at most GatewayWait.
	Gateway     bool
	GatewayWait time.Duration
}

// Conflict is an address another host answered for.
type Conflict struct {
	Address      netip.Addr
	HardwareAddr net.HardwareAddr
}

// Outcome is what the checks found. With no conflict and every gateway
// answering, the addresses were announced.
type Outcome struct {
	Conflicts []Conflict
	// Unreachable are the targets whose gateway did not answer (checked
	// only when there was no conflict).
	Unreachable []Target
}

// Check runs plan on interface ifName of the network namespace at netns:
// the address probes first (all families at once), then, if no address
// conflicts, the gateways, then the announcements. The interface is left up
// or down as it was found.
func Check(ctx context.Context, netns, ifName string, plan Plan) (out Outcome, err error) {
	l, err := Open(netns, ifName)
	if err != nil {
		return Outcome{}, err
	}
	defer func() { err = errors.Join(err, l.Close()) }()
	if plan.Conflict {
		if out.Conflicts, err = eachTarget(plan.Targets, func(t Target) (*Conflict, error) {
			mac, found, err := l.Conflict(ctx, t.Address, plan.ConflictWait)
			if err != nil || !found {
				return nil, err
			}
			return &Conflict{Address: t.Address, HardwareAddr: mac}, nil
		}); err != nil || len(out.Conflicts) > 0 {
			return out, err
		}
	}
	if plan.Gateway {
		if out.Unreachable, err = eachTarget(plan.Targets, func(t Target) (*Target, error) {
			if !t.Gateway.IsValid() {
				return nil, nil
			}
			ok, err := l.Reach(ctx, t.Address, t.Gateway, plan.GatewayWait)
			if err != nil || ok {
				return nil, err
			}
			return &t, nil
		}); err != nil || len(out.Unreachable) > 0 {
			return out, err
		}
	}
	for _, t := range plan.Targets {
		if err := l.Announce(t.Address); err != nil {
			return out, fmt.Errorf("announce %s: %w", t.Address, err)
		}
	}
	return out, nil
}

// eachTarget runs fn for every target at once and collects what it found.
func eachTarget[T any](targets []Target, fn func(Target) (*T, error)) ([]T, error) {
	var mu sync.Mutex
	var wg sync.WaitGroup
	var found []T
	var errs []error
	for _, t := range targets {
		wg.Go(func() {
			got, err := fn(t)
			mu.Lock()
			defer mu.Unlock()
			if err != nil {
				errs = append(errs, err)
			}
			if got != nil {
				found = append(found, *got)
			}
		})
	}
	wg.Wait()
	return found, errors.Join(errs...)
}
