package objstore

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path"
	"path/filepath"
	"slices"
	"strings"
	"syscall"
)

// FileBucket is a Bucket in a local folder: key "a/b.json" is the file
// root/a/b.json. Every access goes through an [os.Root], so no key, and no
// symbolic link inside the folder, reaches a file outside it.
//
// Folders are created 0700 and files 0600. Put writes a temporary file next
// to the object and renames it into place, so a reader sees the old object or
// the new one, never a part. Delete removes folders it leaves empty.
//
// Unlike S3, a folder cannot hold both an object "a" and an object "a/b";
// the second Put fails.
type FileBucket struct {
	root string
}

// tmpMark starts the names of Put's temporary files; List skips them.
const tmpMark = ".lakeport-tmp-"

// NewFile returns the bucket in the folder root, creating the folder (0700)
// when it does not exist.
func NewFile(root string) (*FileBucket, error) {
	if root == "" {
		return nil, fmt.Errorf("objstore: file bucket: no folder given")
	}
	abs, err := filepath.Abs(root)
	if err != nil {
		return nil, fmt.Errorf("objstore: file bucket %s: %w", root, err)
	}
	if err := os.MkdirAll(abs, 0o700); err != nil {
		return nil, fmt.Errorf("objstore: file bucket: create folder %s: %w", abs, err)
	}
	fi, err := os.Stat(abs)
	if err != nil {
		return nil, fmt.Errorf("objstore: file bucket %s: %w", abs, err)
	}
	if !fi.IsDir() {
		return nil, fmt.Errorf("objstore: file bucket %s: not a folder", abs)
	}
	return &FileBucket{root: abs}, nil
}

// Root is the bucket's folder, an absolute path.
func (b *FileBucket) Root() string { return b.root }

// Location is file:// and the folder's absolute path.
func (b *FileBucket) Location() string { return "file://" + filepath.ToSlash(b.root) }

// open opens the bucket's folder as an os.Root, the only way this type
// touches files.
func (b *FileBucket) open() (*os.Root, error) {
	r, err := os.OpenRoot(b.root)
	if err != nil {
		return nil, fmt.Errorf("objstore: open folder %s: %w", b.root, err)
	}
	return r, nil
}

// Put writes data at key.
func (b *FileBucket) Put(ctx context.Context, key string, data []byte) error {
	if err := CheckKey(key); err != nil {
		return err
	}
	if err := ctx.Err(); err != nil {
		return err
	}
	r, err := b.open()
	if err != nil {
		return err
	}
	defer r.Close()
	// A concurrent Delete may remove a folder Put just created (it prunes
	// empty folders); try again then.
	for attempt := 0; ; attempt++ {
		err = putFile(r, key, data)
		if err == nil || attempt == 3 || !errors.Is(err, fs.ErrNotExist) {
			break
		}
	}
	if err != nil {
		return fmt.Errorf("objstore: put %s in %s: %w", key, b.root, err)
	}
	return nil
}

func putFile(r *os.Root, key string, data []byte) error {
	if dir := path.Dir(key); dir != "." {
		if err := r.MkdirAll(dir, 0o700); err != nil {
			return err
		}
	}
	var rnd [6]byte
	_, _ = rand.Read(rnd[:])
	tmp := path.Join(path.Dir(key), tmpMark+hex.EncodeToString(rnd[:]))
	f, err := r.OpenFile(tmp, os.O_WRONLY|os.O_CREATE|os.O_EXCL, 0o600)
	if err != nil {
		return err
	}
	_, err = f.Write(data)
	if err == nil {
		err = f.Sync()
	}
	if cerr := f.Close(); err == nil {
		err = cerr
	}
	if err == nil {
		err = r.Rename(tmp, key)
	}
	if err != nil {
		_ = r.Remove(tmp)
	}
	return err
}

// Get reads the object at key.
func (b *FileBucket) Get(ctx context.Context, key string) ([]byte, error) {
	if err := CheckKey(key); err != nil {
		return nil, err
	}
	if err := ctx.Err(); err != nil {
		return nil, err
	}
	r, err := b.open()
	if err != nil {
		return nil, err
	}
	defer r.Close()
	fi, err := r.Stat(key)
	if err == nil && !fi.Mode().IsRegular() {
		return nil, fmt.Errorf("objstore: get %s in %s: %w", key, b.root, ErrNotFound)
	}
	var data []byte
	if err == nil {
		data, err = r.ReadFile(key)
	}
	if missing(err) {
		return nil, fmt.Errorf("objstore: get %s in %s: %w", key, b.root, ErrNotFound)
	}
	if err != nil {
		return nil, fmt.Errorf("objstore: get %s in %s: %w", key, b.root, err)
	}
	return data, nil
}

// missing reports whether a file error means there is no such file: it does
// not exist, or a parent on its path is a file.
func missing(err error) bool {
	return errors.Is(err, fs.ErrNotExist) || errors.Is(err, syscall.ENOTDIR)
}

// List calls fn with every key starting with prefix, in lexical order.
func (b *FileBucket) List(ctx context.Context, prefix string, fn func(key string) error) error {
	if err := checkPrefix(prefix); err != nil {
		return err
	}
	r, err := b.open()
	if err != nil {
		return err
	}
	defer r.Close()

	// Walk only the deepest folder every matching key lies in.
	start := "."
	if i := strings.LastIndexByte(prefix, '/'); i >= 0 {
		start = prefix[:i]
	}
	var keys []string
	err = fs.WalkDir(r.FS(), start, func(p string, d fs.DirEntry, err error) error {
		if err != nil {
			if p == start && missing(err) {
				return fs.SkipAll
			}
			return err
		}
		if err := ctx.Err(); err != nil {
			return err
		}
		if d.IsDir() {
			// Skip folders that can hold no key with the prefix.
			if p != "." && !strings.HasPrefix(p+"/", prefix) && !strings.HasPrefix(prefix, p+"/") {
				return fs.SkipDir
			}
			return nil
		}
		if d.Type().IsRegular() && strings.HasPrefix(p, prefix) && !strings.HasPrefix(d.Name(), tmpMark) {
			keys = append(keys, p)
		}
		return nil
	})
	if err != nil {
		return fmt.Errorf("objstore: list %q in %s: %w", prefix, b.root, err)
	}
	slices.Sort(keys)
	for _, k := range keys {
		if err := ctx.Err(); err != nil {
			return err
		}
		if err := fn(k); err != nil {
			return err
		}
	}
	return nil
}

// Delete removes the objects at keys, then the folders that become empty.
func (b *FileBucket) Delete(ctx context.Context, keys ...string) error {
	for _, k := range keys {
		if err := CheckKey(k); err != nil {
			return err
		}
	}
	r, err := b.open()
	if err != nil {
		return err
	}
	defer r.Close()
	for _, k := range keys {
		if err := ctx.Err(); err != nil {
			return err
		}
		fi, err := r.Lstat(k)
		if missing(err) || err == nil && fi.IsDir() {
			continue // no object at k
		}
		if err == nil {
			err = r.Remove(k)
		}
		if err != nil && !missing(err) {
			return fmt.Errorf("objstore: delete %s in %s: %w", k, b.root, err)
		}
		for dir := path.Dir(k); dir != "."; dir = path.Dir(dir) {
			if r.Remove(dir) != nil {
				break // not empty (or gone): stop pruning
			}
		}
	}
	return nil
}
