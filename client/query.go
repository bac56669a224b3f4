package client

import (
	"context"
	"io"
	"net/http"

	"github.com/lakeport/lakeport/api"
	"github.com/lakeport/lakeport/connector"
)

func (c *Client) Tables(ctx context.Context) ([]connector.TableInfo, error) {
	var out []connector.TableInfo
	return out, c.do(ctx, http.MethodGet, "/api/v1/tables", nil, &out)
}

// Query runs SQL and returns the whole (row-limited) result. A query that failed after
// rows were sent has resp.Error set.
func (c *Client) Query(ctx context.Context, req api.QueryRequest) (api.QueryResponse, error) {
	req.Format = "json"
	var out api.QueryResponse
	return out, c.do(ctx, http.MethodPost, "/api/v1/query", req, &out)
}

// QueryCSV streams the result as CSV into w.
func (c *Client) QueryCSV(ctx context.Context, req api.QueryRequest, w io.Writer) error {
	req.Format = "csv"
	return c.stream(ctx, http.MethodPost, "/api/v1/query", req, w)
}
