// Package client is the Go client of lakeport's HTTP API; the CLI's client commands use it.
package client

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"strings"
	"time"

	"github.com/lakeport/lakeport/api"
	"github.com/lakeport/lakeport/storage"
	"github.com/lakeport/lakeport/store"
	"github.com/lakeport/lakeport/validation"
)

// Client calls one lakeport server with one token.
type Client struct {
	URL   string
	Token string
	HTTP  *http.Client
}

// New returns a client for baseURL.
func New(baseURL, token string) *Client {
	return &Client{URL: strings.TrimRight(baseURL, "/"), Token: token, HTTP: &http.Client{Timeout: 5 * time.Minute}}
}

// Error is an error answered by the server.
type Error struct {
	Status int
	Body   api.Error
}

func (e *Error) Error() string {
	if e.Body.Code == "" {
		return fmt.Sprintf("HTTP %d", e.Status)
	}
	return e.Body.Message
}

// AsError returns the server's error inside err, if there is one.
func AsError(err error) (*Error, bool) {
	var e *Error
	ok := errors.As(err, &e)
	return e, ok
}

// stream copies a successful response body into w.
func (c *Client) stream(ctx context.Context, method, path string, in any, w io.Writer) error {
	return c.send(ctx, method, path, in, func(resp *http.Response) error {
		_, err := io.Copy(w, resp.Body)
		return err
	})
}

func (c *Client) do(ctx context.Context, method, path string, in, out any) error {
	return c.send(ctx, method, path, in, func(resp *http.Response) error {
		data, err := io.ReadAll(io.LimitReader(resp.Body, 256<<20))
		if err != nil {
			return fmt.Errorf("reading lakeport's answer: %w", err)
		}
		if out == nil {
			return nil
		}
		if err := json.Unmarshal(data, out); err != nil {
			return fmt.Errorf("lakeport answered %s %s with something that is not the expected JSON: %w", method, path, err)
		}
		return nil
	})
}

func (c *Client) send(ctx context.Context, method, path string, in any, ok func(*http.Response) error) error {
	var body io.Reader
	if in != nil {
		b, err := json.Marshal(in)
		if err != nil {
			return err
		}
		body = bytes.NewReader(b)
	}
	req, err := http.NewRequestWithContext(ctx, method, c.URL+path, body)
	if err != nil {
		return fmt.Errorf("the lakeport URL %q is not usable: %w", c.URL, err)
	}
	if in != nil {
		req.Header.Set("Content-Type", "application/json")
	}
	if c.Token != "" {
		req.Header.Set("Authorization", "Bearer "+c.Token)
	}
	resp, err := c.HTTP.Do(req)
	if err != nil {
		return fmt.Errorf("cannot reach lakeport at %s: %w\ncheck that `lakeport serve` is running there, or set --url / LAKEPORT_URL", c.URL, err)
	}
	defer resp.Body.Close()
	if resp.StatusCode >= 400 {
		data, _ := io.ReadAll(io.LimitReader(resp.Body, 1<<20))
		e := &Error{Status: resp.StatusCode}
		if json.Unmarshal(data, &e.Body) != nil || e.Body.Code == "" {
			e.Body.Code, e.Body.Message = "http_"+fmt.Sprint(resp.StatusCode), strings.TrimSpace(string(data))
		}
		return e
	}
	return ok(resp)
}

func (c *Client) WhoAmI(ctx context.Context) (api.WhoAmI, error) {
	var out api.WhoAmI
	return out, c.do(ctx, http.MethodGet, "/api/v1/whoami", nil, &out)
}

func (c *Client) CreateOrg(ctx context.Context, name string) (api.CreateOrgResponse, error) {
	var out api.CreateOrgResponse
	return out, c.do(ctx, http.MethodPost, "/api/v1/orgs", api.CreateOrgRequest{Name: name}, &out)
}

func (c *Client) CreateToken(ctx context.Context, role store.Role) (api.CreateTokenResponse, error) {
	return c.CreateTokenWith(ctx, api.CreateTokenRequest{Role: role})
}

// CreateTokenWith creates a token with a name and an expiry.
func (c *Client) CreateTokenWith(ctx context.Context, req api.CreateTokenRequest) (api.CreateTokenResponse, error) {
	var out api.CreateTokenResponse
	return out, c.do(ctx, http.MethodPost, "/api/v1/tokens", req, &out)
}

// ListTokens lists the tokens the caller may see: an admin's organization's, a member's own.
func (c *Client) ListTokens(ctx context.Context) ([]api.TokenView, error) {
	var out []api.TokenView
	return out, c.do(ctx, http.MethodGet, "/api/v1/tokens", nil, &out)
}

// RevokeToken revokes token id (and the console sessions signed in with it).
func (c *Client) RevokeToken(ctx context.Context, id string) (api.RevokeTokenResponse, error) {
	var out api.RevokeTokenResponse
	return out, c.do(ctx, http.MethodDelete, "/api/v1/tokens/"+url.PathEscape(id), nil, &out)
}

func (c *Client) Storage(ctx context.Context) (api.StorageView, error) {
	var out api.StorageView
	return out, c.do(ctx, http.MethodGet, "/api/v1/storage", nil, &out)
}

func (c *Client) StoragePolicy(ctx context.Context, bucket, kmsKeyARN string) (api.PolicyView, error) {
	q := url.Values{}
	if bucket != "" {
		q.Set("bucket", bucket)
	}
	if kmsKeyARN != "" {
		q.Set("kms_key_arn", kmsKeyARN)
	}
	var out api.PolicyView
	return out, c.do(ctx, http.MethodGet, "/api/v1/storage/policy?"+q.Encode(), nil, &out)
}

func (c *Client) TestStorage(ctx context.Context, s storage.Setting) (validation.Report, error) {
	var out validation.Report
	return out, c.do(ctx, http.MethodPost, "/api/v1/storage/test", s, &out)
}

// SaveStorage saves s when its Test connection passes. When it fails the error is an
// *Error whose Report holds the failing report.
func (c *Client) SaveStorage(ctx context.Context, s storage.Setting) (api.SaveResponse, error) {
	var out api.SaveResponse
	return out, c.do(ctx, http.MethodPut, "/api/v1/storage", s, &out)
}

func (c *Client) UseManaged(ctx context.Context) (api.StorageView, error) {
	var out api.StorageView
	return out, c.do(ctx, http.MethodPost, "/api/v1/storage/use-managed", nil, &out)
}

func (c *Client) CreateUser(ctx context.Context, req api.CreateUserRequest) (api.UserView, error) {
	var out api.UserView
	return out, c.do(ctx, http.MethodPost, "/api/v1/users", req, &out)
}
