// Package schedule runs connectors on their own: an interval ("every 6h") or a cron
// expression ("0 */6 * * *"). A process that was down runs a missed schedule once, not
// once per missed slot, and of several processes sharing a store exactly one starts
// each run.
package schedule

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"strings"
	"time"

	"github.com/robfig/cron/v3"

	"github.com/lakeport/lakeport/store"
)

// Spec is a parsed schedule.
type Spec interface {
	// Next is the first run strictly after t.
	Next(t time.Time) time.Time
}

type every time.Duration

func (e every) Next(t time.Time) time.Time { return t.Add(time.Duration(e)) }

// MinInterval is the shortest interval a schedule may have.
const MinInterval = time.Minute

// Parse reads "every 6h", "every 30m", "hourly", "daily", "weekly" or a five-field cron
// expression ("0 */6 * * *", "@daily").
func Parse(s string) (Spec, error) {
	s = strings.TrimSpace(s)
	switch s {
	case "hourly":
		return every(time.Hour), nil
	case "daily":
		return every(24 * time.Hour), nil
	case "weekly":
		return every(7 * 24 * time.Hour), nil
	}
	if rest, ok := strings.CutPrefix(s, "every "); ok {
		rest = strings.TrimSpace(rest)
		d, err := time.ParseDuration(rest)
		if err != nil {
			if n, unit, ok := strings.Cut(rest, " "); ok {
				d, err = time.ParseDuration(n + map[string]string{"minutes": "m", "minute": "m", "hours": "h", "hour": "h"}[unit])
			}
		}
		if err != nil {
			return nil, fmt.Errorf("schedule %q: give an interval like \"every 6h\" or \"every 30m\"", s)
		}
		if d < MinInterval {
			return nil, fmt.Errorf("schedule %q: the shortest interval is %s", s, MinInterval)
		}
		return every(d), nil
	}
	c, err := cron.ParseStandard(s)
	if err != nil {
		return nil, fmt.Errorf("schedule %q: not an interval (\"every 6h\") nor a cron expression (\"0 */6 * * *\"): %v", s, err)
	}
	return c, nil
}

// Shortest returns the shortest time between two consecutive runs of spec,
// looking at the runs of the year after from (at most 5000 of them): how
// often the schedule runs at its busiest.
func Shortest(spec Spec, from time.Time) time.Duration {
	if e, ok := spec.(every); ok {
		return time.Duration(e)
	}
	end := from.AddDate(1, 0, 0)
	shortest := time.Duration(-1)
	prev := spec.Next(from)
	for i := 0; i < 5000 && !prev.IsZero() && prev.Before(end); i++ {
		next := spec.Next(prev)
		if next.IsZero() {
			break
		}
		if gap := next.Sub(prev); shortest < 0 || gap < shortest {
			shortest = gap
		}
		prev = next
	}
	if shortest < 0 {
		return 365 * 24 * time.Hour // runs at most once a year
	}
	return shortest
}

// Starter starts a sync of a connector; errors are logged, not retried.
type Starter func(ctx context.Context, orgID, connectorID string) error

// Scheduler starts due syncs.
type Scheduler struct {
	Store    store.Schedules
	Start    Starter
	Interval time.Duration // how often to look for due schedules; default 15s
	Logger   *slog.Logger
	Now      func() time.Time
}

// Run checks for due schedules until ctx ends.
func (s *Scheduler) Run(ctx context.Context) {
	if s.Interval <= 0 {
		s.Interval = 15 * time.Second
	}
	t := time.NewTicker(s.Interval)
	defer t.Stop()
	for {
		s.Tick(ctx)
		select {
		case <-ctx.Done():
			return
		case <-t.C:
		}
	}
}

// Tick starts every due sync once and moves each schedule to its next run after now.
func (s *Scheduler) Tick(ctx context.Context) {
	now := time.Now
	if s.Now != nil {
		now = s.Now
	}
	log := s.Logger
	if log == nil {
		log = slog.Default()
	}
	due, err := s.Store.DueSchedules(ctx, now())
	if err != nil {
		log.Warn("scheduler: list due schedules", "err", err)
		return
	}
	for _, sc := range due {
		spec, err := Parse(sc.Spec)
		if err != nil {
			log.Warn("scheduler: bad schedule", "connector", sc.ConnectorID, "err", err)
			continue
		}
		// The next run is counted from now, so slots missed while down collapse into
		// the one run started here.
		won, err := s.Store.AdvanceSchedule(ctx, sc, spec.Next(now()))
		if err != nil || !won {
			continue // another process took it
		}
		if err := s.Start(ctx, sc.OrgID, sc.ConnectorID); err != nil && !errors.Is(err, context.Canceled) {
			log.Warn("scheduler: scheduled sync not started", "org", sc.OrgID, "connector", sc.ConnectorID, "err", err)
		}
	}
}
