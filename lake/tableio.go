package lake

import (
	"context"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path"
	"strings"
	"sync"
	"syscall"

	icebergio "github.com/apache/iceberg-go/io"
)

// tableIO is the file IO of one table: every path iceberg-go asks for is
// checked against the table's trusted location with [CheckPath] before
// anything is opened, written or removed. Local files are reached through an
// os.Root at the lake's warehouse folder, and only regular files are opened
// (never a FIFO, device, socket or symlink); remote files go to the
// warehouse's own IO (one bucket).
type tableIO struct {
	root  location // the table's trusted location
	name  string   // "ns.name", for errors
	local *localRoot
	inner icebergio.IO // remote warehouses
}

var (
	_ icebergio.ReadFileIO      = (*tableIO)(nil)
	_ icebergio.WriteFileIO     = (*tableIO)(nil)
	_ icebergio.ListableIO      = (*tableIO)(nil)
	_ icebergio.BulkRemovableIO = (*tableIO)(nil)
	_ icebergio.StatIO          = (*tableIO)(nil)
)

// check returns p's path relative to the warehouse folder (local tables), or
// p itself (remote ones), after CheckPath.
func (t *tableIO) check(p string) (string, error) {
	rel, err := t.root.child(p)
	if err != nil {
		return "", fmt.Errorf("table %s: %w", t.name, err)
	}
	if t.local == nil {
		return p, nil
	}
	segs := make([]string, 0, len(t.root.segments)-len(t.local.at.segments)+len(rel))
	segs = append(append(segs, t.root.segments[len(t.local.at.segments):]...), rel...)
	return path.Join(segs...), nil
}

func (t *tableIO) Open(name string) (icebergio.File, error) {
	p, err := t.check(name)
	if err != nil {
		return nil, &fs.PathError{Op: "open", Path: name, Err: err}
	}
	if t.local != nil {
		f, err := t.local.open(p)
		if err != nil {
			return nil, t.localErr("open", name, err)
		}
		return f, nil
	}
	return t.inner.Open(p)
}

func (t *tableIO) ReadFile(name string) ([]byte, error) {
	f, err := t.Open(name)
	if err != nil {
		return nil, err
	}
	defer f.Close()
	return io.ReadAll(f)
}

func (t *tableIO) Create(name string) (icebergio.FileWriter, error) {
	p, err := t.check(name)
	if err != nil {
		return nil, &fs.PathError{Op: "create", Path: name, Err: err}
	}
	if t.local != nil {
		f, err := t.local.create(p)
		if err != nil {
			return nil, t.localErr("create", name, err)
		}
		return f, nil
	}
	w, ok := t.inner.(icebergio.WriteFileIO)
	if !ok {
		return nil, &fs.PathError{Op: "create", Path: name, Err: errors.ErrUnsupported}
	}
	return w.Create(p)
}

func (t *tableIO) WriteFile(name string, content []byte) error {
	f, err := t.Create(name)
	if err != nil {
		return err
	}
	if _, err := f.Write(content); err != nil {
		f.Close()
		return err
	}
	return f.Close()
}

func (t *tableIO) Remove(name string) error {
	p, err := t.check(name)
	if err != nil {
		return &fs.PathError{Op: "remove", Path: name, Err: err}
	}
	if t.local != nil {
		if err := t.local.remove(p); err != nil {
			return t.localErr("remove", name, err)
		}
		return nil
	}
	return t.inner.Remove(p)
}

func (t *tableIO) Stat(name string) (fs.FileInfo, error) {
	p, err := t.check(name)
	if err != nil {
		return nil, &fs.PathError{Op: "stat", Path: name, Err: err}
	}
	if t.local != nil {
		fi, err := t.local.stat(p)
		if err != nil {
			return nil, t.localErr("stat", name, err)
		}
		return fi, nil
	}
	s, ok := t.inner.(icebergio.StatIO)
	if !ok {
		f, err := t.inner.Open(p)
		if err != nil {
			return nil, err
		}
		defer f.Close()
		return f.Stat()
	}
	return s.Stat(p)
}

// WalkDir walks a folder inside the table's location (orphan file cleanup).
func (t *tableIO) WalkDir(root string, fn fs.WalkDirFunc) error {
	p, err := t.check(strings.TrimSuffix(root, "/") + "/x")
	if err != nil && strings.TrimSuffix(root, "/") != t.root.String() {
		return &fs.PathError{Op: "walk", Path: root, Err: err}
	}
	if t.local != nil {
		dir := path.Dir(p)
		if strings.TrimSuffix(root, "/") == t.root.String() {
			dir = path.Join(t.root.segments[len(t.local.at.segments):]...)
		}
		r, err := t.local.get()
		if err != nil {
			return err
		}
		prefix := t.local.at.String()
		return fs.WalkDir(r.FS(), dir, func(rel string, d fs.DirEntry, err error) error {
			return fn(prefix+"/"+rel, d, err)
		})
	}
	l, ok := t.inner.(icebergio.ListableIO)
	if !ok {
		return &fs.PathError{Op: "walk", Path: root, Err: errors.ErrUnsupported}
	}
	return l.WalkDir(root, fn)
}

func (t *tableIO) DeleteFiles(ctx context.Context, paths []string) ([]string, error) {
	var ok []string
	var errs []error
	for _, p := range paths {
		if _, err := t.check(p); err != nil {
			errs = append(errs, &fs.PathError{Op: "remove", Path: p, Err: err})
			continue
		}
		ok = append(ok, p)
	}
	if t.local != nil {
		var deleted []string
		for _, p := range ok {
			if err := t.Remove(p); err != nil && !errors.Is(err, fs.ErrNotExist) {
				errs = append(errs, err)
				continue
			}
			deleted = append(deleted, p)
		}
		return deleted, errors.Join(errs...)
	}
	if b, isBulk := t.inner.(icebergio.BulkRemovableIO); isBulk {
		deleted, err := b.DeleteFiles(ctx, ok)
		return deleted, errors.Join(append(errs, err)...)
	}
	var deleted []string
	for _, p := range ok {
		if err := t.inner.Remove(p); err != nil && !errors.Is(err, fs.ErrNotExist) {
			errs = append(errs, err)
			continue
		}
		deleted = append(deleted, p)
	}
	return deleted, errors.Join(errs...)
}

// localErr keeps the warehouse folder (a server path) out of an error about
// a local table file: it names the file within its table, e.g.
// crm.events/data/00000-….parquet.
func (t *tableIO) localErr(op, name string, err error) error {
	var pe *fs.PathError
	if errors.As(err, &pe) {
		err = pe.Err
	}
	return &fs.PathError{Op: op, Path: t.root.display(t.name, name), Err: err}
}

// localRoot is a lake's local warehouse folder, opened as an os.Root on first
// use: no path through it leaves the folder, symlinks included.
type localRoot struct {
	at   location
	once sync.Once
	root *os.Root
	err  error
}

func (r *localRoot) get() (*os.Root, error) {
	r.once.Do(func() {
		dir := r.at.localPath()
		if err := os.MkdirAll(dir, 0o700); err != nil {
			r.err = err
			return
		}
		r.root, r.err = os.OpenRoot(dir)
	})
	return r.root, r.err
}

func (r *localRoot) close() error {
	if r == nil {
		return nil
	}
	r.once.Do(func() { r.err = os.ErrClosed })
	if r.root != nil {
		return r.root.Close()
	}
	return nil
}

// errNotRegular: a local table file that is a FIFO, device, socket,
// directory or symlink. Opening a FIFO would block; lakeport never writes
// anything but regular files.
var errNotRegular = fmt.Errorf("%w: not a regular file", ErrOutsideTable)

// open opens the regular file rel for reading. The type is checked before
// the open (so a FIFO is never opened for a blocking read) and again on the
// opened file (so a file swapped in between is caught); the open itself is
// non-blocking.
func (r *localRoot) open(rel string) (*os.File, error) {
	root, err := r.get()
	if err != nil {
		return nil, err
	}
	before, err := root.Lstat(rel)
	if err != nil {
		return nil, err
	}
	if !before.Mode().IsRegular() {
		return nil, fmt.Errorf("%w (%s)", errNotRegular, before.Mode().Type())
	}
	f, err := root.OpenFile(rel, os.O_RDONLY|syscall.O_NONBLOCK|syscall.O_NOFOLLOW, 0)
	if err != nil {
		return nil, err
	}
	after, err := f.Stat()
	if err != nil || !after.Mode().IsRegular() || !os.SameFile(before, after) {
		f.Close()
		return nil, fmt.Errorf("%w (it changed while being opened)", errNotRegular)
	}
	return f, nil
}

func (r *localRoot) stat(rel string) (fs.FileInfo, error) {
	root, err := r.get()
	if err != nil {
		return nil, err
	}
	fi, err := root.Lstat(rel)
	if err != nil {
		return nil, err
	}
	if !fi.Mode().IsRegular() && !fi.IsDir() {
		return nil, fmt.Errorf("%w (%s)", errNotRegular, fi.Mode().Type())
	}
	return fi, nil
}

// create creates (or truncates) the regular file rel and its folders.
func (r *localRoot) create(rel string) (*os.File, error) {
	root, err := r.get()
	if err != nil {
		return nil, err
	}
	if dir := path.Dir(rel); dir != "." {
		if err := root.MkdirAll(dir, 0o755); err != nil {
			return nil, err
		}
	}
	if fi, err := root.Lstat(rel); err == nil && !fi.Mode().IsRegular() {
		return nil, fmt.Errorf("%w (%s)", errNotRegular, fi.Mode().Type())
	}
	return root.OpenFile(rel, os.O_WRONLY|os.O_CREATE|os.O_TRUNC|syscall.O_NOFOLLOW, 0o644)
}

func (r *localRoot) remove(rel string) error {
	root, err := r.get()
	if err != nil {
		return err
	}
	return root.Remove(rel)
}
