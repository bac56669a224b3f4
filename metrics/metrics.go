// Package metrics holds lakeport's Prometheus metrics, in a registry of its own, served at
// /metrics.
package metrics

import (
	"net/http"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/collectors"
	"github.com/prometheus/client_golang/prometheus/promhttp"
)

// Metrics are one server's metrics.
type Metrics struct {
	Registry       *prometheus.Registry
	SyncRuns       *prometheus.CounterVec
	RecordsWritten prometheus.Counter
	BytesWritten   prometheus.Counter
	SyncDuration   *prometheus.HistogramVec
	Validations    *prometheus.CounterVec
	Requests       *prometheus.CounterVec
	StorageHealthy *prometheus.GaugeVec
}

// New registers lakeport's metrics; queueDepth (may be nil) reports jobs waiting.
func New(queueDepth func() float64) *Metrics {
	m := &Metrics{
		Registry: prometheus.NewRegistry(),
		SyncRuns: prometheus.NewCounterVec(prometheus.CounterOpts{Name: "lakeport_sync_runs_total",
			Help: "Sync runs finished, by status (succeeded, failed)."}, []string{"status"}),
		RecordsWritten: prometheus.NewCounter(prometheus.CounterOpts{Name: "lakeport_records_written_total",
			Help: "Records read from sources and committed by finished sync runs."}),
		BytesWritten: prometheus.NewCounter(prometheus.CounterOpts{Name: "lakeport_bytes_written_total",
			Help: "JSON bytes of the records of finished sync runs."}),
		SyncDuration: prometheus.NewHistogramVec(prometheus.HistogramOpts{Name: "lakeport_sync_duration_seconds",
			Help: "Duration of finished sync runs.", Buckets: prometheus.ExponentialBuckets(0.1, 3, 10)}, []string{"status"}),
		Validations: prometheus.NewCounterVec(prometheus.CounterOpts{Name: "lakeport_storage_validations_total",
			Help: "Test connection runs, by result (passed, failed) and the first failing cause."}, []string{"result", "cause"}),
		StorageHealthy: prometheus.NewGaugeVec(prometheus.GaugeOpts{Name: "lakeport_storage_healthy",
			Help: "1 when the organization's customer-hosted storage passed its last background check, 0 when its syncs are paused."}, []string{"org"}),
		Requests: prometheus.NewCounterVec(prometheus.CounterOpts{Name: "lakeport_http_requests_total",
			Help: "API requests, by method and status code."}, []string{"method", "code"}),
	}
	m.Registry.MustRegister(m.SyncRuns, m.RecordsWritten, m.BytesWritten, m.SyncDuration, m.Validations, m.Requests, m.StorageHealthy,
		collectors.NewGoCollector(), collectors.NewProcessCollector(collectors.ProcessCollectorOpts{}))
	if queueDepth != nil {
		m.Registry.MustRegister(prometheus.NewGaugeFunc(prometheus.GaugeOpts{Name: "lakeport_queue_depth",
			Help: "Sync jobs waiting to run."}, queueDepth))
	}
	return m
}

// Handler serves the metrics in Prometheus' text format.
func (m *Metrics) Handler() http.Handler {
	return promhttp.HandlerFor(m.Registry, promhttp.HandlerOpts{})
}

// SyncFinished records a finished run.
func (m *Metrics) SyncFinished(status string, records, bytes int64, d time.Duration) {
	if m == nil {
		return
	}
	m.SyncRuns.WithLabelValues(status).Inc()
	m.RecordsWritten.Add(float64(records))
	m.BytesWritten.Add(float64(bytes))
	m.SyncDuration.WithLabelValues(status).Observe(d.Seconds())
}

// Validated records a Test connection result.
func (m *Metrics) Validated(ok bool, cause string) {
	if m == nil {
		return
	}
	result := "passed"
	if !ok {
		result = "failed"
	}
	m.Validations.WithLabelValues(result, cause).Inc()
}

// Health records an organization's storage health.
func (m *Metrics) Health(orgID string, ok bool) {
	if m == nil {
		return
	}
	v := 0.0
	if ok {
		v = 1
	}
	m.StorageHealthy.WithLabelValues(orgID).Set(v)
}
