package client

import (
	"context"
	"net/http"

	"github.com/lakeport/lakeport/api"
	"github.com/lakeport/lakeport/storage/policy/review"
)

// ReviewStorage reviews proposed IAM documents (lakeport storage review): every
// problem at once, each with its statement and fix. A review with errors is an
// answer (Report.OK false), not an error.
func (c *Client) ReviewStorage(ctx context.Context, req api.ReviewRequest) (review.Report, error) {
	var out review.Report
	return out, c.do(ctx, http.MethodPost, "/api/v1/storage/review", req, &out)
}
