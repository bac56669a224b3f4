// Package health re-validates every customer-hosted storage setting in the background,
// with the same Test connection an admin runs. A failing result pauses the
// organization's syncs (the connector package refuses to write to storage whose last
// check failed); a passing one resumes them.
package health

import (
	"context"
	"log/slog"
	"strings"
	"time"

	"github.com/lakeport/lakeport/config"
	"github.com/lakeport/lakeport/metrics"
	"github.com/lakeport/lakeport/storage"
	"github.com/lakeport/lakeport/store"
	"github.com/lakeport/lakeport/validation"
)

// Checker checks storage health.
type Checker struct {
	Store interface {
		store.Store
		store.Health
	}
	// Storage is where organizations' data lives (storage.Resolver).
	Storage     Storage
	Interval    time.Duration // default 30m
	StepTimeout time.Duration
	// Platform names the principals in the hints of a failed check.
	Platform config.Platform
	Metrics  *metrics.Metrics
	Logger   *slog.Logger
	// Validate runs Test connection; nil means validation.Run.
	Validate func(context.Context, storage.Setting, validation.Options) validation.Report
}

// Storage is what the checks need of organizations' storage.
type Storage interface {
	// Saved returns the organization's saved setting, secret opened.
	Saved(ctx context.Context, org store.Org) (storage.Saved, error)
	// The check reaches the bucket as each principal, as Test connection does.
	validation.Principals
}

var _ Storage = (*storage.Resolver)(nil)

// Run checks every customer-hosted organization every Interval until ctx ends.
func (c *Checker) Run(ctx context.Context) {
	if c.Interval <= 0 {
		c.Interval = 30 * time.Minute
	}
	t := time.NewTicker(c.Interval)
	defer t.Stop()
	for {
		c.CheckAll(ctx)
		select {
		case <-ctx.Done():
			return
		case <-t.C:
		}
	}
}

// CheckAll checks every customer-hosted organization once.
func (c *Checker) CheckAll(ctx context.Context) {
	orgs, err := c.Store.CustomerHostedOrgs(ctx)
	if err != nil {
		c.logger().Warn("storage health: list organizations", "err", err)
		return
	}
	for _, id := range orgs {
		if _, err := c.Check(ctx, id); err != nil && ctx.Err() == nil {
			c.logger().Warn("storage health: check", "org", id, "err", err)
		}
	}
}

// Check runs Test connection for one organization and records the result.
func (c *Checker) Check(ctx context.Context, orgID string) (store.StorageHealth, error) {
	org, err := c.Store.Org(ctx, orgID)
	if err != nil {
		return store.StorageHealth{}, err
	}
	saved, err := c.Storage.Saved(ctx, org)
	if err != nil {
		return store.StorageHealth{}, err
	}
	if saved.Mode != storage.ModeCustomerHosted {
		return store.StorageHealth{OrgID: orgID, OK: true}, nil
	}
	validate := c.Validate
	if validate == nil {
		validate = validation.Run
	}
	o := validation.For(c.Storage, org)
	o.StepTimeout, o.PlatformAccountID, o.WorkerPrincipalARN = c.StepTimeout, c.Platform.AccountID, c.Platform.WorkerPrincipalARN
	report := validate(ctx, saved.Setting, o)
	h := store.StorageHealth{OrgID: orgID, OK: report.OK, CheckedAt: time.Now().UTC()}
	for _, st := range report.Steps {
		if st.Status == validation.StatusFailed {
			h.Cause, h.Message = st.Cause, strings.TrimSpace(st.Principal+" "+st.Name)+": "+st.Message
			break
		}
	}
	prev, perr := c.Store.StorageHealth(ctx, orgID)
	if err := c.Store.PutStorageHealth(ctx, h); err != nil {
		return h, err
	}
	c.Metrics.Validated(h.OK, h.Cause)
	c.Metrics.Health(orgID, h.OK)
	switch {
	case !h.OK && (perr != nil || prev.OK):
		c.logger().Warn("storage health: the organization's storage fails its check; its syncs are paused", "org", orgID, "cause", h.Cause, "message", h.Message)
	case h.OK && perr == nil && !prev.OK:
		c.logger().Info("storage health: the organization's storage passes again; its syncs resume", "org", orgID)
	}
	return h, nil
}

func (c *Checker) logger() *slog.Logger {
	if c.Logger != nil {
		return c.Logger
	}
	return slog.Default()
}
