package client

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"mime"
	"net/http"
	"strings"

	"github.com/lakeport/lakeport/storage"
	"github.com/lakeport/lakeport/validation"
)

// maxEventBytes bounds one Server-Sent Event line; a report is far smaller.
const maxEventBytes = 4 << 20

// TestStorageEvents runs Test connection like TestStorage and calls onStep with each
// step as the server finishes it (POST /api/v1/storage/test with
// "Accept: text/event-stream"), then returns the whole report. onStep runs on the
// calling goroutine and may be nil. A server that answers plain JSON instead still
// works: onStep then gets every step of the report at once.
func (c *Client) TestStorageEvents(ctx context.Context, s storage.Setting, onStep func(validation.Step)) (validation.Report, error) {
	const path = "/api/v1/storage/test"
	if onStep == nil {
		onStep = func(validation.Step) {}
	}
	resp, err := c.postEvents(ctx, path, s)
	if err != nil {
		return validation.Report{}, err
	}
	defer resp.Body.Close()
	if mt, _, _ := mime.ParseMediaType(resp.Header.Get("Content-Type")); mt != "text/event-stream" {
		var report validation.Report
		data, err := io.ReadAll(io.LimitReader(resp.Body, maxEventBytes))
		if err != nil {
			return report, fmt.Errorf("reading lakeport's answer: %w", err)
		}
		if err := json.Unmarshal(data, &report); err != nil {
			return report, fmt.Errorf("lakeport answered POST %s with something that is not the expected JSON: %w", path, err)
		}
		for _, st := range report.Steps {
			onStep(st)
		}
		return report, nil
	}

	var report validation.Report
	done := false
	err = readEvents(resp.Body, func(event string, data []byte) error {
		switch event {
		case "step":
			var st validation.Step
			if err := json.Unmarshal(data, &st); err != nil {
				return fmt.Errorf("a step event is not a step: %w", err)
			}
			onStep(st)
		case "report":
			if err := json.Unmarshal(data, &report); err != nil {
				return fmt.Errorf("the report event is not a report: %w", err)
			}
			done = true
			return io.EOF
		}
		return nil // an event this client does not know yet
	})
	switch {
	case err != nil:
		return report, fmt.Errorf("reading lakeport's Test connection events: %w", err)
	case !done:
		return report, fmt.Errorf("lakeport's Test connection events ended before the report: the server stopped or the connection was cut; run Test connection again")
	}
	return report, nil
}

// postEvents POSTs body as JSON to path asking for Server-Sent Events, without the
// client's overall timeout (a stream lasts as long as the work it reports): the
// caller reads the answer, which may also be plain JSON. An answer of 400 or more is
// an *Error.
func (c *Client) postEvents(ctx context.Context, path string, body any) (*http.Response, error) {
	raw, err := json.Marshal(body)
	if err != nil {
		return nil, err
	}
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, c.URL+path, bytes.NewReader(raw))
	if err != nil {
		return nil, fmt.Errorf("the lakeport URL %q is not usable: %w", c.URL, err)
	}
	req.Header.Set("Content-Type", "application/json")
	req.Header.Set("Accept", "text/event-stream, application/json")
	if c.Token != "" {
		req.Header.Set("Authorization", "Bearer "+c.Token)
	}
	hc := *c.HTTP
	hc.Timeout = 0
	resp, err := hc.Do(req)
	if err != nil {
		return nil, fmt.Errorf("cannot reach lakeport at %s: %w\ncheck that `lakeport serve` is running there, or set --url / LAKEPORT_URL", c.URL, err)
	}
	if resp.StatusCode >= 400 {
		defer resp.Body.Close()
		data, _ := io.ReadAll(io.LimitReader(resp.Body, 1<<20))
		e := &Error{Status: resp.StatusCode}
		if json.Unmarshal(data, &e.Body) != nil || e.Body.Code == "" {
			e.Body.Code, e.Body.Message = "http_"+fmt.Sprint(resp.StatusCode), strings.TrimSpace(string(data))
		}
		return nil, e
	}
	return resp, nil
}

// readEvents reads Server-Sent Events from r and calls fn with each event's name
// ("message" when it has none) and data (its data lines joined by newlines). It stops
// at the end of r, or when fn returns an error; io.EOF from fn stops it without one.
func readEvents(r io.Reader, fn func(event string, data []byte) error) error {
	sc := bufio.NewScanner(r)
	sc.Buffer(make([]byte, 0, 64<<10), maxEventBytes)
	var event string
	var data []byte
	hasData := false
	for sc.Scan() {
		line := sc.Text()
		if line == "" {
			if hasData {
				name := event
				if name == "" {
					name = "message"
				}
				if err := fn(name, data); err == io.EOF {
					return nil
				} else if err != nil {
					return err
				}
			}
			event, data, hasData = "", nil, false
			continue
		}
		if strings.HasPrefix(line, ":") {
			continue // a comment
		}
		field, value, _ := strings.Cut(line, ":")
		value = strings.TrimPrefix(value, " ")
		switch field {
		case "event":
			event = value
		case "data":
			if hasData {
				data = append(data, '\n')
			}
			data = append(data, value...)
			hasData = true
		}
	}
	return sc.Err()
}
