package importer

import (
	"fmt"

	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/types"

	"github.com/ipkeeper/ipkeeper/api/ipkeeper/v1alpha1"
	"github.com/ipkeeper/ipkeeper/internal/spiderpool"
)

// ImportedFrom is the value of v1alpha1.AnnotationImportedFrom on the claims
// Plan returns.
const ImportedFrom = "spiderpool"

// apiVersions of the owner kinds Spiderpool records, for ClaimOwner.
var apiVersions = map[string]string{
	"Pod": "v1", "Deployment": "apps/v1", "ReplicaSet": "apps/v1", "StatefulSet": "apps/v1",
	"DaemonSet": "apps/v1", "Job": "batch/v1", "CronJob": "batch/v1",
}

// claimFor is the claim an agent would have written for the holding r
// describes, best described by an endpoint record when there is one.
func (p *planner) claimFor(r record) *v1alpha1.IPClaim {
	pod := p.pods[r.pod]
	node := ""
	if r.ep != nil {
		node = r.ep.Status.Current.Node
	}
	if node == "" && pod != nil {
		node = pod.Spec.NodeName
	}
	owner := p.ownerOf(r, pod)
	c := &v1alpha1.IPClaim{
		ObjectMeta: metav1.ObjectMeta{
			Name: v1alpha1.ClaimName(r.addr),
			// The agent's labels, so that claims are selected the same way.
			Labels:      map[string]string{v1alpha1.LabelPool: r.pool, v1alpha1.LabelNode: node},
			Annotations: map[string]string{v1alpha1.AnnotationImportedFrom: ImportedFrom},
		},
		Spec: v1alpha1.IPClaimSpec{
			Address: r.addr.String(), Pool: r.pool, Node: node,
			Holder: v1alpha1.ClaimHolder{Namespace: r.pod.Namespace, Name: r.pod.Name, UID: r.uid, Interface: r.iface},
			Owner:  owner,
		},
	}
	if owner.Kind == spiderpool.KindStatefulSet {
		c.Spec.Ordinal = spiderpool.OrdinalOf(r.pod.Name, owner.Name)
	}
	return c
}

// ownerOf is the holder's top controller: the one its endpoint records, the
// StatefulSet's UID looked up, else the pod's controller; a bare pod is its
// own owner, as the agent records it.
func (p *planner) ownerOf(r record, pod *corev1.Pod) v1alpha1.ClaimOwner {
	kind, name := "", ""
	if r.ep != nil {
		kind, name = r.ep.Status.OwnerControllerType, r.ep.Status.OwnerControllerName
	}
	var ref *metav1.OwnerReference
	if pod != nil && pod.UID == r.uid {
		ref = metav1.GetControllerOfNoCopy(pod)
	}
	if kind == "" && ref != nil {
		kind, name = ref.Kind, ref.Name
	}
	if kind == "" || kind == "Pod" {
		return v1alpha1.ClaimOwner{APIVersion: "v1", Kind: "Pod", Name: r.pod.Name, UID: r.uid}
	}
	o := v1alpha1.ClaimOwner{APIVersion: apiVersions[kind], Kind: kind, Name: name}
	if ref != nil && ref.Kind == kind && ref.Name == name {
		o.APIVersion, o.UID = ref.APIVersion, ref.UID
	}
	if kind == spiderpool.KindStatefulSet {
		if sts := p.statefulSets[types.NamespacedName{Namespace: r.pod.Namespace, Name: name}]; sts != nil {
			o.UID = sts.UID
		}
	}
	return o
}

// SameHolder reports whether two claims of one address are held by the same
// pod: the same incarnation, or the same StatefulSet ordinal (a restarted
// pod takes its ordinal's claim over).
func SameHolder(a, b *v1alpha1.IPClaim) bool {
	ha, hb := a.Spec.Holder, b.Spec.Holder
	if ha.Namespace != hb.Namespace || ha.Name != hb.Name {
		return false
	}
	if ha.UID == hb.UID {
		return true
	}
	oa, ob := a.Spec.Owner, b.Spec.Owner
	return oa.Kind == spiderpool.KindStatefulSet && ob.Kind == spiderpool.KindStatefulSet && oa.Name == ob.Name
}

// Claimed is the conflict of an address Spiderpool gave to want's holder
// while IPClaim cur holds it for another pod; records are the Spiderpool
// records that name want's holder.
func Claimed(want, cur *v1alpha1.IPClaim, records ...string) Conflict {
	wantHolder, curHolder := claimHolder(want), claimHolder(cur)
	return Conflict{Kind: ConflictClaimed, Address: want.Spec.Address, Objects: append(records, "IPClaim "+cur.Name),
		Holders: []string{wantHolder, curHolder},
		Detail:  fmt.Sprintf("Spiderpool gave %s to pod %s, but IPClaim %s holds it for pod %s", want.Spec.Address, wantHolder, cur.Name, curHolder)}
}

func claimHolder(c *v1alpha1.IPClaim) string {
	h := c.Spec.Holder
	return holderString(types.NamespacedName{Namespace: h.Namespace, Name: h.Name}, h.UID)
}
