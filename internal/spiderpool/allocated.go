package spiderpool

import (
	"encoding/json"
	"fmt"
	"net/netip"
	"strings"

	"k8s.io/apimachinery/pkg/api/meta"
	"k8s.io/apimachinery/pkg/types"

	"github.com/ipkeeper/ipkeeper/api/ipkeeper/v1alpha1"
	"github.com/ipkeeper/ipkeeper/api/v2beta1"
)

// PoolRecord is one entry of a SpiderIPPool's status.allocatedIPs: the pod
// incarnation Spiderpool gave the address to.
type PoolRecord struct {
	Pod types.NamespacedName
	UID types.UID
	// Interface is set only by Spiderpool releases before v0.9.
	Interface string
}

// allocatedIP is the JSON form of one entry.
type allocatedIP struct {
	Pod       string    `json:"pod"`
	PodUID    types.UID `json:"podUid"`
	Interface string    `json:"interface,omitempty"`
}

// HasAllocatedIPs reports whether the pool carries records of Spiderpool's
// (an absent, empty or "{}" status.allocatedIPs carries none).
func HasAllocatedIPs(p *v2beta1.SpiderIPPool) bool {
	if p.Status.AllocatedIPs == nil {
		return false
	}
	switch strings.TrimSpace(*p.Status.AllocatedIPs) {
	case "", "{}", "null":
		return false
	}
	return true
}

// Imported reports whether the controller has imported the pool's
// Spiderpool records (condition SpiderpoolImported is True).
func Imported(p *v2beta1.SpiderIPPool) bool {
	return meta.IsStatusConditionTrue(p.Status.Conditions, v1alpha1.ConditionSpiderpoolImported)
}

// AwaitsImport reports whether the pool has Spiderpool records that are not
// IPClaims yet. No address of such a pool may be handed out: it could be one
// a running pod holds. The check reads no JSON, so it is cheap enough for
// every pool choice.
func AwaitsImport(p *v2beta1.SpiderIPPool) bool {
	return HasAllocatedIPs(p) && !Imported(p)
}

// AllocatedIPs parses the pool's status.allocatedIPs. Errors name the pool,
// the field and the entry.
func AllocatedIPs(p *v2beta1.SpiderIPPool) (map[netip.Addr]PoolRecord, error) {
	if !HasAllocatedIPs(p) {
		return nil, nil
	}
	var raw map[string]allocatedIP
	if err := json.Unmarshal([]byte(*p.Status.AllocatedIPs), &raw); err != nil {
		return nil, fmt.Errorf("SpiderIPPool %s: status.allocatedIPs: %w", p.Name, err)
	}
	out := make(map[netip.Addr]PoolRecord, len(raw))
	for key, e := range raw {
		addr, err := netip.ParseAddr(key)
		if err != nil {
			return nil, fmt.Errorf("SpiderIPPool %s: status.allocatedIPs key %q: %w", p.Name, key, err)
		}
		ns, name, ok := strings.Cut(e.Pod, "/")
		if !ok || ns == "" || name == "" {
			return nil, fmt.Errorf("SpiderIPPool %s: status.allocatedIPs[%s].pod %q: want namespace/name", p.Name, key, e.Pod)
		}
		addr = addr.Unmap()
		if prev, dup := out[addr]; dup && (prev.Pod.String() != e.Pod || prev.UID != e.PodUID) {
			return nil, fmt.Errorf("SpiderIPPool %s: status.allocatedIPs lists %s twice, for pods %s and %s", p.Name, addr, prev.Pod, e.Pod)
		}
		out[addr] = PoolRecord{Pod: types.NamespacedName{Namespace: ns, Name: name}, UID: e.PodUID, Interface: e.Interface}
	}
	return out, nil
}
