package agent

// The agent's permissions, generated into config/rbac/agent by make generate
// and shipped by the chart as the ipkeeper-agent ClusterRole. They are the
// least the node agent needs: it reads what the allocator decides with, from
// informer caches (cmd/ipkeeper-agent, internal/store), and writes only the
// records of its own allocations. It never writes pools, subnets or
// reservations, and it reads no Secrets.
//
// Pods: the node's pods as metadata (a field-selected watch), and a direct
// get for a pod the cache has not seen yet. Node: its own, for nodeAffinity.
// Namespaces: default-pool annotations and namespaceAffinity. StatefulSets:
// replicas and ordinals of fixed addresses. ReplicaSets and Jobs, as metadata:
// the controller reference that leads to a pod's top owner.
//
// +kubebuilder:rbac:groups="",resources=pods;nodes;namespaces,verbs=get;list;watch
// +kubebuilder:rbac:groups=apps,resources=statefulsets;replicasets,verbs=get;list;watch
// +kubebuilder:rbac:groups=batch,resources=jobs,verbs=get;list;watch
//
// Pools and reservations feed the address index, subnets the reason an
// automatic pool is missing; claims are the allocations
// (create is the lock, delete with a UID precondition releases); endpoints
// are each pod's view of its addresses.
//
// +kubebuilder:rbac:groups=spiderpool.spidernet.io,resources=spiderippools;spidersubnets;spiderreservedips,verbs=get;list;watch
// +kubebuilder:rbac:groups=ipkeeper.io,resources=ipclaims,verbs=get;list;watch;create;update;delete
// +kubebuilder:rbac:groups=spiderpool.spidernet.io,resources=spiderendpoints,verbs=get;list;watch;create;update;delete
//
// Warning events on pods that cannot get an address (events.k8s.io/v1, the
// API controller-runtime's recorder writes).
//
// +kubebuilder:rbac:groups=events.k8s.io,resources=events,verbs=create;patch
