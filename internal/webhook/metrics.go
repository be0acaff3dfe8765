package webhook

import (
	"context"
	"errors"

	apierrors "k8s.io/apimachinery/pkg/api/errors"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/apimachinery/pkg/util/validation/field"
	"sigs.k8s.io/controller-runtime/pkg/webhook/admission"

	"github.com/prometheus/client_golang/prometheus"
)

// refusalsName is the series the dashboard and the alert rules read
// (charts/ipkeeper/files); test/e2e checks it is exported.
const refusalsName = "ipkeeper_webhook_refusals_total"

// The reason label's values: the kind of the refusal's first field error.
var refusalReasons = map[field.ErrorType]string{
	field.ErrorTypeInvalid:      "invalid",
	field.ErrorTypeRequired:     "required",
	field.ErrorTypeForbidden:    "forbidden",
	field.ErrorTypeDuplicate:    "duplicate",
	field.ErrorTypeNotSupported: "not_supported",
	field.ErrorTypeTooLong:      "too_long",
	field.ErrorTypeTooMany:      "too_long",
	field.ErrorTypeNotFound:     "not_found",
	field.ErrorTypeInternal:     "internal",
}

// newRefusals registers the refusal counter with reg, or takes the one
// already there (webhooks set up twice in one process, as in tests).
func newRefusals(reg prometheus.Registerer) (*prometheus.CounterVec, error) {
	c := prometheus.NewCounterVec(prometheus.CounterOpts{
		Name: refusalsName,
		Help: "Objects the validating webhooks refused, by kind, operation (create, update, delete) and reason " +
			"(invalid, required, forbidden, duplicate, not_supported, too_long, not_found, internal).",
	}, []string{"kind", "operation", "reason"})
	err := reg.Register(c)
	var dup prometheus.AlreadyRegisteredError
	if errors.As(err, &dup) {
		if existing, ok := dup.ExistingCollector.(*prometheus.CounterVec); ok {
			return existing, nil
		}
	}
	return c, err
}

// counted wraps a validator and counts its refusals.
type counted[T runtime.Object] struct {
	admission.Validator[T]
	kind     string
	refusals *prometheus.CounterVec
}

func countRefusals[T runtime.Object](v admission.Validator[T], kind string, refusals *prometheus.CounterVec) admission.Validator[T] {
	for _, op := range []string{"create", "update", "delete"} {
		refusals.WithLabelValues(kind, op, "invalid")
	}
	return &counted[T]{Validator: v, kind: kind, refusals: refusals}
}

func (c *counted[T]) ValidateCreate(ctx context.Context, obj T) (admission.Warnings, error) {
	w, err := c.Validator.ValidateCreate(ctx, obj)
	return w, c.count("create", err)
}

func (c *counted[T]) ValidateUpdate(ctx context.Context, old, obj T) (admission.Warnings, error) {
	w, err := c.Validator.ValidateUpdate(ctx, old, obj)
	return w, c.count("update", err)
}

func (c *counted[T]) ValidateDelete(ctx context.Context, obj T) (admission.Warnings, error) {
	w, err := c.Validator.ValidateDelete(ctx, obj)
	return w, c.count("delete", err)
}

func (c *counted[T]) count(op string, err error) error {
	if err != nil {
		c.refusals.WithLabelValues(c.kind, op, refusalReason(err)).Inc()
	}
	return err
}

// refusalReason is the reason label of a refusal: that of its first field
// error, "internal" when it has none (the webhook could not decide).
func refusalReason(err error) string {
	var status apierrors.APIStatus
	if !errors.As(err, &status) || status.Status().Details == nil || len(status.Status().Details.Causes) == 0 {
		return "internal"
	}
	if r, ok := refusalReasons[field.ErrorType(status.Status().Details.Causes[0].Type)]; ok {
		return r
	}
	return "internal"
}
