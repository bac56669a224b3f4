package client

import (
	"context"
	"fmt"
	"net/http"
	"net/url"

	"github.com/lakeport/lakeport/api"
	"github.com/lakeport/lakeport/connector"
	"github.com/lakeport/lakeport/protocol"
)

func (c *Client) Sources(ctx context.Context) ([]api.SourceView, error) {
	var out []api.SourceView
	return out, c.do(ctx, http.MethodGet, "/api/v1/sources", nil, &out)
}

func (c *Client) CreateConnector(ctx context.Context, req connector.CreateRequest) (connector.View, error) {
	var out connector.View
	return out, c.do(ctx, http.MethodPost, "/api/v1/connectors", req, &out)
}

func (c *Client) Connectors(ctx context.Context) ([]connector.View, error) {
	var out []connector.View
	return out, c.do(ctx, http.MethodGet, "/api/v1/connectors", nil, &out)
}

func (c *Client) Connector(ctx context.Context, name string) (connector.View, error) {
	var out connector.View
	return out, c.do(ctx, http.MethodGet, "/api/v1/connectors/"+url.PathEscape(name), nil, &out)
}

func (c *Client) Discover(ctx context.Context, name string) (protocol.Catalog, error) {
	var out protocol.Catalog
	return out, c.do(ctx, http.MethodPost, "/api/v1/connectors/"+url.PathEscape(name)+"/discover", nil, &out)
}

func (c *Client) StartSync(ctx context.Context, name string) (connector.RunView, error) {
	var out connector.RunView
	return out, c.do(ctx, http.MethodPost, "/api/v1/connectors/"+url.PathEscape(name)+"/sync", nil, &out)
}

// StartMaintenance starts table maintenance of the connector's tables and returns its run.
func (c *Client) StartMaintenance(ctx context.Context, name string) (connector.RunView, error) {
	var out connector.RunView
	return out, c.do(ctx, http.MethodPost, "/api/v1/connectors/"+url.PathEscape(name)+"/maintain", nil, &out)
}

func (c *Client) Runs(ctx context.Context, name string, limit int) ([]connector.RunView, error) {
	var out []connector.RunView
	return out, c.do(ctx, http.MethodGet, fmt.Sprintf("/api/v1/connectors/%s/runs?limit=%d", url.PathEscape(name), limit), nil, &out)
}

func (c *Client) Run(ctx context.Context, id string) (connector.RunView, error) {
	var out connector.RunView
	return out, c.do(ctx, http.MethodGet, "/api/v1/runs/"+url.PathEscape(id), nil, &out)
}

func (c *Client) SetupConnector(ctx context.Context, name string) (connector.View, error) {
	var out connector.View
	return out, c.do(ctx, http.MethodPost, "/api/v1/connectors/"+url.PathEscape(name)+"/setup", nil, &out)
}

func (c *Client) DeleteConnector(ctx context.Context, name string) (connector.DeleteReport, error) {
	var out connector.DeleteReport
	return out, c.do(ctx, http.MethodDelete, "/api/v1/connectors/"+url.PathEscape(name), nil, &out)
}

func (c *Client) ScheduleConnector(ctx context.Context, name, spec string) (connector.View, error) {
	var out connector.View
	return out, c.do(ctx, http.MethodPut, "/api/v1/connectors/"+url.PathEscape(name)+"/schedule", api.ScheduleRequest{Schedule: spec}, &out)
}
