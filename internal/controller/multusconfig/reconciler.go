package multusconfig

import (
	"context"
	"errors"
	"fmt"
	"maps"
	"unicode/utf8"

	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/klog/v2"
	ctrl "sigs.k8s.io/controller-runtime"
	"sigs.k8s.io/controller-runtime/pkg/client"
	"sigs.k8s.io/controller-runtime/pkg/controller/controllerutil"
	"sigs.k8s.io/controller-runtime/pkg/handler"
	"sigs.k8s.io/controller-runtime/pkg/reconcile"
	"sigs.k8s.io/controller-runtime/pkg/recorder"

	nadv1 "github.com/ipkeeper/ipkeeper/api/nad/v1"
	"github.com/ipkeeper/ipkeeper/api/v2beta1"
)

// Reasons of the Warning events the reconciler emits on SpiderMultusConfigs.
const (
	// ReasonInvalidSpec: the spec fails Validate; the NAD is left as it is.
	ReasonInvalidSpec = "InvalidSpec"
	// ReasonForeignNAD: a NAD of the same name exists that this
	// SpiderMultusConfig does not control; it is left as it is.
	ReasonForeignNAD = "ForeignNetworkAttachmentDefinition"
)

// maxEventNote is the API server's limit on an event's note.
const maxEventNote = 1024

// +kubebuilder:rbac:groups=spiderpool.spidernet.io,resources=spidermultusconfigs,verbs=get;list;watch
// +kubebuilder:rbac:groups=spiderpool.spidernet.io,resources=spidermultusconfigs/finalizers,verbs=update
// +kubebuilder:rbac:groups=k8s.cni.cncf.io,resources=network-attachment-definitions,verbs=get;list;watch;create;patch
// +kubebuilder:rbac:groups=events.k8s.io,resources=events,verbs=create;patch

// Reconciler keeps, for each SpiderMultusConfig, a NetworkAttachmentDefinition
// of the same namespace and name, controlled by it, whose spec.config and
// annotations are what Render makes of the spec. The API server's garbage
// collector deletes the NAD with its SpiderMultusConfig.
type Reconciler struct {
	// Client reads SpiderMultusConfigs and NADs and writes NADs; its scheme
	// must know v2beta1 and nadv1.
	Client client.Client
	// Recorder emits Warning events on SpiderMultusConfigs.
	Recorder recorder.EventRecorder
}

// SetupWithManager registers the reconciler with mgr, whose scheme must know
// v2beta1 and nadv1.
//
// NADs are watched by name rather than by owner (Owns): a NAD event enqueues
// the SpiderMultusConfig of the same namespace and name, so that deleting a
// foreign NAD that blocked a SpiderMultusConfig lets it create its own.
func (r *Reconciler) SetupWithManager(mgr ctrl.Manager) error {
	if r.Client == nil || r.Recorder == nil {
		return errors.New("multusconfig reconciler needs a client and an event recorder")
	}
	return ctrl.NewControllerManagedBy(mgr).
		Named("multusconfig").
		For(&v2beta1.SpiderMultusConfig{}).
		Watches(&nadv1.NetworkAttachmentDefinition{}, handler.EnqueueRequestsFromMapFunc(sameName)).
		Complete(r)
}

func sameName(_ context.Context, o client.Object) []reconcile.Request {
	return []reconcile.Request{{NamespacedName: client.ObjectKeyFromObject(o)}}
}

// Reconcile renders the SpiderMultusConfig and creates or updates its NAD.
// An invalid spec or a NAD it does not control is reported with a Warning
// event and a terminal error: retrying cannot help until someone edits
// something, and that edit triggers a new reconcile.
func (r *Reconciler) Reconcile(ctx context.Context, req ctrl.Request) (ctrl.Result, error) {
	smc := &v2beta1.SpiderMultusConfig{}
	if err := r.Client.Get(ctx, req.NamespacedName, smc); err != nil {
		return ctrl.Result{}, client.IgnoreNotFound(err)
	}
	if !smc.DeletionTimestamp.IsZero() {
		return ctrl.Result{}, nil // the garbage collector deletes the NAD after it
	}
	if errs := Validate(smc); len(errs) > 0 {
		agg := errs.ToAggregate()
		r.warn(smc, nil, ReasonInvalidSpec, "Render",
			"Invalid spec, NetworkAttachmentDefinition left unchanged: "+agg.Error())
		return ctrl.Result{}, reconcile.TerminalError(fmt.Errorf("invalid spec: %w", agg))
	}
	want, err := Render(smc)
	if err != nil {
		return ctrl.Result{}, reconcile.TerminalError(err)
	}
	return ctrl.Result{}, r.sync(ctx, smc, want)
}

// sync makes the NAD of smc carry want.
func (r *Reconciler) sync(ctx context.Context, smc *v2beta1.SpiderMultusConfig, want Network) error {
	nad := &nadv1.NetworkAttachmentDefinition{}
	err := r.Client.Get(ctx, client.ObjectKeyFromObject(smc), nad)
	switch {
	case apierrors.IsNotFound(err):
		return r.create(ctx, smc, want)
	case err != nil:
		return fmt.Errorf("get network attachment definition: %w", err)
	case !metav1.IsControlledBy(nad, smc):
		r.warn(smc, nad, ReasonForeignNAD, "Sync", fmt.Sprintf(
			"NetworkAttachmentDefinition %s exists and is not controlled by this SpiderMultusConfig; it is left alone: delete it, or give the SpiderMultusConfig another name",
			klog.KObj(nad)))
		return reconcile.TerminalError(fmt.Errorf("network attachment definition %s is not controlled by this SpiderMultusConfig", klog.KObj(nad)))
	case !nad.DeletionTimestamp.IsZero():
		return nil // its deletion event brings us back to re-create it
	}
	return r.update(ctx, nad, want)
}

func (r *Reconciler) create(ctx context.Context, smc *v2beta1.SpiderMultusConfig, want Network) error {
	nad := &nadv1.NetworkAttachmentDefinition{
		ObjectMeta: metav1.ObjectMeta{Namespace: smc.Namespace, Name: smc.Name, Annotations: want.Annotations},
		Spec:       nadv1.NetworkAttachmentDefinitionSpec{Config: want.Config},
	}
	if err := controllerutil.SetControllerReference(smc, nad, r.Client.Scheme()); err != nil {
		return fmt.Errorf("set controller reference: %w", err)
	}
	ctrl.LoggerFrom(ctx).Info("Creating NetworkAttachmentDefinition", "networkAttachmentDefinition", klog.KObj(nad))
	if err := r.Client.Create(ctx, nad); err != nil {
		return fmt.Errorf("create network attachment definition: %w", err)
	}
	return nil
}

// update patches the NAD's config and the annotations Render manages; other
// annotations are left alone.
func (r *Reconciler) update(ctx context.Context, nad *nadv1.NetworkAttachmentDefinition, want Network) error {
	log := ctrl.LoggerFrom(ctx).WithValues("networkAttachmentDefinition", klog.KObj(nad))
	before := nad.DeepCopy()
	nad.Spec.Config = want.Config
	nad.Annotations = withManaged(nad.Annotations, want.Annotations)
	if before.Spec.Config == nad.Spec.Config && maps.Equal(before.Annotations, nad.Annotations) {
		log.V(1).Info("NetworkAttachmentDefinition up to date")
		return nil
	}
	log.Info("Updating NetworkAttachmentDefinition")
	if err := r.Client.Patch(ctx, nad, client.MergeFrom(before)); err != nil {
		return fmt.Errorf("patch network attachment definition: %w", err)
	}
	return nil
}

// withManaged returns current with the managed annotations set as in want.
func withManaged(current, want map[string]string) map[string]string {
	out := maps.Clone(current)
	for _, k := range managedAnnotations {
		v, ok := want[k]
		switch {
		case ok && out == nil:
			out = map[string]string{k: v}
		case ok:
			out[k] = v
		default:
			delete(out, k)
		}
	}
	return out
}

// warn emits a Warning event on smc, cutting the note to the API's limit.
func (r *Reconciler) warn(smc *v2beta1.SpiderMultusConfig, related runtime.Object, reason, action, note string) {
	if len(note) > maxEventNote {
		cut := maxEventNote - len("…")
		for cut > 0 && !utf8.RuneStart(note[cut]) {
			cut--
		}
		note = note[:cut] + "…"
	}
	r.Recorder.Eventf(smc, related, corev1.EventTypeWarning, reason, action, "%s", note)
}
