package main

import (
	"context"
	"errors"
	"fmt"
	"sync"

	appsv1 "k8s.io/api/apps/v1"
	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/utils/ptr"

	"github.com/ipkeeper/ipkeeper/test/localcluster"
)

// The workload's objects.
const (
	benchNamespace = "ipkeeper-bench"
	benchLabel     = "ipkeeper-bench" // on every Deployment and pod, value "scale"
	benchValue     = "scale"
	benchImage     = "registry.invalid/bench:1" // simulated nodes: never pulled, no container runtime
	poolAnnotation = "ipam.spidernet.io/ippool"
	// createWorkers and deleteWorkers bound the bench's own concurrent calls.
	createWorkers = 16
	deleteWorkers = 32
)

// podImage is what the workload's pods run: on real nodes the smallest
// image they have imported (the sandbox's), as the cost measured is the
// network's, not an application's.
func (e *env) podImage() string {
	if e.cluster.RealNodes() {
		return localcluster.SandboxImage
	}
	return benchImage
}

func (e *env) createNamespace(ctx context.Context) error {
	ns := &corev1.Namespace{ObjectMeta: metav1.ObjectMeta{Name: benchNamespace}}
	if _, err := e.cs.CoreV1().Namespaces().Create(ctx, ns, metav1.CreateOptions{}); err != nil {
		return fmt.Errorf("create namespace %s: %w", benchNamespace, err)
	}
	return nil
}

// deployment is the i-th Deployment of the workload. Every pod names the
// bench pool; host-local ignores the annotation, so both modes create the
// very same objects.
func deployment(i, replicas int, image string) *appsv1.Deployment {
	name := fmt.Sprintf("bench-%03d", i)
	labels := map[string]string{"app": name, benchLabel: benchValue}
	return &appsv1.Deployment{
		ObjectMeta: metav1.ObjectMeta{Name: name, Labels: labels},
		Spec: appsv1.DeploymentSpec{
			Replicas: ptr.To(int32(replicas)),
			Selector: &metav1.LabelSelector{MatchLabels: map[string]string{"app": name}},
			Template: corev1.PodTemplateSpec{
				ObjectMeta: metav1.ObjectMeta{
					Labels:      labels,
					Annotations: map[string]string{poolAnnotation: fmt.Sprintf(`{"ipv4":[%q]}`, benchPool)},
				},
				Spec: corev1.PodSpec{Containers: []corev1.Container{{Name: "app", Image: image, ImagePullPolicy: corev1.PullIfNotPresent}}},
			},
		},
	}
}

func (e *env) createDeployments(ctx context.Context, count, replicas int) error {
	api := e.cs.AppsV1().Deployments(benchNamespace)
	return parallel(ctx, count, createWorkers, func(ctx context.Context, i int) error {
		if _, err := api.Create(ctx, deployment(i, replicas, e.podImage()), metav1.CreateOptions{}); err != nil {
			return fmt.Errorf("create deployment %d: %w", i, err)
		}
		return nil
	})
}

// deletePods deletes the given pods at once (gracefully, as a user would;
// the node simulator completes each deletion after CNI DEL).
func (e *env) deletePods(ctx context.Context, pods []*corev1.Pod) error {
	api := e.cs.CoreV1().Pods(benchNamespace)
	return parallel(ctx, len(pods), deleteWorkers, func(ctx context.Context, i int) error {
		uid := pods[i].UID
		err := api.Delete(ctx, pods[i].Name, metav1.DeleteOptions{Preconditions: &metav1.Preconditions{UID: &uid}})
		if err != nil && !apierrors.IsNotFound(err) {
			return fmt.Errorf("delete pod %s: %w", pods[i].Name, err)
		}
		return nil
	})
}

func (e *env) deleteDeployments(ctx context.Context, count int) error {
	api := e.cs.AppsV1().Deployments(benchNamespace)
	opts := metav1.DeleteOptions{PropagationPolicy: ptr.To(metav1.DeletePropagationBackground)}
	return parallel(ctx, count, deleteWorkers, func(ctx context.Context, i int) error {
		if err := api.Delete(ctx, deployment(i, 0, "").Name, opts); err != nil && !apierrors.IsNotFound(err) {
			return fmt.Errorf("delete deployment %d: %w", i, err)
		}
		return nil
	})
}

// parallel runs fn for 0..n-1 on at most workers goroutines and returns
// every error.
func parallel(ctx context.Context, n, workers int, fn func(ctx context.Context, i int) error) error {
	next := make(chan int)
	var mu sync.Mutex
	var errs []error
	var wg sync.WaitGroup
	for range min(n, workers) {
		wg.Go(func() {
			for i := range next {
				if err := fn(ctx, i); err != nil {
					mu.Lock()
					errs = append(errs, err)
					mu.Unlock()
				}
			}
		})
	}
	for i := range n {
		next <- i
	}
	close(next)
	wg.Wait()
	return errors.Join(errs...)
}
