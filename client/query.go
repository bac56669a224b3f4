package client

import (
	"context"
	"fmt"
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

// QueryCSV streams the result as CSV into w. A query that fails after rows were
// sent returns a *QueryFailedError (the CSV written is incomplete); so does a
// stream that ends without the server's end of answer.
func (c *Client) QueryCSV(ctx context.Context, req api.QueryRequest, w io.Writer) error {
	req.Format = "csv"
	return c.send(ctx, http.MethodPost, "/api/v1/query", req, func(resp *http.Response) error {
		n, err := io.Copy(w, resp.Body)
		if err != nil {
			return &QueryFailedError{Code: "stream_broken", Message: fmt.Sprintf("the answer broke off after %d bytes: %v", n, err)}
		}
		if code := resp.Trailer.Get(api.TrailerErrorCode); code != "" {
			return &QueryFailedError{Code: code, Message: resp.Trailer.Get(api.TrailerErrorMessage)}
		}
		return nil
	})
}

// QueryFailedError is a query that failed after part of its result was
// written: what was written is incomplete.
type QueryFailedError struct {
	Code, Message string
}

func (e *QueryFailedError) Error() string {
	return "the query failed after part of its result was written, so the output is incomplete (" + e.Code + "): " + e.Message
}
