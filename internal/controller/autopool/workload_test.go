package autopool

import (
	"testing"

	"github.com/google/go-cmp/cmp"
	appsv1 "k8s.io/api/apps/v1"
	batchv1 "k8s.io/api/batch/v1"
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"sigs.k8s.io/controller-runtime/pkg/client"
)

func TestFromBuiltin(t *testing.T) {
	ann := map[string]string{"ipam.spidernet.io/subnet": `{"ipv4":["s"]}`}
	sel := &metav1.LabelSelector{MatchLabels: map[string]string{"app": "x"}}
	tmpl := corev1.PodTemplateSpec{ObjectMeta: metav1.ObjectMeta{Annotations: ann, Labels: map[string]string{"app": "x"}}}
	meta := metav1.ObjectMeta{Namespace: "ns", Name: "x", UID: "uid"}
	owned := *meta.DeepCopy()
	owned.OwnerReferences = []metav1.OwnerReference{{APIVersion: "apps/v1", Kind: "Deployment", Name: "d", UID: "d", Controller: new(true)}}

	type got struct {
		Key         Key
		APIVersion  string
		Replicas    int64
		Selector    *metav1.LabelSelector
		Annotations map[string]string
	}
	tests := []struct {
		name string
		obj  client.Object
		want *got
	}{
		{"deployment", &appsv1.Deployment{ObjectMeta: meta, Spec: appsv1.DeploymentSpec{Replicas: new(int32(2)), Selector: sel, Template: tmpl}},
			&got{Key{"apps", "Deployment", "ns", "x"}, "apps/v1", 2, sel, ann}},
		{"deployment replicas unset", &appsv1.Deployment{ObjectMeta: meta, Spec: appsv1.DeploymentSpec{Selector: sel, Template: tmpl}},
			&got{Key{"apps", "Deployment", "ns", "x"}, "apps/v1", 1, sel, ann}},
		{"bare replicaset", &appsv1.ReplicaSet{ObjectMeta: meta, Spec: appsv1.ReplicaSetSpec{Replicas: new(int32(3)), Selector: sel, Template: tmpl}},
			&got{Key{"apps", "ReplicaSet", "ns", "x"}, "apps/v1", 3, sel, ann}},
		{"replicaset of a deployment", &appsv1.ReplicaSet{ObjectMeta: owned, Spec: appsv1.ReplicaSetSpec{Template: tmpl}}, nil},
		{"statefulset", &appsv1.StatefulSet{ObjectMeta: meta, Spec: appsv1.StatefulSetSpec{Replicas: new(int32(0)), Selector: sel, Template: tmpl}},
			&got{Key{"apps", "StatefulSet", "ns", "x"}, "apps/v1", 0, sel, ann}},
		{"daemonset counts its nodes", &appsv1.DaemonSet{ObjectMeta: meta, Spec: appsv1.DaemonSetSpec{Selector: sel, Template: tmpl},
			Status: appsv1.DaemonSetStatus{DesiredNumberScheduled: 7}},
			&got{Key{"apps", "DaemonSet", "ns", "x"}, "apps/v1", 7, sel, ann}},
		{"job parallelism", &batchv1.Job{ObjectMeta: meta, Spec: batchv1.JobSpec{Parallelism: new(int32(4)), Selector: sel, Template: tmpl}},
			&got{Key{"batch", "Job", "ns", "x"}, "batch/v1", 4, sel, ann}},
		{"job of a cronjob", &batchv1.Job{ObjectMeta: owned, Spec: batchv1.JobSpec{Template: tmpl}}, nil},
		{"cronjob", &batchv1.CronJob{ObjectMeta: meta, Spec: batchv1.CronJobSpec{JobTemplate: batchv1.JobTemplateSpec{Spec: batchv1.JobSpec{Template: tmpl}}}},
			&got{Key{"batch", "CronJob", "ns", "x"}, "batch/v1", 1, sel, ann}},
		{"not a workload", &corev1.Pod{ObjectMeta: meta}, nil},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			w, ok := fromBuiltin(tt.obj)
			if ok != (tt.want != nil) {
				t.Fatalf("fromBuiltin ok = %v, want %v", ok, tt.want != nil)
			}
			if !ok {
				return
			}
			g := &got{w.Key, w.APIVersion, w.Replicas, w.Selector, w.Annotations}
			if diff := cmp.Diff(tt.want, g); diff != "" {
				t.Errorf("workload (-want +got):\n%s", diff)
			}
			if w.UID != "uid" || !w.HasReplicas {
				t.Errorf("UID = %q, HasReplicas = %v", w.UID, w.HasReplicas)
			}
		})
	}
}
