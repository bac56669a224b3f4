package worker

import (
	"context"
	"encoding/gob"
	"errors"
	"fmt"
	"io"
	"net"
	"os"
	"strings"

	"github.com/lakeport/lakeport/lake"
	"github.com/lakeport/lakeport/query"
	"github.com/lakeport/lakeport/query/duckdb"
)

// Serve is a worker process's main loop (the hidden `lakeport query-worker`
// command): it answers the parent's queries, one at a time, until the parent
// closes the control socket. The sockets are inherited as descriptors 3
// (control) and 4 (files).
func Serve() error {
	ctrl, err := net.FileConn(os.NewFile(3, "control"))
	if err != nil {
		return fmt.Errorf("query worker: control socket (descriptor 3): %w; this command is started by lakeport serve, not by hand", err)
	}
	fc, err := net.FileConn(os.NewFile(4, "files"))
	if err != nil {
		return fmt.Errorf("query worker: file socket (descriptor 4): %w", err)
	}
	c := &child{enc: gob.NewEncoder(ctrl), dec: gob.NewDecoder(ctrl), files: fc.(*net.UnixConn)}
	var first message
	if err := c.dec.Decode(&first); err != nil || first.Setup == nil {
		return fmt.Errorf("query worker: no setup from the server: %v", err)
	}
	cfg, err := duckdb.ConfigFromProps(first.Setup.Props)
	if err != nil {
		return err
	}
	wd, err := os.Getwd()
	if err != nil {
		return err
	}
	cfg.TempDir, cfg.Ready, cfg.Open = wd, 1, c.open
	engine, err := duckdb.New(cfg)
	if err != nil {
		return err
	}
	defer engine.Close()
	for {
		var m message
		if err := c.dec.Decode(&m); err != nil {
			if errors.Is(err, io.EOF) {
				return nil
			}
			return fmt.Errorf("query worker: read request: %w", err)
		}
		if m.Request == nil {
			return errors.New("query worker: a message other than a request between queries")
		}
		if err := c.run(engine, m.Request); err != nil {
			return err
		}
	}
}

type child struct {
	enc   *gob.Encoder
	dec   *gob.Decoder
	files *net.UnixConn
	index map[string]int // "schema.name" → the request's table index
}

// run answers one request; an error means the parent is gone.
func (c *child) run(engine *duckdb.Engine, req *request) error {
	tables := make([]query.Table, len(req.Tables))
	c.index = make(map[string]int, len(req.Tables))
	for i, ti := range req.Tables {
		sc, err := decodeSchema(ti.Columns)
		if err != nil {
			return c.enc.Encode(message{Failure: toFailure(fmt.Errorf("table %s.%s: columns: %w", ti.Schema, ti.Name, err))})
		}
		tables[i] = query.Table{Schema: ti.Schema, Name: ti.Name, ArrowSchema: sc, PrimaryKey: ti.PrimaryKey, Cursor: ti.Cursor}
		if ti.Snapshot {
			// Where it is and how to reach it come from the parent when the
			// query names the table (open).
			tables[i].Snapshot = &lake.Snapshot{Namespace: ti.Schema, Name: ti.Name, Warehouse: ti.Warehouse, MetadataLocation: ti.MetadataLocation}
		}
		c.index[strings.ToLower(tables[i].QualifiedName())] = i
	}
	ctx, cancel := context.WithTimeout(query.WithOrg(context.Background(), req.Org), req.Timeout)
	defer cancel()
	res, err := engine.Query(ctx, tables, query.Request{SQL: req.SQL, MaxRows: req.MaxRows, Timeout: req.Timeout})
	if err != nil {
		if errors.Is(err, errParentGone) {
			return err
		}
		return c.enc.Encode(message{Failure: toFailure(err)})
	}
	defer res.Close()
	if err := c.enc.Encode(message{Columns: res.Columns()}); err != nil {
		return err
	}
	for {
		rows, err := res.Next()
		switch {
		case errors.Is(err, io.EOF):
			return c.enc.Encode(message{Done: &done{Truncated: res.Truncated()}})
		case err != nil:
			return c.enc.Encode(message{Failure: toFailure(err)})
		}
		if err := c.enc.Encode(message{Rows: rows}); err != nil {
			return err
		}
	}
}

// errParentGone: the control socket broke during a query.
var errParentGone = errors.New("query worker: the server went away")

// open asks the parent for lake table t: its snapshot and, for a local
// warehouse, the descriptors of its files.
func (c *child) open(_ context.Context, t query.Table) (lake.Snapshot, lake.LocalFiles, error) {
	i, ok := c.index[strings.ToLower(t.QualifiedName())]
	if !ok {
		return lake.Snapshot{}, nil, fmt.Errorf("worker: table %s is not in the request", t.QualifiedName())
	}
	if err := c.enc.Encode(message{Open: &openTable{Table: i}}); err != nil {
		return lake.Snapshot{}, nil, fmt.Errorf("%w: %v", errParentGone, err)
	}
	var m message
	if err := c.dec.Decode(&m); err != nil || m.Opened == nil {
		return lake.Snapshot{}, nil, fmt.Errorf("%w: %v", errParentGone, err)
	}
	if m.Opened.Error != nil {
		return lake.Snapshot{}, nil, m.Opened.Error.err()
	}
	list, err := receiveFiles(c.files, len(m.Opened.Paths))
	if err != nil {
		return lake.Snapshot{}, nil, fmt.Errorf("%w: %v", errParentGone, err)
	}
	var files lake.LocalFiles
	if m.Opened.Snapshot.Local() {
		files = make(lake.LocalFiles, len(list))
		for j, p := range m.Opened.Paths {
			files[p] = list[j]
		}
	}
	return m.Opened.Snapshot, files, nil
}
