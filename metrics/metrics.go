// Package metrics holds lakeport's Prometheus metrics, in a registry of its own, served at
// /metrics on a listener of its own (lakeport serve --metrics-addr). No metric carries an
// organization's ID or name: labels say what happened, never to whom.
package metrics

import (
	"net/http"
	"sync"
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
	StorageOrgs    *prometheus.GaugeVec

	mu      sync.Mutex
	healthy map[string]bool // organization → last check passed; counted, never exported
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
		StorageOrgs: prometheus.NewGaugeVec(prometheus.GaugeOpts{Name: "lakeport_storage_orgs",
			Help: "Organizations with customer-hosted storage, by the result of its last background check (healthy; unhealthy: syncs paused)."}, []string{"state"}),
		healthy: map[string]bool{},
		Requests: prometheus.NewCounterVec(prometheus.CounterOpts{Name: "lakeport_http_requests_total",
			Help: "API requests, by method and status code."}, []string{"method", "code"}),
	}
	m.Registry.MustRegister(m.SyncRuns, m.RecordsWritten, m.BytesWritten, m.SyncDuration, m.Validations, m.Requests, m.StorageOrgs,
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

// Health records an organization's storage health; the metric counts organizations
// per state and names none.
func (m *Metrics) Health(orgID string, ok bool) {
	if m == nil {
		return
	}
	m.mu.Lock()
	defer m.mu.Unlock()
	m.healthy[orgID] = ok
	var up, down float64
	for _, v := range m.healthy {
		if v {
			up++
		} else {
			down++
		}
	}
	m.StorageOrgs.WithLabelValues("healthy").Set(up)
	m.StorageOrgs.WithLabelValues("unhealthy").Set(down)
}
