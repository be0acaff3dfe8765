//go:build e2e

package chaos

import (
	"context"
	"errors"
	"fmt"
	"math/rand/v2"
	"time"

	appsv1 "k8s.io/api/apps/v1"
	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/types"
	"k8s.io/apimachinery/pkg/util/wait"
	"sigs.k8s.io/controller-runtime/pkg/client"

	"github.com/ipkeeper/ipkeeper/api/v2beta1"
)

// The workload: Deployments on the default pool, one Deployment on a pool
// the run edits, StatefulSets on the default pool (their pods keep their
// addresses across restarts and re-creation).
const (
	namespace   = "chaos"
	podImage    = "registry.invalid/ipkeeper/pause:1" // never pulled: containers are simulated
	editPool    = "chaos-edit"
	editPrefix  = "10.6.30."
	editMin     = 60 // the edited pool holds 10.6.30.1 … 10.6.30.[editMin, editMax]
	editMax     = 100
	editPods    = 40 // at most, so that the pool never runs out
	deployments = 6
	deployMax   = 40
	statefuls   = 3
	statefulMax = 8
	// maxInFlight bounds the pods pending or terminating: churn waits above it.
	maxInFlight = 120
	// reservedKeep is how many SpiderReservedIPs the run keeps at a time.
	reservedKeep = 3
)

func deploymentName(i int) string { return fmt.Sprintf("d%d", i) }
func statefulName(i int) string   { return fmt.Sprintf("s%d", i) }

const editDeployment = "dedit"

func template(app string, annotations map[string]string) corev1.PodTemplateSpec {
	return corev1.PodTemplateSpec{
		ObjectMeta: metav1.ObjectMeta{Labels: map[string]string{"app": app}, Annotations: annotations},
		Spec: corev1.PodSpec{
			Containers:                    []corev1.Container{{Name: "app", Image: podImage}},
			TerminationGracePeriodSeconds: new(int64(podGraceSeconds)),
		},
	}
}

func deployment(name string, replicas int32, annotations map[string]string) *appsv1.Deployment {
	return &appsv1.Deployment{
		ObjectMeta: metav1.ObjectMeta{Namespace: namespace, Name: name},
		Spec: appsv1.DeploymentSpec{
			Replicas: &replicas,
			Selector: &metav1.LabelSelector{MatchLabels: map[string]string{"app": name}},
			Template: template(name, annotations),
		},
	}
}

func statefulSet(name string, replicas int32) *appsv1.StatefulSet {
	return &appsv1.StatefulSet{
		ObjectMeta: metav1.ObjectMeta{Namespace: namespace, Name: name},
		Spec: appsv1.StatefulSetSpec{
			Replicas: &replicas, ServiceName: name,
			PodManagementPolicy: appsv1.ParallelPodManagement,
			Selector:            &metav1.LabelSelector{MatchLabels: map[string]string{"app": name}},
			Template:            template(name, nil),
		},
	}
}

func editPoolObject(last int) *v2beta1.SpiderIPPool {
	return &v2beta1.SpiderIPPool{
		ObjectMeta: metav1.ObjectMeta{Name: editPool},
		Spec:       v2beta1.SpiderIPPoolSpec{Subnet: "10.6.0.0/16", IPs: []string{fmt.Sprintf("%s1-%s%d", editPrefix, editPrefix, last)}},
	}
}

// setup creates the namespace, the edited pool and the workloads.
func (r *run) setup() {
	t, ctx := r.t, r.t.Context()
	if _, err := r.cs.CoreV1().Namespaces().Create(ctx, &corev1.Namespace{ObjectMeta: metav1.ObjectMeta{Name: namespace}}, metav1.CreateOptions{}); err != nil {
		t.Fatalf("create namespace: %v", err)
	}
	r.env.WaitFor(t, time.Minute, "default service account", func(ctx context.Context) (bool, error) {
		_, err := r.cs.CoreV1().ServiceAccounts(namespace).Get(ctx, "default", metav1.GetOptions{})
		return err == nil, nil
	})
	r.env.WaitFor(t, time.Minute, "pool "+editPool, func(ctx context.Context) (bool, error) {
		err := r.cl.Create(ctx, editPoolObject(editMax))
		return err == nil || apierrors.IsAlreadyExists(err), nil
	})
	rnd := rng(r.seed, 1000)
	for i := range deployments {
		if _, err := r.cs.AppsV1().Deployments(namespace).Create(ctx, deployment(deploymentName(i), int32(5+rnd.IntN(deployMax-5)), nil), metav1.CreateOptions{}); err != nil {
			t.Fatalf("create deployment: %v", err)
		}
	}
	ann := map[string]string{"ipam.spidernet.io/ippool": `{"ipv4":["` + editPool + `"]}`}
	if _, err := r.cs.AppsV1().Deployments(namespace).Create(ctx, deployment(editDeployment, editPods/2, ann), metav1.CreateOptions{}); err != nil {
		t.Fatalf("create deployment: %v", err)
	}
	for i := range statefuls {
		if _, err := r.cs.AppsV1().StatefulSets(namespace).Create(ctx, statefulSet(statefulName(i), int32(1+rnd.IntN(statefulMax))), metav1.CreateOptions{}); err != nil {
			t.Fatalf("create statefulset: %v", err)
		}
	}
}

// action is one kind of churn.
type action struct {
	name   string
	weight int
	do     func(ctx context.Context, rnd *rand.Rand) error
}

func (r *run) actions() []action {
	return []action{
		{"scale-deployment", 3, r.scaleDeployment},
		{"delete-deployment-pods", 5, r.deleteDeploymentPods},
		{"delete-pod", 3, func(ctx context.Context, rnd *rand.Rand) error { return r.deletePod(ctx, rnd, false) }},
		{"force-delete-pod", 2, func(ctx context.Context, rnd *rand.Rand) error { return r.deletePod(ctx, rnd, true) }},
		{"scale-statefulset", 2, r.scaleStatefulSet},
		{"restart-statefulset", 2, r.restartStatefulSet},
		{"recreate-statefulset-orphan", 1, r.recreateStatefulSet},
		{"edit-pool", 1, r.editPool},
		{"reserve-addresses", 1, r.reserve},
	}
}

func pick(rnd *rand.Rand, as []action) action {
	total := 0
	for _, a := range as {
		total += a.weight
	}
	n := rnd.IntN(total)
	for _, a := range as {
		if n < a.weight {
			return a
		}
		n -= a.weight
	}
	return as[len(as)-1]
}

func (r *run) scaleDeployment(ctx context.Context, rnd *rand.Rand) error {
	name, max := deploymentName(rnd.IntN(deployments)), deployMax
	if rnd.IntN(deployments+1) == 0 {
		name, max = editDeployment, editPods
	}
	n := int32(rnd.IntN(max + 1))
	return r.scale(ctx, "deployments", name, n)
}

func (r *run) scaleStatefulSet(ctx context.Context, rnd *rand.Rand) error {
	return r.scale(ctx, "statefulsets", statefulName(rnd.IntN(statefuls)), int32(rnd.IntN(statefulMax+1)))
}

func (r *run) scale(ctx context.Context, resource, name string, n int32) error {
	patch := fmt.Appendf(nil, `{"spec":{"replicas":%d}}`, n)
	var err error
	if resource == "deployments" {
		_, err = r.cs.AppsV1().Deployments(namespace).Patch(ctx, name, types.MergePatchType, patch, metav1.PatchOptions{})
	} else {
		_, err = r.cs.AppsV1().StatefulSets(namespace).Patch(ctx, name, types.MergePatchType, patch, metav1.PatchOptions{})
	}
	return err
}

// deleteDeploymentPods deletes every pod of one Deployment at once: the
// cheapest way to many allocations.
func (r *run) deleteDeploymentPods(ctx context.Context, rnd *rand.Rand) error {
	name := deploymentName(rnd.IntN(deployments))
	return r.cs.CoreV1().Pods(namespace).DeleteCollection(ctx, metav1.DeleteOptions{}, metav1.ListOptions{LabelSelector: "app=" + name})
}

func (r *run) deletePod(ctx context.Context, rnd *rand.Rand, force bool) error {
	var pods []*corev1.Pod
	for _, obj := range r.podStore.List() {
		if p := obj.(*corev1.Pod); !isKubeletPod(p) { // the kubelet stream ends its own
			pods = append(pods, p)
		}
	}
	if len(pods) == 0 {
		return nil
	}
	p := pods[rnd.IntN(len(pods))]
	opts := metav1.DeleteOptions{}
	if force {
		opts.GracePeriodSeconds = new(int64(0))
	}
	err := r.cs.CoreV1().Pods(namespace).Delete(ctx, p.Name, opts)
	if apierrors.IsNotFound(err) {
		return nil
	}
	return err
}

func (r *run) restartStatefulSet(ctx context.Context, rnd *rand.Rand) error {
	patch := fmt.Appendf(nil, `{"spec":{"template":{"metadata":{"annotations":{"chaos/restartedAt":%q}}}}}`, time.Now().Format(time.RFC3339Nano))
	_, err := r.cs.AppsV1().StatefulSets(namespace).Patch(ctx, statefulName(rnd.IntN(statefuls)), types.MergePatchType, patch, metav1.PatchOptions{})
	return err
}

// recreateStatefulSet deletes a StatefulSet leaving its pods
// (--cascade=orphan) and creates it again with the same spec, as one does
// to change an immutable field; its pods are adopted and keep their
// addresses.
func (r *run) recreateStatefulSet(ctx context.Context, rnd *rand.Rand) error {
	name := statefulName(rnd.IntN(statefuls))
	old, err := r.cs.AppsV1().StatefulSets(namespace).Get(ctx, name, metav1.GetOptions{})
	if apierrors.IsNotFound(err) {
		old = statefulSet(name, 1)
	} else if err != nil {
		return err
	} else {
		err = r.cs.AppsV1().StatefulSets(namespace).Delete(ctx, name, metav1.DeleteOptions{PropagationPolicy: new(metav1.DeletePropagationOrphan)})
		if err != nil && !apierrors.IsNotFound(err) {
			return err
		}
		gctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), 2*time.Minute)
		err = wait.PollUntilContextTimeout(gctx, 200*time.Millisecond, 2*time.Minute, true, func(ctx context.Context) (bool, error) {
			_, err := r.cs.AppsV1().StatefulSets(namespace).Get(ctx, name, metav1.GetOptions{})
			return apierrors.IsNotFound(err), nil
		})
		cancel()
		if err != nil {
			return fmt.Errorf("statefulset %s not gone: %w", name, err)
		}
	}
	fresh := statefulSet(name, *old.Spec.Replicas)
	fresh.Spec.Template = old.Spec.Template
	// The StatefulSet must come back whatever fails meanwhile, even when
	// the churn stops.
	ctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), 5*time.Minute)
	defer cancel()
	return wait.PollUntilContextTimeout(ctx, 500*time.Millisecond, 5*time.Minute, true, func(ctx context.Context) (bool, error) {
		_, err := r.cs.AppsV1().StatefulSets(namespace).Create(ctx, fresh, metav1.CreateOptions{})
		return err == nil || apierrors.IsAlreadyExists(err), nil
	})
}

// editPool moves the end of the edited pool; the webhook refuses to drop
// an address in use, which is counted as an error of the action.
func (r *run) editPool(ctx context.Context, rnd *rand.Rand) error {
	p := &v2beta1.SpiderIPPool{}
	if err := r.cl.Get(ctx, client.ObjectKey{Name: editPool}, p); err != nil {
		return err
	}
	p.Spec.IPs = editPoolObject(editMin + rnd.IntN(editMax-editMin+1)).Spec.IPs
	return r.cl.Update(ctx, p)
}

// reserve creates a SpiderReservedIP of two addresses of the default pool
// (in use or not) and deletes the oldest beyond reservedKeep.
func (r *run) reserve(ctx context.Context, rnd *rand.Rand) error {
	ips := []string{}
	for range 2 {
		ips = append(ips, fmt.Sprintf("10.6.%d.%d", 10+rnd.IntN(10), 1+rnd.IntN(254)))
	}
	rip := &v2beta1.SpiderReservedIP{
		ObjectMeta: metav1.ObjectMeta{GenerateName: "chaos-"},
		Spec:       v2beta1.SpiderReservedIPSpec{IPs: ips},
	}
	if err := r.cl.Create(ctx, rip); err != nil {
		return err
	}
	var list v2beta1.SpiderReservedIPList
	if err := r.cl.List(ctx, &list); err != nil {
		return err
	}
	items := list.Items
	if len(items) <= reservedKeep {
		return nil
	}
	// Oldest first; names break ties within a second.
	for i := range items {
		for j := i + 1; j < len(items); j++ {
			a, b := items[i], items[j]
			if b.CreationTimestamp.Before(&a.CreationTimestamp) || (b.CreationTimestamp.Equal(&a.CreationTimestamp) && b.Name < a.Name) {
				items[i], items[j] = b, a
			}
		}
	}
	var errs []error
	for _, old := range items[:len(items)-reservedKeep] {
		if err := r.cl.Delete(ctx, &old); err != nil && !apierrors.IsNotFound(err) {
			errs = append(errs, err)
		}
	}
	return errors.Join(errs...)
}

// churn runs one worker's actions until ctx ends, waiting while too many
// pods are in flight.
func (r *run) churn(ctx context.Context, worker int) {
	rnd := rng(r.seed, uint64(worker))
	as := r.actions()
	for ctx.Err() == nil {
		if r.inFlight() > maxInFlight {
			select {
			case <-ctx.Done():
			case <-time.After(200 * time.Millisecond):
			}
			continue
		}
		a := pick(rnd, as)
		actx, cancel := context.WithTimeout(ctx, 6*time.Minute)
		err := a.do(actx, rnd)
		cancel()
		inc(&r.counts.Actions, a.name)
		if err != nil && ctx.Err() == nil {
			inc(&r.counts.ActionErrors, a.name)
		}
		// Pace: a few actions per second per worker; the cluster, not the
		// driver, is to be the bottleneck.
		select {
		case <-ctx.Done():
		case <-time.After(time.Duration(100+rnd.IntN(400)) * time.Millisecond):
		}
	}
}
