package connector

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/lakeport/lakeport/schedule"
	"github.com/lakeport/lakeport/store"
)

// SetSchedule makes the connector sync on its own ("every 6h", a cron expression), or
// never again with an empty spec.
func (s *Service) SetSchedule(ctx context.Context, org store.Org, name, spec string) (View, error) {
	scheds, ok := s.Store.(store.Schedules)
	if !ok {
		return View{}, ErrNoSchedules
	}
	c, err := s.connector(ctx, org, name)
	if err != nil {
		return View{}, err
	}
	sc := store.Schedule{OrgID: org.ID, ConnectorID: c.ID, Spec: spec}
	if spec != "" {
		p, err := schedule.Parse(spec)
		if err != nil {
			return View{}, invalid("schedule", err.Error())
		}
		now := time.Now().UTC()
		if min := s.minScheduleInterval(); schedule.Shortest(p, now) < min {
			return View{}, invalid("schedule", fmt.Sprintf("%q runs more often than every %s, the most this install allows (the operator sets it: connectors.min_schedule_interval); choose a longer interval, like \"every %s\"",
				spec, min, min))
		}
		sc.NextRunAt = p.Next(now)
	}
	if err := scheds.PutSchedule(ctx, sc); err != nil {
		return View{}, err
	}
	return s.view(ctx, org, c, nil)
}

// StartScheduled starts a scheduled sync; it is the scheduler's Starter.
func (s *Service) StartScheduled(ctx context.Context, orgID, connectorID string) error {
	org, err := s.Store.Org(ctx, orgID)
	if err != nil {
		return err
	}
	c, err := s.Store.ConnectorByID(ctx, orgID, connectorID)
	if err != nil {
		return err
	}
	_, err = s.StartSync(ctx, org, c.Name)
	return err
}

// checkHealth refuses to write to storage whose last background check failed, and
// records the refused run so that the pause shows in the run history.
func (s *Service) checkHealth(ctx context.Context, org store.Org, c store.Connector) error {
	h, ok := s.Store.(store.Health)
	if !ok || c.StorageMode != "customer_hosted" {
		return nil
	}
	last, err := h.StorageHealth(ctx, org.ID)
	if errors.Is(err, store.ErrNotFound) || (err == nil && last.OK) {
		return nil
	}
	if err != nil {
		return err
	}
	now := time.Now().UTC()
	msg := fmt.Sprintf("%v: %s (%s, checked %s); syncs resume once it passes again — run lakeport storage test to see the details",
		ErrStoragePaused, last.Message, last.Cause, last.CheckedAt.Format(time.RFC3339))
	_ = s.Store.CreateRun(ctx, store.Run{ID: newRunID(), OrgID: org.ID, ConnectorID: c.ID, Status: store.RunFailed, Error: msg,
		CreatedAt: now, FinishedAt: now})
	return fmt.Errorf("%w: %s (%s)", ErrStoragePaused, last.Message, last.Cause)
}
