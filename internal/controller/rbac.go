package controller

// The controller's permissions, generated from these markers and those next
// to the multusconfig reconciler into config/rbac/controller by make
// generate, and shipped by the chart as the ipkeeper-controller ClusterRole
// and, for the namespaced rules, a Role in the release namespace (the
// namespace below is a placeholder). No rule has a wildcard.
//
// Pool and subnet status (internal/controller/status): counts derived from
// claims, the addresses-in-use finalizer on pools, and the subnet's owner
// reference on the pools it holds. The admission webhooks read the same
// pools, subnets and claims.
//
// +kubebuilder:rbac:groups=spiderpool.spidernet.io,resources=spiderippools,verbs=get;list;watch;patch
// +kubebuilder:rbac:groups=spiderpool.spidernet.io,resources=spidersubnets,verbs=get;list;watch
// +kubebuilder:rbac:groups=spiderpool.spidernet.io,resources=spiderippools/status;spidersubnets/status,verbs=patch
//
// Automatic pools: see the markers next to internal/controller/autopool.Reconciler.
//
// Garbage collection (internal/controller/gc): a claim whose holder is gone
// is deleted with UID and resourceVersion preconditions, after looking up the
// holder pod and its StatefulSet; endpoints no claim backs, whose pod is
// gone, are listed and deleted with the same preconditions.
//
// +kubebuilder:rbac:groups=ipkeeper.io,resources=ipclaims,verbs=get;list;watch;delete
// +kubebuilder:rbac:groups=spiderpool.spidernet.io,resources=spiderendpoints,verbs=get;list;delete
// +kubebuilder:rbac:groups="",resources=pods,verbs=get;list;watch
// +kubebuilder:rbac:groups=apps,resources=statefulsets,verbs=get;list;watch
//
// Spiderpool import (internal/controller/spiderpoolimport): Spiderpool's
// records read live (pools, endpoints, pods, StatefulSets and claims, listed
// above), claims created for the pods that hold them, and the pools' status
// condition that says they are imported.
//
// +kubebuilder:rbac:groups=ipkeeper.io,resources=ipclaims,verbs=create
// +kubebuilder:rbac:groups=spiderpool.spidernet.io,resources=spiderendpoints,verbs=get;list
//
// Admission webhooks (internal/webhook): the controller registers its own
// configurations, both named ipkeeper (create cannot be limited to a name),
// and keeps its serving certificate in a Secret of its namespace.
//
// +kubebuilder:rbac:groups=admissionregistration.k8s.io,resources=validatingwebhookconfigurations;mutatingwebhookconfigurations,verbs=create
// +kubebuilder:rbac:groups=admissionregistration.k8s.io,resources=validatingwebhookconfigurations;mutatingwebhookconfigurations,verbs=get;update,resourceNames=ipkeeper
// +kubebuilder:rbac:groups="",namespace=kube-system,resources=secrets,verbs=create
// +kubebuilder:rbac:groups="",namespace=kube-system,resources=secrets,verbs=get;update,resourceNames=ipkeeper-webhook-certs
//
// Leader election: the Lease ipkeeper-controller, and the core/v1 Events the
// leader-election recorder writes about it in the same namespace.
//
// +kubebuilder:rbac:groups=coordination.k8s.io,namespace=kube-system,resources=leases,verbs=create
// +kubebuilder:rbac:groups=coordination.k8s.io,namespace=kube-system,resources=leases,verbs=get;update,resourceNames=ipkeeper-controller
// +kubebuilder:rbac:groups="",namespace=kube-system,resources=events,verbs=create;patch
