package autopool

import (
	"strconv"
	"strings"

	"k8s.io/apimachinery/pkg/runtime/schema"
	"k8s.io/apimachinery/pkg/types"

	"github.com/ipkeeper/ipkeeper/api/v2beta1"
	"github.com/ipkeeper/ipkeeper/internal/spiderpool"
)

// Labels and annotations of an automatic pool. The agent selects a
// workload's pools by LabelOwnerUID and LabelInterface; the rest let users
// and this controller find a workload's pools by kind, namespace and name,
// which outlive the UID when a workload is re-created.
const (
	LabelOwnerUID       = spiderpool.LabelAutoPoolOwnerUID
	LabelInterface      = spiderpool.LabelAutoPoolInterface
	LabelOwnerKind      = "ipkeeper.io/owner-kind"
	LabelOwnerNamespace = "ipkeeper.io/owner-namespace"
	// LabelOwnerName is the owner's name made label-safe (cut to 63
	// characters); AnnoOwnerName holds it in full.
	LabelOwnerName = "ipkeeper.io/owner-name"
	LabelAutoPool  = "ipkeeper.io/auto-pool"

	AnnoOwnerAPIVersion = "ipkeeper.io/owner-api-version"
	AnnoOwnerName       = "ipkeeper.io/owner-name"
	// AnnoReclaim records the workload's ipam.spidernet.io/ippool-reclaim,
	// because the workload is gone when it is needed.
	AnnoReclaim = "ipkeeper.io/reclaim"
)

// maxNameLen keeps pool names valid as label values too, so that a pool
// name can be selected on (IPClaims carry it in ipkeeper.io/pool).
const maxNameLen = 63

// Key names a workload whose pods ask for automatic pools. It is the
// controller's work-queue item: a workload is reconciled as a whole, and its
// pools are found by kind, namespace and name even after it is gone.
type Key struct {
	Group, Kind, Namespace, Name string
}

func (k Key) String() string {
	gk := schema.GroupKind{Group: k.Group, Kind: k.Kind}
	return gk.String() + " " + k.Namespace + "/" + k.Name
}

// Owner is a live workload: its key, the version it was read at and its UID.
type Owner struct {
	Key
	APIVersion string
	UID        types.UID
}

// PoolName is the name of the automatic pool of a workload's interface and
// IP family, as Spiderpool names it: auto4-<name>-<interface>-<the first 5
// characters of the UID's last dash-separated part>, in lowercase, the
// workload's name cut so that the whole fits in 63 characters. The name is
// only chosen at creation: pools are found by their labels, so a pool
// created under an earlier rule (the UID's first 5 characters, before
// ipkeeper followed Spiderpool here) keeps serving its workload.
func PoolName(family int, workload, iface string, uid types.UID) string {
	prefix := "auto" + strconv.Itoa(family) + "-"
	parts := strings.Split(string(uid), "-")
	suffix := "-" + dnsLabelPart(iface, 15) + "-" + dnsLabelPart(parts[len(parts)-1], 5)
	name := dnsLabelPart(workload, maxNameLen-len(prefix)-len(suffix))
	return prefix + name + suffix
}

// dnsLabelPart turns s into lowercase letters, digits and inner dashes, cut
// to n characters.
func dnsLabelPart(s string, n int) string {
	b := []byte(strings.ToLower(s))
	for i, c := range b {
		if (c < 'a' || c > 'z') && (c < '0' || c > '9') {
			b[i] = '-'
		}
	}
	return strings.Trim(string(b[:min(len(b), n)]), "-")
}

// labelValue makes s a valid label value: letters, digits, '-', '_' and
// '.', at most 63 characters, beginning and ending with a letter or digit.
func labelValue(s string) string {
	b := []byte(s)
	for i, c := range b {
		if !isAlnum(c) && c != '-' && c != '_' && c != '.' {
			b[i] = '-'
		}
	}
	return strings.TrimFunc(string(b[:min(len(b), 63)]), func(r rune) bool { return r > 127 || !isAlnum(byte(r)) })
}

func isAlnum(c byte) bool {
	return c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c >= '0' && c <= '9'
}

// poolLabels are the labels an owner's pool for iface carries.
func poolLabels(o Owner, iface string) map[string]string {
	return map[string]string{
		LabelAutoPool:       "true",
		LabelOwnerUID:       string(o.UID),
		LabelInterface:      iface,
		LabelOwnerKind:      labelValue(o.Kind),
		LabelOwnerNamespace: o.Namespace,
		LabelOwnerName:      labelValue(o.Name),
	}
}

// poolAnnotations are the annotations an owner's pool carries.
func poolAnnotations(o Owner, reclaim bool) map[string]string {
	return map[string]string{
		AnnoOwnerAPIVersion: o.APIVersion,
		AnnoOwnerName:       o.Name,
		AnnoReclaim:         strconv.FormatBool(reclaim),
	}
}

// ownerSelector selects the pools of a workload by kind, namespace and name,
// whatever its UID; matches must still be checked with keyOf, because the
// name label may be cut.
func ownerSelector(k Key) map[string]string {
	return map[string]string{
		LabelAutoPool:       "true",
		LabelOwnerKind:      labelValue(k.Kind),
		LabelOwnerNamespace: k.Namespace,
		LabelOwnerName:      labelValue(k.Name),
	}
}

// keyOf returns the workload an automatic pool was made for.
func keyOf(p *v2beta1.SpiderIPPool) (Key, bool) {
	if p.Labels[LabelAutoPool] != "true" {
		return Key{}, false
	}
	gv, err := schema.ParseGroupVersion(p.Annotations[AnnoOwnerAPIVersion])
	name := p.Annotations[AnnoOwnerName]
	if err != nil || name == "" {
		return Key{}, false
	}
	return Key{Group: gv.Group, Kind: p.Labels[LabelOwnerKind], Namespace: p.Labels[LabelOwnerNamespace], Name: name}, true
}

// reclaims reports whether a pool is to be deleted with its workload.
func reclaims(p *v2beta1.SpiderIPPool) bool {
	return p.Annotations[AnnoReclaim] != "false"
}
