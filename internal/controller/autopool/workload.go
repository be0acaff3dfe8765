package autopool

import (
	appsv1 "k8s.io/api/apps/v1"
	batchv1 "k8s.io/api/batch/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime/schema"
	"sigs.k8s.io/controller-runtime/pkg/client"
)

// workload is what the controller needs of a workload: who it is, its pod
// template's annotations, how many pods it wants and how its pods are
// selected.
type workload struct {
	Owner
	// Object is the workload itself, which events are about; for a
	// third-party controller it is the pod the annotations were read from.
	Object      client.Object
	Annotations map[string]string
	// Replicas is the number of pods the workload wants; HasReplicas is
	// false for third-party controllers, whose replicas are unknown.
	Replicas    int64
	HasReplicas bool
	// Selector selects the workload's pods; nil when unknown.
	Selector *metav1.LabelSelector
}

// builtinKind is a workload kind whose pod template and replicas are read
// directly.
type builtinKind struct {
	gvk schema.GroupVersionKind
	new func() client.Object
}

// builtinKinds are the workloads of apps/v1 and batch/v1 that get automatic
// pools. Pods made by anything else go through the third-party path.
var builtinKinds = []builtinKind{
	{appsv1.SchemeGroupVersion.WithKind("Deployment"), func() client.Object { return &appsv1.Deployment{} }},
	{appsv1.SchemeGroupVersion.WithKind("ReplicaSet"), func() client.Object { return &appsv1.ReplicaSet{} }},
	{appsv1.SchemeGroupVersion.WithKind("StatefulSet"), func() client.Object { return &appsv1.StatefulSet{} }},
	{appsv1.SchemeGroupVersion.WithKind("DaemonSet"), func() client.Object { return &appsv1.DaemonSet{} }},
	{batchv1.SchemeGroupVersion.WithKind("Job"), func() client.Object { return &batchv1.Job{} }},
	{batchv1.SchemeGroupVersion.WithKind("CronJob"), func() client.Object { return &batchv1.CronJob{} }},
}

// builtin returns the built-in kind of a key, if it is one.
func builtin(k Key) (builtinKind, bool) {
	for _, b := range builtinKinds {
		if b.gvk.Group == k.Group && b.gvk.Kind == k.Kind {
			return b, true
		}
	}
	return builtinKind{}, false
}

// fromBuiltin reads a built-in workload. It reports false for a ReplicaSet
// or Job that has a controller: their pods belong to that controller's
// workload (a Deployment, a CronJob, or a third-party controller).
func fromBuiltin(obj client.Object) (*workload, bool) {
	w := &workload{Object: obj, HasReplicas: true}
	w.Namespace, w.Name, w.UID = obj.GetNamespace(), obj.GetName(), obj.GetUID()
	var gvk schema.GroupVersionKind
	switch o := obj.(type) {
	case *appsv1.Deployment:
		gvk = appsv1.SchemeGroupVersion.WithKind("Deployment")
		w.Annotations, w.Replicas, w.Selector = o.Spec.Template.Annotations, replicas(o.Spec.Replicas), o.Spec.Selector
	case *appsv1.ReplicaSet:
		if metav1.GetControllerOf(o) != nil {
			return nil, false
		}
		gvk = appsv1.SchemeGroupVersion.WithKind("ReplicaSet")
		w.Annotations, w.Replicas, w.Selector = o.Spec.Template.Annotations, replicas(o.Spec.Replicas), o.Spec.Selector
	case *appsv1.StatefulSet:
		gvk = appsv1.SchemeGroupVersion.WithKind("StatefulSet")
		w.Annotations, w.Replicas, w.Selector = o.Spec.Template.Annotations, replicas(o.Spec.Replicas), o.Spec.Selector
	case *appsv1.DaemonSet:
		// A DaemonSet wants one pod per node it targets.
		gvk = appsv1.SchemeGroupVersion.WithKind("DaemonSet")
		w.Annotations, w.Replicas, w.Selector = o.Spec.Template.Annotations, int64(o.Status.DesiredNumberScheduled), o.Spec.Selector
	case *batchv1.Job:
		if metav1.GetControllerOf(o) != nil {
			return nil, false
		}
		gvk = batchv1.SchemeGroupVersion.WithKind("Job")
		w.Annotations, w.Replicas, w.Selector = o.Spec.Template.Annotations, replicas(o.Spec.Parallelism), o.Spec.Selector
	case *batchv1.CronJob:
		// Each run is a new Job with a new selector; the pods share only
		// the labels of the Job template's pod template.
		gvk = batchv1.SchemeGroupVersion.WithKind("CronJob")
		tmpl := o.Spec.JobTemplate.Spec.Template
		w.Annotations, w.Replicas = tmpl.Annotations, replicas(o.Spec.JobTemplate.Spec.Parallelism)
		if len(tmpl.Labels) > 0 {
			w.Selector = &metav1.LabelSelector{MatchLabels: tmpl.Labels}
		}
	default:
		return nil, false
	}
	w.Group, w.Kind, w.APIVersion = gvk.Group, gvk.Kind, gvk.GroupVersion().String()
	return w, true
}

// replicas is a replicas-like field; unset means 1, as the API defaults it.
func replicas(p *int32) int64 {
	if p == nil {
		return 1
	}
	return int64(*p)
}

// keyOfRef is the key of the workload a controller reference names.
func keyOfRef(namespace string, ref *metav1.OwnerReference) Key {
	gv, _ := schema.ParseGroupVersion(ref.APIVersion)
	return Key{Group: gv.Group, Kind: ref.Kind, Namespace: namespace, Name: ref.Name}
}
