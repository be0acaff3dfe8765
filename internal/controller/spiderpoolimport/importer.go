package spiderpoolimport

import (
	"context"
	"errors"
	"fmt"
	"sync"
	"time"

	"github.com/go-logr/logr"
	appsv1 "k8s.io/api/apps/v1"
	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	"k8s.io/apimachinery/pkg/api/meta"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/client-go/util/retry"
	ctrl "sigs.k8s.io/controller-runtime"
	"sigs.k8s.io/controller-runtime/pkg/client"

	"github.com/ipkeeper/ipkeeper/api/ipkeeper/v1alpha1"
	"github.com/ipkeeper/ipkeeper/api/v2beta1"
	"github.com/ipkeeper/ipkeeper/internal/importer"
	"github.com/ipkeeper/ipkeeper/internal/spiderpool"
)

// DefaultWorkers is how many claims are created at once when Workers is zero.
const DefaultWorkers = 8

// ReasonImported is the reason of condition SpiderpoolImported.
const ReasonImported = "Imported"

// pageSize bounds each list request: pods and endpoints of a large cluster
// come in pages, not in one response.
const pageSize = 500

// ConflictError is an import refused because records disagree. Nothing was
// written, except claims of a disagreement found only while writing (an
// IPClaim created meanwhile), which hold addresses of pods still there.
type ConflictError struct {
	Conflicts []importer.Conflict
}

func (e *ConflictError) Error() string {
	return fmt.Sprintf("refusing to import Spiderpool's allocations: conflicting records: %d (each logged as %q); the first: %s",
		len(e.Conflicts), msgConflict, e.Conflicts[0])
}

const msgConflict = "Conflicting Spiderpool record"

// Importer imports Spiderpool's allocations as a manager runnable, on the
// leader, and then calls Then, which starts the reconcilers: none of them
// runs before the claims of every running pod exist.
type Importer struct {
	// Reader reads from the API server, not from a cache.
	Reader client.Reader
	// Client creates claims and patches pool status.
	Client client.Client
	// EnableStatefulSet keeps the address of a StatefulSet pod that is away
	// while its StatefulSet has the ordinal, as agents and the garbage
	// collector do (ipam.enableStatefulSet).
	EnableStatefulSet bool
	// Then runs once the import is done or not needed.
	Then func() error
	// Workers is how many claims are created at once; DefaultWorkers when zero.
	Workers int
}

// Summary is what one import did.
type Summary struct {
	// Pools are the pools whose records were imported.
	Pools []string
	// Created, Held and Gone count addresses: claimed now, already claimed
	// for the same pod, and left free because their pod is gone.
	Created, Held, Gone int
}

// NeedLeaderElection makes the import the leader's first step: reconcilers
// are leader-elected too, and Then starts them.
func (i *Importer) NeedLeaderElection() bool { return true }

// Start imports, then calls Then. A refused import stops the controller.
func (i *Importer) Start(ctx context.Context) error {
	if _, err := i.Import(ctx); err != nil {
		return err
	}
	if i.Then == nil {
		return nil
	}
	return i.Then()
}

// Import creates the claims of Spiderpool's allocations that pods still
// hold and marks their pools imported. It is a no-op when no pool awaits its
// import, and repeating it after an interruption creates what is missing.
// With conflicting records it logs each, writes nothing and returns a
// *ConflictError.
func (i *Importer) Import(ctx context.Context) (Summary, error) {
	log := ctrl.LoggerFrom(ctx).WithName("spiderpool-import")
	began := time.Now()
	pools, err := listAll(ctx, i.Reader, func(l *v2beta1.SpiderIPPoolList) []v2beta1.SpiderIPPool { return l.Items })
	if err != nil {
		return Summary{}, fmt.Errorf("list pools: %w", err)
	}
	if !awaiting(pools) {
		log.V(1).Info("No Spiderpool records await their import")
		return Summary{}, nil
	}
	in, err := i.list(ctx, pools)
	if err != nil {
		return Summary{}, err
	}
	plan := importer.Plan(in)
	if err := refuse(log, plan.Conflicts); err != nil {
		return Summary{}, err
	}
	log.Info("Importing Spiderpool allocations", "claims", len(plan.Claims), "pools", len(plan.Pools))
	created, held, conflicts, err := i.create(ctx, plan.Claims)
	if err != nil {
		return Summary{}, err
	}
	if err := refuse(log, conflicts); err != nil {
		return Summary{}, err
	}
	sum := Summary{Created: created}
	for _, p := range plan.Pools {
		if err := i.markImported(ctx, p); err != nil {
			return Summary{}, err
		}
		sum.Pools = append(sum.Pools, p.Name)
		sum.Held, sum.Gone = sum.Held+p.Held, sum.Gone+p.Gone
	}
	sum.Held += held
	log.Info("Imported Spiderpool allocations", "pools", sum.Pools, "created", sum.Created,
		"alreadyClaimed", sum.Held, "podsGone", sum.Gone, "took", time.Since(began).Round(time.Millisecond).String())
	return sum, nil
}

func awaiting(pools []v2beta1.SpiderIPPool) bool {
	for i := range pools {
		if spiderpool.AwaitsImport(&pools[i]) {
			return true
		}
	}
	return false
}

// list reads, live, everything the plan looks at.
func (i *Importer) list(ctx context.Context, pools []v2beta1.SpiderIPPool) (importer.Input, error) {
	in := importer.Input{Pools: pools, EnableStatefulSet: i.EnableStatefulSet}
	var err error
	if in.Endpoints, err = listAll(ctx, i.Reader, func(l *v2beta1.SpiderEndpointList) []v2beta1.SpiderEndpoint { return l.Items }); err != nil {
		return in, fmt.Errorf("list SpiderEndpoints: %w", err)
	}
	if in.Pods, err = listAll(ctx, i.Reader, func(l *corev1.PodList) []corev1.Pod { return l.Items }); err != nil {
		return in, fmt.Errorf("list pods: %w", err)
	}
	if in.StatefulSets, err = listAll(ctx, i.Reader, func(l *appsv1.StatefulSetList) []appsv1.StatefulSet { return l.Items }); err != nil {
		return in, fmt.Errorf("list StatefulSets: %w", err)
	}
	if in.Claims, err = listAll(ctx, i.Reader, func(l *v1alpha1.IPClaimList) []v1alpha1.IPClaim { return l.Items }); err != nil {
		return in, fmt.Errorf("list IPClaims: %w", err)
	}
	return in, nil
}

// listAll lists every object of a kind, a page at a time, each page into a
// new list so that no page's decoding reuses an earlier page's items.
func listAll[T any, L any, PL interface {
	*L
	client.ObjectList
}](ctx context.Context, r client.Reader, items func(*L) []T) ([]T, error) {
	var out []T
	cont := ""
	for {
		l := PL(new(L))
		if err := r.List(ctx, l, client.Limit(pageSize), client.Continue(cont)); err != nil {
			return nil, err
		}
		out = append(out, items(l)...)
		if cont = l.GetContinue(); cont == "" {
			return out, nil
		}
	}
}

// refuse logs every conflict and returns them as one error; nil for none.
func refuse(log logr.Logger, conflicts []importer.Conflict) error {
	if len(conflicts) == 0 {
		return nil
	}
	for _, c := range conflicts {
		log.Error(errors.New(c.String()), msgConflict, "kind", c.Kind, "address", c.Address,
			"objects", c.Objects, "holders", c.Holders, "fix", c.Kind.Fix())
	}
	return &ConflictError{Conflicts: conflicts}
}

// create creates the claims, a few at a time. A claim that exists already
// for the same pod counts as held; for another pod, as a conflict.
func (i *Importer) create(ctx context.Context, claims []*v1alpha1.IPClaim) (created, held int, conflicts []importer.Conflict, err error) {
	workers := i.Workers
	if workers == 0 {
		workers = DefaultWorkers
	}
	var mu sync.Mutex
	var errs []error
	work := make(chan *v1alpha1.IPClaim)
	var wg sync.WaitGroup
	for range workers {
		wg.Go(func() {
			for c := range work {
				cur, err := i.createOne(ctx, c)
				mu.Lock()
				switch {
				case err != nil:
					errs = append(errs, err)
				case cur == nil:
					created++
				case importer.SameHolder(cur, c):
					held++
				default:
					conflicts = append(conflicts, importer.Claimed(c, cur))
				}
				mu.Unlock()
			}
		})
	}
	for _, c := range claims {
		work <- c
	}
	close(work)
	wg.Wait()
	return created, held, conflicts, errors.Join(errs...)
}

// createOne creates one claim; when the address is claimed already, it
// returns the claim there (nil after a successful create).
func (i *Importer) createOne(ctx context.Context, c *v1alpha1.IPClaim) (*v1alpha1.IPClaim, error) {
	err := i.Client.Create(ctx, c.DeepCopy())
	if err == nil {
		return nil, nil
	}
	if !apierrors.IsAlreadyExists(err) {
		return nil, fmt.Errorf("claim %s for pod %s/%s: %w", c.Spec.Address, c.Spec.Holder.Namespace, c.Spec.Holder.Name, err)
	}
	cur := &v1alpha1.IPClaim{}
	if err := i.Reader.Get(ctx, client.ObjectKeyFromObject(c), cur); err != nil {
		return nil, fmt.Errorf("read the claim of %s: %w", c.Spec.Address, err)
	}
	return cur, nil
}

// markImported sets condition SpiderpoolImported on a pool whose records are
// claims now, which opens it to the agents.
func (i *Importer) markImported(ctx context.Context, s importer.PoolSummary) error {
	err := retry.RetryOnConflict(retry.DefaultRetry, func() error {
		pool := &v2beta1.SpiderIPPool{}
		if err := i.Reader.Get(ctx, client.ObjectKey{Name: s.Name}, pool); err != nil {
			return err
		}
		if !spiderpool.AwaitsImport(pool) {
			return nil
		}
		patch := client.MergeFromWithOptions(pool.DeepCopy(), client.MergeFromWithOptimisticLock{})
		meta.SetStatusCondition(&pool.Status.Conditions, metav1.Condition{
			Type: v1alpha1.ConditionSpiderpoolImported, Status: metav1.ConditionTrue, Reason: ReasonImported, ObservedGeneration: pool.Generation,
			Message: fmt.Sprintf("Spiderpool's allocations are IPClaims: %d claimed by the import, %d claimed before, %d of pods gone left free",
				s.New, s.Held, s.Gone),
		})
		return i.Client.Status().Patch(ctx, pool, patch)
	})
	if err != nil && !apierrors.IsNotFound(err) {
		return fmt.Errorf("mark SpiderIPPool %s imported: %w", s.Name, err)
	}
	return nil
}
