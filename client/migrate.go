package client

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"mime"

	"github.com/lakeport/lakeport/api"
	"github.com/lakeport/lakeport/migration"
)

// MigrateStorage moves every connector bound to an earlier storage to the
// organization's current storage (POST /api/v1/storage/migrate), calling onEvent with
// each step as the server reports it (Server-Sent Events; onEvent may be nil). A
// migration that did not finish returns its report with the error.
func (c *Client) MigrateStorage(ctx context.Context, deleteSource bool, onEvent func(migration.Event)) (migration.Report, error) {
	const path = "/api/v1/storage/migrate"
	if onEvent == nil {
		onEvent = func(migration.Event) {}
	}
	resp, err := c.postEvents(ctx, path, api.MigrateRequest{DeleteSource: deleteSource})
	if err != nil {
		if e, ok := AsError(err); ok && e.Body.Migration != nil {
			return *e.Body.Migration, err
		}
		return migration.Report{}, err
	}
	defer resp.Body.Close()
	var out api.MigrateResponse
	if mt, _, _ := mime.ParseMediaType(resp.Header.Get("Content-Type")); mt != "text/event-stream" {
		data, err := io.ReadAll(io.LimitReader(resp.Body, maxEventBytes))
		if err != nil {
			return out.Report, fmt.Errorf("reading lakeport's answer: %w", err)
		}
		if err := json.Unmarshal(data, &out); err != nil {
			return out.Report, fmt.Errorf("lakeport answered POST %s with something that is not the expected JSON: %w", path, err)
		}
	} else {
		done := false
		err = readEvents(resp.Body, func(event string, data []byte) error {
			switch event {
			case "progress":
				var e migration.Event
				if err := json.Unmarshal(data, &e); err != nil {
					return fmt.Errorf("a progress event is not one: %w", err)
				}
				onEvent(e)
			case "report":
				if err := json.Unmarshal(data, &out); err != nil {
					return fmt.Errorf("the report event is not a report: %w", err)
				}
				done = true
				return io.EOF
			}
			return nil
		})
		switch {
		case err != nil:
			return out.Report, fmt.Errorf("reading lakeport's migration events: %w", err)
		case !done:
			return out.Report, fmt.Errorf("lakeport's migration events ended before the report: the server stopped or the connection was cut; run lakeport storage migrate again to resume")
		}
	}
	if out.Error != "" {
		return out.Report, fmt.Errorf("the migration did not finish: %s (connectors that moved stay moved; run lakeport storage migrate again to resume the others)", out.Error)
	}
	return out.Report, nil
}
