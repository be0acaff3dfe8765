package gc

import (
	"errors"

	"github.com/prometheus/client_golang/prometheus"
)

// metrics are the collector's Prometheus series. Names match the dashboards
// in docs/; change both together.
type metrics struct {
	released         *prometheus.CounterVec
	scans            prometheus.Counter
	endpointsDeleted prometheus.Counter
}

// newMetrics registers the series with reg, or takes the ones already there
// (a second collector in the same process, as in tests).
func newMetrics(reg prometheus.Registerer) (*metrics, error) {
	released := prometheus.NewCounterVec(prometheus.CounterOpts{
		Name: "ipkeeper_gc_released_total",
		Help: "Addresses released by the garbage collector, by reason.",
	}, []string{"reason"})
	scans := prometheus.NewCounter(prometheus.CounterOpts{
		Name: "ipkeeper_gc_scans_total",
		Help: "Full passes of the garbage collector over every claim.",
	})
	endpointsDeleted := prometheus.NewCounter(prometheus.CounterOpts{
		Name: "ipkeeper_gc_endpoints_deleted_total",
		Help: "SpiderEndpoints deleted by the garbage collector's sweep: no claim backed them and their pod was gone.",
	})
	var err error
	m := &metrics{}
	if m.released, err = register(reg, released); err != nil {
		return nil, err
	}
	// Every reason starts at zero, so that rates see the series before the
	// first release.
	for _, r := range releaseReasons {
		m.released.WithLabelValues(r)
	}
	if m.scans, err = register(reg, scans); err != nil {
		return nil, err
	}
	if m.endpointsDeleted, err = register(reg, endpointsDeleted); err != nil {
		return nil, err
	}
	return m, nil
}

// releaseReasons are the reason label's values (Decide's release reasons).
var releaseReasons = []string{ReasonPodGone, ReasonPodReplaced, ReasonPodCompleted, ReasonPodTerminated,
	ReasonStatefulSetGone, ReasonStatefulSetDeleting, ReasonScaledDown, ReasonNoOrdinal, ReasonNotTakenOver}

func register[C prometheus.Collector](reg prometheus.Registerer, c C) (C, error) {
	err := reg.Register(c)
	var dup prometheus.AlreadyRegisteredError
	if errors.As(err, &dup) {
		if existing, ok := dup.ExistingCollector.(C); ok {
			return existing, nil
		}
	}
	return c, err
}
