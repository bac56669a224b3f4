package schedule

import (
	"context"
	"errors"
	"log/slog"
	"time"

	"github.com/lakeport/lakeport/store"
)

// Maintenance starts table maintenance on its own: for every connector that synced
// since its last maintenance, at most once per Every. Of several processes sharing a
// store, the connector's one active run lets a single one start it (the others find it
// busy, and it is no longer due once it has started).
type Maintenance struct {
	Store store.Maintenance
	Start Starter
	// Every is the shortest time between two maintenance runs of one connector.
	Every time.Duration
	// Interval is how often to look for due connectors; default a quarter of Every,
	// at most a minute.
	Interval time.Duration
	Logger   *slog.Logger
	Now      func() time.Time
}

// Run starts due maintenance until ctx ends.
func (m *Maintenance) Run(ctx context.Context) {
	if m.Interval <= 0 {
		m.Interval = min(max(m.Every/4, time.Second), time.Minute)
	}
	t := time.NewTicker(m.Interval)
	defer t.Stop()
	for {
		m.Tick(ctx)
		select {
		case <-ctx.Done():
			return
		case <-t.C:
		}
	}
}

// Tick starts maintenance of every connector due now.
func (m *Maintenance) Tick(ctx context.Context) {
	now := time.Now
	if m.Now != nil {
		now = m.Now
	}
	log := m.Logger
	if log == nil {
		log = slog.Default()
	}
	due, err := m.Store.MaintenanceDue(ctx, now().Add(-m.Every))
	if err != nil {
		if ctx.Err() == nil {
			log.Warn("scheduler: list connectors due for table maintenance", "err", err)
		}
		return
	}
	for _, d := range due {
		if err := m.Start(ctx, d.OrgID, d.ConnectorID); err != nil && !errors.Is(err, context.Canceled) {
			log.Warn("scheduler: table maintenance not started; tried again at the next look", "org", d.OrgID, "connector", d.ConnectorID, "err", err)
		}
	}
}
