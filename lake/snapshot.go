package lake

import (
	"context"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"maps"
	"os"
	"strings"
	"sync"

	"github.com/apache/iceberg-go"
	icebergio "github.com/apache/iceberg-go/io"
	"github.com/apache/iceberg-go/table"
)

// Snapshot is what a reader outside the catalog — a query worker process —
// needs to read a table's current rows: where the table's current metadata
// file is (as the catalog says), the warehouse it must lie in, and, for S3,
// the file IO properties (endpoint and credentials of that one warehouse).
type Snapshot struct {
	Namespace, Name  string
	Warehouse        string
	MetadataLocation string
	// Props are the S3 properties (PropS3*); empty for a local warehouse.
	Props map[string]string
}

// Local reports whether the snapshot's files are on this machine.
func (s Snapshot) Local() bool {
	return strings.HasPrefix(s.Warehouse, "file://") || strings.HasPrefix(s.Warehouse, "/")
}

// Snapshot describes the table's current snapshot (as last loaded) for a
// reader in another process.
func (t *Table) Snapshot() Snapshot {
	s := Snapshot{Namespace: t.id[0], Name: t.id[1], Warehouse: t.lake.warehouse, MetadataLocation: t.current().MetadataLocation()}
	if !s.Local() {
		s.Props = map[string]string{}
		for k, v := range t.lake.propsSnapshot() {
			if strings.HasPrefix(k, "s3.") {
				s.Props[k] = v
			}
		}
	}
	return s
}

func (l *Lake) propsSnapshot() map[string]string {
	l.mu.RLock()
	defer l.mu.RUnlock()
	return maps.Clone(l.props)
}

// LocalFiles are open local table files by the path the table's metadata names
// them with: what a worker process reads instead of opening paths itself.
type LocalFiles map[string]*os.File

// Close closes every file.
func (f LocalFiles) Close() error {
	var errs []error
	for _, file := range f {
		errs = append(errs, file.Close())
	}
	return errors.Join(errs...)
}

// OpenFiles opens every file a reader of s needs — the metadata file, the
// manifest list, the manifests, the data and delete files of the current
// snapshot — for a local warehouse. Each is checked with [CheckPath] and opened
// through an os.Root at the warehouse folder, regular files only (no FIFO,
// device or symlink). The caller closes them.
func OpenFiles(ctx context.Context, s Snapshot) (LocalFiles, error) {
	if !s.Local() {
		return nil, fmt.Errorf("lake: table %s.%s is not in a local warehouse", s.Namespace, s.Name)
	}
	wh, err := parseLocation(s.Warehouse)
	if err != nil {
		return nil, fmt.Errorf("%w: warehouse: %v", ErrInvalidConfig, err)
	}
	local := &localRoot{at: wh}
	defer local.close()
	tbl, err := readSnapshot(ctx, s, func(root location, name string) icebergio.IO {
		return &tableIO{root: root, name: name, local: local}
	})
	if err != nil {
		return nil, err
	}
	files := LocalFiles{}
	fio, err := tbl.FS(ctx)
	if err != nil {
		return nil, err
	}
	open := func(p string) error {
		if _, ok := files[p]; ok || p == "" {
			return nil
		}
		f, err := fio.Open(p)
		if err != nil {
			return err
		}
		files[p] = f.(*os.File)
		return nil
	}
	fail := func(err error) (LocalFiles, error) {
		files.Close()
		return nil, err
	}
	if err := open(s.MetadataLocation); err != nil {
		return fail(err)
	}
	snap := tbl.CurrentSnapshot()
	if snap == nil {
		return files, nil
	}
	if err := open(snap.ManifestList); err != nil {
		return fail(err)
	}
	manifests, err := snap.Manifests(fio)
	if err != nil {
		return fail(err)
	}
	for _, m := range manifests {
		if err := open(m.FilePath()); err != nil {
			return fail(err)
		}
	}
	tasks, err := tbl.Scan().PlanFiles(ctx)
	if err != nil {
		return fail(err)
	}
	for _, task := range tasks {
		if err := open(task.File.FilePath()); err != nil {
			return fail(err)
		}
		for _, dels := range [][]iceberg.DataFile{task.DeleteFiles, task.EqualityDeleteFiles, task.DeletionVectorFiles} {
			for _, d := range dels {
				if err := open(d.FilePath()); err != nil {
					return fail(err)
				}
			}
		}
	}
	return files, nil
}

// ReadSnapshot opens the table s describes for reading, without a catalog:
// from files (opened by OpenFiles, possibly in another process) for a local
// warehouse, or from S3 with s.Props. Every path is checked against the
// table's location first, and the metadata must state that location, as for
// tables a Lake loads.
func ReadSnapshot(ctx context.Context, s Snapshot, files LocalFiles) (*table.Table, error) {
	if s.Local() {
		return readSnapshot(ctx, s, func(root location, name string) icebergio.IO {
			return &filesIO{root: root, name: name, files: files}
		})
	}
	loadFS := icebergio.LoadFSFunc(s.Props, s.MetadataLocation)
	return readSnapshot(ctx, s, func(root location, name string) icebergio.IO {
		return &lazyIO{t: &tableIO{root: root, name: name}, load: func() (icebergio.IO, error) { return loadFS(ctx) }}
	})
}

// readSnapshot checks s's locations and loads its metadata through the IO
// newIO makes for the table's trusted location.
func readSnapshot(ctx context.Context, s Snapshot, newIO func(root location, name string) icebergio.IO) (*table.Table, error) {
	name := s.Namespace + "." + s.Name
	wh, err := parseLocation(s.Warehouse)
	if err != nil {
		return nil, fmt.Errorf("%w: warehouse: %v", ErrInvalidConfig, err)
	}
	root, err := tableRoot(s.MetadataLocation)
	if err != nil || !root.under(wh) {
		return nil, fmt.Errorf("%w: table %s lives outside the warehouse", ErrOutsideTable, name)
	}
	fio := newIO(root, name)
	tbl, err := table.NewFromLocation(ctx, table.Identifier{s.Namespace, s.Name}, s.MetadataLocation,
		func(context.Context) (icebergio.IO, error) { return fio, nil }, nil)
	if err != nil {
		return nil, fmt.Errorf("lake: read table %s: %w", name, err)
	}
	if stated, err := parseLocation(tbl.Metadata().Location()); err != nil || !stated.under(root) || !root.under(stated) {
		return nil, fmt.Errorf("%w: table %s: its metadata states the location %q, not the folder its metadata lives in", ErrOutsideTable, name, tbl.Metadata().Location())
	}
	return tbl, nil
}

// lazyIO is a read-only tableIO whose remote IO is made on first use.
type lazyIO struct {
	once sync.Once
	t    *tableIO
	err  error
	load func() (icebergio.IO, error)
}

var (
	_ icebergio.ReadFileIO = (*lazyIO)(nil)
	_ icebergio.StatIO     = (*lazyIO)(nil)
)

func (l *lazyIO) io() (*tableIO, error) {
	l.once.Do(func() { l.t.inner, l.err = l.load() })
	return l.t, l.err
}

func (l *lazyIO) Open(name string) (icebergio.File, error) {
	t, err := l.io()
	if err != nil {
		return nil, err
	}
	return t.Open(name)
}

func (l *lazyIO) ReadFile(name string) ([]byte, error) {
	t, err := l.io()
	if err != nil {
		return nil, err
	}
	return t.ReadFile(name)
}

func (l *lazyIO) Stat(name string) (fs.FileInfo, error) {
	t, err := l.io()
	if err != nil {
		return nil, err
	}
	return t.Stat(name)
}

func (l *lazyIO) Remove(string) error { return errReadOnly }

var errReadOnly = errors.New("lake: a snapshot is read only")

// filesIO serves a local table's files from files opened elsewhere (by
// OpenFiles), after CheckPath; it opens nothing by path itself.
type filesIO struct {
	root  location
	name  string
	files LocalFiles
}

var _ icebergio.ReadFileIO = (*filesIO)(nil)

func (f *filesIO) Open(name string) (icebergio.File, error) {
	if _, err := f.root.child(name); err != nil {
		return nil, &fs.PathError{Op: "open", Path: name, Err: fmt.Errorf("table %s: %w", f.name, err)}
	}
	file, ok := f.files[name]
	if !ok {
		return nil, &fs.PathError{Op: "open", Path: f.root.display(f.name, name), Err: fmt.Errorf("%w (not among the files given)", fs.ErrNotExist)}
	}
	st, err := file.Stat()
	if err != nil {
		return nil, err
	}
	return &sharedFile{SectionReader: io.NewSectionReader(file, 0, st.Size()), st: st}, nil
}

func (f *filesIO) ReadFile(name string) ([]byte, error) {
	file, err := f.Open(name)
	if err != nil {
		return nil, err
	}
	return io.ReadAll(file)
}

func (f *filesIO) Remove(string) error { return errReadOnly }

// sharedFile reads a file that others read too, at its own offset (pread);
// closing it leaves the file open.
type sharedFile struct {
	*io.SectionReader
	st fs.FileInfo
}

func (s *sharedFile) Stat() (fs.FileInfo, error) { return s.st, nil }
func (s *sharedFile) Close() error               { return nil }
