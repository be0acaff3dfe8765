package main

import (
	"context"
	"encoding/binary"
	"fmt"
	"net/netip"
	"time"

	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/apimachinery/pkg/util/wait"

	"github.com/ipkeeper/ipkeeper/api/ipkeeper/v1alpha1"
	"github.com/ipkeeper/ipkeeper/api/v2beta1"
)

// The bench pool holds exactly as many addresses as pods, from 10.6.100.1
// up: clear of the nodes (10.6.0.x), default-v4 (10.6.10.1–10.6.19.254)
// and the host-local ranges (10.6.200+N.0/24) on the shared underlay.
const (
	benchPool      = "bench"
	underlaySubnet = "10.6.0.0/16"
)

var (
	poolFirst = netip.MustParseAddr("10.6.100.1")
	poolGVR   = v2beta1.GroupVersion.WithResource("spiderippools")
	claimGVR  = v1alpha1.GroupVersion.WithResource("ipclaims")
)

// poolRange returns the first and last of n consecutive addresses.
func poolRange(n int) (netip.Addr, netip.Addr) {
	a := poolFirst.As4()
	var b [4]byte
	binary.BigEndian.PutUint32(b[:], binary.BigEndian.Uint32(a[:])+uint32(n-1))
	return poolFirst, netip.AddrFrom4(b)
}

// The -whole-16 pool: every address of a /16 of its own, clear of the
// underlay (no packet is sent: the IPAM path runs no main plugin).
const (
	whole16Subnet = "10.7.0.0/16"
	whole16Range  = "10.7.0.1-10.7.255.254"
	whole16Size   = 65534
)

// createPool creates the bench pool with n addresses and waits until the
// controller reports exactly n in its status.
func (e *env) createPool(ctx context.Context, n int) error {
	first, last := poolRange(n)
	return e.createPoolOf(ctx, underlaySubnet, first.String()+"-"+last.String(), n)
}

// createPoolOf creates the bench pool of subnet with the ips range and waits
// until the controller reports n addresses in its status.
func (e *env) createPoolOf(ctx context.Context, subnet, ips string, n int) error {
	pool := &v2beta1.SpiderIPPool{
		TypeMeta:   metav1.TypeMeta{APIVersion: v2beta1.GroupVersion.String(), Kind: "SpiderIPPool"},
		ObjectMeta: metav1.ObjectMeta{Name: benchPool},
		Spec:       v2beta1.SpiderIPPoolSpec{Subnet: subnet, IPs: []string{ips}},
	}
	obj, err := runtime.DefaultUnstructuredConverter.ToUnstructured(pool)
	if err != nil {
		return fmt.Errorf("convert pool: %w", err)
	}
	if _, err := e.dyn.Resource(poolGVR).Create(ctx, &unstructured.Unstructured{Object: obj}, metav1.CreateOptions{}); err != nil {
		return fmt.Errorf("create pool %s: %w", benchPool, err)
	}
	var seen poolCounts
	err = wait.PollUntilContextTimeout(ctx, 200*time.Millisecond, time.Minute, true, func(ctx context.Context) (bool, error) {
		c, err := e.poolStatus(ctx)
		seen = c
		return err == nil && c.total == int64(n), nil
	})
	if err != nil {
		return fmt.Errorf("pool %s: status.totalIPCount %d, want %d: %w", benchPool, seen.total, n, err)
	}
	return nil
}

// poolCounts is the pool's status as the controller writes it.
type poolCounts struct{ total, allocated int64 }

func (e *env) poolStatus(ctx context.Context) (poolCounts, error) {
	u, err := e.dyn.Resource(poolGVR).Get(ctx, benchPool, metav1.GetOptions{})
	if err != nil {
		return poolCounts{}, fmt.Errorf("get pool %s: %w", benchPool, err)
	}
	total, _, _ := unstructured.NestedInt64(u.Object, "status", "totalIPCount")
	allocated, _, _ := unstructured.NestedInt64(u.Object, "status", "allocatedIPCount")
	return poolCounts{total: total, allocated: allocated}, nil
}

// claims lists the IPClaims of the bench pool; limit > 0 stops early.
func (e *env) claims(ctx context.Context, limit int64) ([]v1alpha1.IPClaim, error) {
	list, err := e.dyn.Resource(claimGVR).List(ctx, metav1.ListOptions{
		LabelSelector: v1alpha1.LabelPool + "=" + benchPool, Limit: limit,
	})
	if err != nil {
		return nil, fmt.Errorf("list claims of pool %s: %w", benchPool, err)
	}
	out := make([]v1alpha1.IPClaim, len(list.Items))
	for i := range list.Items {
		if err := runtime.DefaultUnstructuredConverter.FromUnstructured(list.Items[i].Object, &out[i]); err != nil {
			return nil, fmt.Errorf("decode claim %s: %w", list.Items[i].GetName(), err)
		}
	}
	return out, nil
}
