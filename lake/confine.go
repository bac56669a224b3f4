package lake

import (
	"context"
	"errors"
	"fmt"
	"net/url"
	"path"
	"slices"
	"strings"

	"github.com/apache/iceberg-go"
	"github.com/apache/iceberg-go/catalog"
	icebergio "github.com/apache/iceberg-go/io"
	"github.com/apache/iceberg-go/table"

	lpcatalog "github.com/lakeport/lakeport/catalog"
)

// ErrOutsideTable means a table's metadata names a file outside the table's
// own location (or a table location outside the lake's warehouse), or a local
// file that is not a regular file. Metadata in a customer's bucket is
// untrusted input: lakeport refuses to read or write such a file.
var ErrOutsideTable = errors.New("lake: table metadata names a file outside the table's location")

// location is a parsed table location or file path: a scheme ("file" or
// "s3"), an authority (the bucket; empty for local files) and the path's
// segments, each checked and percent-decoded.
type location struct {
	scheme    string
	authority string
	segments  []string
}

// CheckPath reports whether path — a metadata, manifest list, manifest, data
// or delete file named by a table's metadata — lies under the table's
// location root: the same scheme, the same bucket, and below root's prefix.
// Both are normalised first and refused when they hold anything a file
// system, an object store or a URL parser could read as a way out: an empty,
// "." or ".." segment, a backslash, "?", "#", a control character, or a
// percent-encoding (once or several times over) that decodes to one of those
// or to "/". A local path is "/abs/path" or "file:///abs/path"; the two forms
// match each other.
//
// It is the one check every reader and writer of table files goes through:
// the lake's tables read and write through an IO that calls it (see
// [Table]), and the query path calls it for the files it hands to DuckDB.
func CheckPath(root, path string) error {
	r, err := parseLocation(root)
	if err != nil {
		return fmt.Errorf("%w: location %q: %v", ErrOutsideTable, root, err)
	}
	_, err = r.child(path)
	return err
}

// child parses p and checks that it lies strictly below l; it returns p's
// segments below l.
func (l location) child(p string) ([]string, error) {
	c, err := parseLocation(p)
	if err != nil {
		return nil, fmt.Errorf("%w: %q: %v", ErrOutsideTable, p, err)
	}
	if c.scheme != l.scheme || c.authority != l.authority || len(c.segments) <= len(l.segments) {
		return nil, fmt.Errorf("%w: %q is not under the table's location", ErrOutsideTable, p)
	}
	for i, s := range l.segments {
		if c.segments[i] != s {
			return nil, fmt.Errorf("%w: %q is not under the table's location", ErrOutsideTable, p)
		}
	}
	return c.segments[len(l.segments):], nil
}

// under reports whether l is below (or equal to) parent.
func (l location) under(parent location) bool {
	if l.scheme != parent.scheme || l.authority != parent.authority || len(l.segments) < len(parent.segments) {
		return false
	}
	for i, s := range parent.segments {
		if l.segments[i] != s {
			return false
		}
	}
	return true
}

// String is the location as a URI, the form iceberg-go's IO understands.
func (l location) String() string {
	if l.scheme == "file" {
		return "file:///" + strings.Join(l.segments, "/")
	}
	return l.scheme + "://" + l.authority + "/" + strings.Join(l.segments, "/")
}

// display names file p of the table called name at location l for a
// person: within the table (name/data/x.parquet) when it lies under it, as
// given otherwise. A local table's folder is the server's business.
func (l location) display(name, p string) string {
	rel, err := l.child(p)
	if err != nil {
		return p
	}
	return name + "/" + strings.Join(rel, "/")
}

// localPath is l's path on this machine (file locations only).
func (l location) localPath() string { return "/" + strings.Join(l.segments, "/") }

func parseLocation(p string) (location, error) {
	if p == "" {
		return location{}, errors.New("empty")
	}
	for _, r := range p {
		if r < 0x20 || r == 0x7f || r == '\\' || r == '?' || r == '#' {
			return location{}, fmt.Errorf("has a control character, a backslash, ? or #")
		}
	}
	var l location
	rest := p
	switch {
	case strings.HasPrefix(p, "/"):
		l.scheme = "file"
	default:
		scheme, after, ok := strings.Cut(p, "://")
		if !ok || scheme == "" {
			return location{}, errors.New("want scheme://bucket/key or an absolute local path")
		}
		l.scheme = strings.ToLower(scheme)
		switch l.scheme {
		case "file":
			if !strings.HasPrefix(after, "/") {
				return location{}, errors.New("a file URI names a host")
			}
			rest = after
		case "s3", "s3a", "s3n":
			bucket, key, _ := strings.Cut(after, "/")
			if bucket == "" {
				return location{}, errors.New("no bucket")
			}
			l.authority, rest = bucket, "/"+key
		default:
			return location{}, fmt.Errorf("scheme %q is not file or s3", scheme)
		}
	}
	rest = strings.TrimSuffix(rest, "/")
	if rest == "" {
		return l, nil // a bucket root
	}
	for _, seg := range strings.Split(rest[1:], "/") {
		if err := checkSegment(seg); err != nil {
			return location{}, err
		}
		l.segments = append(l.segments, seg)
	}
	return l, nil
}

// checkSegment refuses a path segment that is, or decodes to, a way out. A
// percent-encoded "/" is allowed (iceberg-go encodes partition values that
// way) as long as none of the parts it separates is empty, "." or "..".
func checkSegment(seg string) error {
	for round := 0; ; round++ {
		for _, part := range strings.Split(seg, "/") {
			switch {
			case part == "":
				return errors.New("has an empty segment (//)")
			case part == "." || part == "..":
				return fmt.Errorf("has a %q segment", part)
			}
		}
		if round > 0 && strings.ContainsFunc(seg, func(r rune) bool { return r < 0x20 || r == 0x7f || r == '\\' || r == '?' || r == '#' }) {
			return errors.New("has a percent-encoded backslash, ?, # or control character")
		}
		if !strings.Contains(seg, "%") {
			return nil
		}
		if round == 4 {
			return errors.New("is percent-encoded more than four times over")
		}
		dec, err := url.PathUnescape(seg)
		if err != nil && round == 0 {
			return errors.New("has a malformed percent-encoding")
		}
		if err != nil {
			return nil // a literal % left after decoding: nothing more to decode
		}
		if dec == seg {
			return nil
		}
		seg = dec
	}
}

// tableRoot is the trusted location of the table whose current metadata file
// is metadataLocation (which the catalog holds, not the customer's bucket):
// the folder above its metadata/ folder.
func tableRoot(metadataLocation string) (location, error) {
	m, err := parseLocation(metadataLocation)
	if err != nil {
		return location{}, err
	}
	n := len(m.segments)
	if n < 3 || m.segments[n-2] != "metadata" {
		return location{}, fmt.Errorf("metadata file %q is not in a metadata/ folder", path.Base(metadataLocation))
	}
	m.segments = slices.Clone(m.segments[:n-2])
	return m, nil
}

// confinedCatalog hands out tables whose file IO is a [tableIO]: whatever
// their metadata says, they read and write only under their own location,
// which must lie under the lake's warehouse.
type confinedCatalog struct {
	lpcatalog.Catalog
	warehouse location
	local     *localRoot
}

// confinedBackend opens confinedCatalogs.
type confinedBackend struct {
	lpcatalog.Backend
	warehouse location
	local     *localRoot
}

func (b *confinedBackend) Open(ctx context.Context, name string, props iceberg.Properties) (lpcatalog.Catalog, error) {
	cat, err := b.Backend.Open(ctx, name, props)
	if err != nil {
		return nil, err
	}
	return &confinedCatalog{Catalog: cat, warehouse: b.warehouse, local: b.local}, nil
}

// Close closes the wrapped catalog when it has a Close.
func (c *confinedCatalog) Close() error {
	if cl, ok := c.Catalog.(catalog.Closer); ok {
		return cl.Close()
	}
	return nil
}

func (c *confinedCatalog) LoadTable(ctx context.Context, id table.Identifier) (*table.Table, error) {
	tbl, err := c.Catalog.LoadTable(ctx, id)
	if err != nil {
		return nil, err
	}
	return c.confine(tbl)
}

func (c *confinedCatalog) CreateTable(ctx context.Context, id table.Identifier, sc *iceberg.Schema, opts ...catalog.CreateTableOpt) (*table.Table, error) {
	tbl, err := c.Catalog.CreateTable(ctx, id, sc, opts...)
	if err != nil {
		return nil, err
	}
	return c.confine(tbl)
}

// confine binds tbl to a tableIO for its trusted location: the folder of its
// metadata file as the catalog records it (the catalog is lakeport's; the
// metadata file's content is not). The location the metadata states must be
// that folder, and the folder must lie under the warehouse.
func (c *confinedCatalog) confine(tbl *table.Table) (*table.Table, error) {
	name := strings.Join(tbl.Identifier(), ".")
	root, err := tableRoot(tbl.MetadataLocation())
	if err != nil {
		return nil, fmt.Errorf("%w: table %s: %v", ErrOutsideTable, name, err)
	}
	if !root.under(c.warehouse) {
		return nil, fmt.Errorf("%w: table %s lives outside the warehouse", ErrOutsideTable, name)
	}
	if stated, err := parseLocation(tbl.Metadata().Location()); err != nil || !stated.under(root) || !root.under(stated) {
		return nil, fmt.Errorf("%w: table %s: its metadata states the location %q, not the folder its metadata lives in", ErrOutsideTable, name, tbl.Metadata().Location())
	}
	tio := &tableIO{root: root, name: name}
	if c.local != nil {
		tio.local = c.local
		return table.New(tbl.Identifier(), tbl.Metadata(), tbl.MetadataLocation(),
			func(context.Context) (icebergio.IO, error) { return tio, nil }, c), nil
	}
	inner := tbl.FS
	fsF := func(ctx context.Context) (icebergio.IO, error) {
		fs, err := inner(ctx)
		if err != nil {
			return nil, err
		}
		t := *tio
		t.inner = fs
		return &t, nil
	}
	return table.New(tbl.Identifier(), tbl.Metadata(), tbl.MetadataLocation(), fsF, c), nil
}

// CheckFiles checks every file the table's current snapshot names — its
// manifest list, manifests, data and delete files — with [CheckPath] against
// the table's location, reading the manifests (through the table's IO, which
// checks them too). It reports the first file outside.
func (t *Table) CheckFiles(ctx context.Context) error {
	return checkFiles(ctx, t.current())
}

func checkFiles(ctx context.Context, tbl *table.Table) error {
	snap := tbl.CurrentSnapshot()
	if snap == nil {
		return nil
	}
	fs, err := tbl.FS(ctx)
	if err != nil {
		return err
	}
	name := strings.Join(tbl.Identifier(), ".")
	loc := tbl.Location()
	manifests, err := snap.Manifests(fs)
	if err != nil {
		return fmt.Errorf("lake: table %s: read manifest list: %w", name, err)
	}
	for _, m := range manifests {
		if err := ctx.Err(); err != nil {
			return err
		}
		entries, err := m.FetchEntries(fs, false)
		if err != nil {
			return fmt.Errorf("lake: table %s: read manifest: %w", name, err)
		}
		for _, e := range entries {
			if err := CheckPath(loc, e.DataFile().FilePath()); err != nil {
				return fmt.Errorf("table %s: %w", name, err)
			}
		}
	}
	return nil
}
