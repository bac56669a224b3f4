package worker

import (
	"bytes"
	"context"
	"encoding/gob"
	"encoding/json"
	"errors"
	"time"

	"github.com/apache/arrow-go/v18/arrow"
	"github.com/apache/arrow-go/v18/arrow/ipc"

	"github.com/lakeport/lakeport/lake"
	"github.com/lakeport/lakeport/query"
)

// The parent and a worker speak gob over a unix socket, one message at a
// time, in this order per query:
//
//	parent → worker  request
//	worker → parent  open (a table the query names)     ┐ as often as the
//	parent → worker  opened (+ its files' descriptors)  ┘ query names tables
//	worker → parent  columns, then rows …, then done — or failure at any point
//
// A worker that breaks the order, or does not finish in time, is killed.
type message struct {
	Setup   *setup
	Request *request
	Open    *openTable
	Opened  *openedTable
	Columns []query.Column
	Rows    [][]any
	Done    *done
	Failure *failure
}

// setup is the first message a worker gets: the engine's settings.
type setup struct {
	Props map[string]string
}

type request struct {
	Org     string // the caller's organization (query.WithOrg)
	SQL     string
	MaxRows int
	Timeout time.Duration
	Tables  []tableInfo
}

// tableInfo is a table as the worker first learns it: no location, no
// credentials (those come with opened, for the tables the query names).
type tableInfo struct {
	Schema, Name string
	Columns      []byte // the Arrow schema, IPC-encoded
	PrimaryKey   []string
	Cursor       string
	Snapshot     bool // rows come from the lake (else the table is empty)
	// Warehouse and MetadataLocation say which snapshot (the worker keeps a
	// database for the next query over the same snapshots).
	Warehouse, MetadataLocation string
}

type openTable struct{ Table int }

type openedTable struct {
	Snapshot lake.Snapshot
	// Paths name the descriptors that follow on the file socket, in order.
	Paths []string
	Error *failure
}

type done struct{ Truncated bool }

// failure is an error of the query, as the worker's engine classified it.
type failure struct {
	Code         string // query.Code
	Kind         string
	Message      string
	Line, Column int
}

func init() {
	// The values query.Result promises, inside []any rows.
	gob.Register(time.Time{})
	gob.Register(json.Number(""))
	gob.Register([]any{})
	gob.Register(map[string]any{})
}

// encodeSchema is s as an Arrow IPC stream with no batches.
func encodeSchema(s *arrow.Schema) ([]byte, error) {
	if s == nil {
		return nil, nil
	}
	var b bytes.Buffer
	w := ipc.NewWriter(&b, ipc.WithSchema(s))
	if err := w.Close(); err != nil {
		return nil, err
	}
	return b.Bytes(), nil
}

func decodeSchema(b []byte) (*arrow.Schema, error) {
	if b == nil {
		return nil, nil
	}
	r, err := ipc.NewReader(bytes.NewReader(b))
	if err != nil {
		return nil, err
	}
	defer r.Release()
	return r.Schema(), nil
}

// toFailure describes err for the parent.
func toFailure(err error) *failure {
	f := &failure{Code: query.Code(err), Message: err.Error()}
	var se *query.SQLError
	if errors.As(err, &se) {
		f.Kind, f.Line, f.Column = se.Kind, se.Line, se.Column
	}
	return f
}

// sentinels by code, to rebuild a worker's error in the parent.
var sentinels = map[string]error{
	"bad_sql":            query.ErrBadSQL,
	"not_read_only":      query.ErrNotReadOnly,
	"timeout":            query.ErrTimeout,
	"too_many_rows":      query.ErrTooManyRows,
	"resources":          query.ErrResources,
	"canceled":           query.ErrCanceled,
	"table_unreadable":   query.ErrUnreadable,
	"engine_unavailable": query.ErrUnavailable,
}

// err rebuilds the worker's error: the same code, the same message.
func (f *failure) err() error {
	class, ok := sentinels[f.Code]
	if !ok {
		return errors.New(f.Message)
	}
	if f.Kind != "" || f.Code == "bad_sql" || f.Code == "not_read_only" {
		return &query.SQLError{Kind: f.Kind, Message: f.Message, Line: f.Line, Column: f.Column, Err: class}
	}
	return &classified{msg: f.Message, class: class}
}

// classified is an error with a worker's message and a query sentinel (and
// the context error a timeout or cancel stands for).
type classified struct {
	msg   string
	class error
}

func (c *classified) Error() string { return c.msg }
func (c *classified) Unwrap() []error {
	switch c.class {
	case query.ErrTimeout:
		return []error{c.class, context.DeadlineExceeded}
	case query.ErrCanceled:
		return []error{c.class, context.Canceled}
	}
	return []error{c.class}
}
