// Package objtest is the conformance suite every objstore.Bucket passes, and
// ForEach, which runs a test against every backend: a folder, an S3 bucket
// on a local versitygw server, and the same under a prefix.
//
// The S3 backends use s3test.Shared: a package using ForEach declares
//
//	func TestMain(m *testing.M) { os.Exit(s3test.Main(m)) }
package objtest

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"sync"
	"testing"
	"time"

	"github.com/lakeport/lakeport/objstore"
	"github.com/lakeport/lakeport/s3test"
)

// Backend makes an empty bucket of one kind for one test.
type Backend struct {
	Name string
	New  func(t *testing.T) objstore.Bucket
}

// Backends are the kinds of bucket ForEach runs against.
func Backends() []Backend {
	return []Backend{
		{Name: "file", New: func(t *testing.T) objstore.Bucket {
			b, err := objstore.NewFile(t.TempDir())
			if err != nil {
				t.Fatal(err)
			}
			return b
		}},
		{Name: "s3", New: func(t *testing.T) objstore.Bucket {
			s := s3test.Shared(t)
			return objstore.NewS3(s.Client(), s.NewBucket(t, "objtest"), "", "")
		}},
		{Name: "s3-prefix", New: func(t *testing.T) objstore.Bucket {
			s := s3test.Shared(t)
			return objstore.NewS3(s.Client(), s.NewBucket(t, "objtest"), "tenant/org-1/", "")
		}},
	}
}

// ForEach runs fn as a subtest for every backend, each with a new, empty
// bucket.
func ForEach(t *testing.T, fn func(t *testing.T, b objstore.Bucket)) {
	t.Helper()
	for _, be := range Backends() {
		t.Run(be.Name, func(t *testing.T) { fn(t, be.New(t)) })
	}
}

// Run runs the conformance suite; newBucket returns an empty bucket.
func Run(t *testing.T, newBucket func(t *testing.T) objstore.Bucket) {
	t.Run("GetMissing", func(t *testing.T) { testGetMissing(t, newBucket(t)) })
	t.Run("PutGet", func(t *testing.T) { testPutGet(t, newBucket(t)) })
	t.Run("List", func(t *testing.T) { testList(t, newBucket(t)) })
	t.Run("ListStops", func(t *testing.T) { testListStops(t, newBucket(t)) })
	t.Run("Delete", func(t *testing.T) { testDelete(t, newBucket(t)) })
	t.Run("DeleteMany", func(t *testing.T) { testDeleteMany(t, newBucket(t)) })
	t.Run("InvalidKeys", func(t *testing.T) { testInvalidKeys(t, newBucket(t)) })
	t.Run("Location", func(t *testing.T) { testLocation(t, newBucket(t)) })
}

func ctx(t *testing.T) context.Context {
	c, cancel := context.WithTimeout(t.Context(), 60*time.Second)
	t.Cleanup(cancel)
	return c
}

// MustPut puts data at every key or fails the test.
func MustPut(t *testing.T, b objstore.Bucket, data string, keys ...string) {
	t.Helper()
	for _, k := range keys {
		if err := b.Put(ctx(t), k, []byte(data)); err != nil {
			t.Fatalf("put %s: %v", k, err)
		}
	}
}

// Keys lists the keys under prefix or fails the test.
func Keys(t *testing.T, b objstore.Bucket, prefix string) []string {
	t.Helper()
	var keys []string
	if err := b.List(ctx(t), prefix, func(k string) error { keys = append(keys, k); return nil }); err != nil {
		t.Fatalf("list %q: %v", prefix, err)
	}
	return keys
}

func testGetMissing(t *testing.T, b objstore.Bucket) {
	_, err := b.Get(ctx(t), "nope/missing.json")
	if !objstore.IsNotFound(err) {
		t.Fatalf("get of a missing key: %v, want IsNotFound", err)
	}
	MustPut(t, b, "x", "dir/file")
	for _, k := range []string{"dir", "dir/file/below"} {
		if _, err := b.Get(ctx(t), k); !objstore.IsNotFound(err) {
			t.Errorf("get %s: %v, want IsNotFound", k, err)
		}
	}
}

func testPutGet(t *testing.T, b objstore.Bucket) {
	cases := map[string][]byte{
		"a.txt":                    []byte("hello"),
		"crm/.lakeport-owner.json": []byte(`{"org_id":"o"}`),
		".lakeport/validation.txt": []byte("v"),
		"deep/er/still/x.bin":      {0, 1, 2, 0xff, '\n'},
		"empty":                    {},
		"with space/é.txt":         []byte("unicode"),
	}
	for k, v := range cases {
		if err := b.Put(ctx(t), k, v); err != nil {
			t.Fatalf("put %s: %v", k, err)
		}
	}
	for k, v := range cases {
		got, err := b.Get(ctx(t), k)
		if err != nil || string(got) != string(v) {
			t.Errorf("get %s = %q, %v; want %q", k, got, err, v)
		}
	}
	MustPut(t, b, "replaced", "a.txt")
	if got, err := b.Get(ctx(t), "a.txt"); err != nil || string(got) != "replaced" {
		t.Errorf("get after overwrite = %q, %v", got, err)
	}
}

func testList(t *testing.T, b objstore.Bucket) {
	MustPut(t, b, "x", "crm/a", "crm/t/data/1.parquet", "crm2/x", "crm.json", "other/data.parquet", ".lakeport/validation.txt", "top")
	cases := []struct {
		prefix string
		want   []string
	}{
		{"", []string{".lakeport/validation.txt", "crm.json", "crm/a", "crm/t/data/1.parquet", "crm2/x", "other/data.parquet", "top"}},
		{"crm/", []string{"crm/a", "crm/t/data/1.parquet"}},
		{"crm", []string{"crm.json", "crm/a", "crm/t/data/1.parquet", "crm2/x"}},
		{"crm/t/da", []string{"crm/t/data/1.parquet"}},
		{"crm/t/data/1.parquet", []string{"crm/t/data/1.parquet"}},
		{"nothing/", nil},
		{"nothing", nil},
		{"to", []string{"top"}},
	}
	for _, c := range cases {
		if got := Keys(t, b, c.prefix); !slices.Equal(got, c.want) {
			t.Errorf("list %q = %q, want %q", c.prefix, got, c.want)
		}
	}
}

func testListStops(t *testing.T, b objstore.Bucket) {
	MustPut(t, b, "x", "p/1", "p/2", "p/3")
	stop := errors.New("stop")
	n := 0
	err := b.List(ctx(t), "p/", func(string) error { n++; return stop })
	if !errors.Is(err, stop) || n != 1 {
		t.Fatalf("list with fn failing: err %v after %d calls, want fn's error after 1", err, n)
	}
}

func testDelete(t *testing.T, b objstore.Bucket) {
	MustPut(t, b, "x", "crm/a", "crm/t/b", "crm2/x", "crm.json")
	if err := b.Delete(ctx(t), "crm/a", "crm/t/b", "crm/missing", "never/was"); err != nil {
		t.Fatalf("delete: %v", err)
	}
	if got := Keys(t, b, ""); !slices.Equal(got, []string{"crm.json", "crm2/x"}) {
		t.Errorf("after delete: %q", got)
	}
	if _, err := b.Get(ctx(t), "crm/a"); !objstore.IsNotFound(err) {
		t.Errorf("get of a deleted key: %v", err)
	}
	if err := b.Delete(ctx(t)); err != nil {
		t.Errorf("delete of nothing: %v", err)
	}
	// A key can be written again after its folder went away.
	MustPut(t, b, "again", "crm/t/b")
	if got, err := b.Get(ctx(t), "crm/t/b"); err != nil || string(got) != "again" {
		t.Errorf("get after re-put = %q, %v", got, err)
	}
}

func testDeleteMany(t *testing.T, b objstore.Bucket) {
	const n = 1100 // more than one DeleteObjects call
	keys := make([]string, n)
	for i := range keys {
		keys[i] = fmt.Sprintf("many/%04d", i)
	}
	var wg sync.WaitGroup
	errs := make(chan error, n)
	sem := make(chan struct{}, 16)
	for _, k := range keys {
		wg.Go(func() {
			sem <- struct{}{}
			defer func() { <-sem }()
			if err := b.Put(ctx(t), k, []byte("x")); err != nil {
				errs <- err
			}
		})
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		t.Fatal(err)
	}
	MustPut(t, b, "keep", "many.keep")
	if got := len(Keys(t, b, "many/")); got != n {
		t.Fatalf("listed %d keys, want %d", got, n)
	}
	if err := b.Delete(ctx(t), keys...); err != nil {
		t.Fatal(err)
	}
	if got := Keys(t, b, ""); !slices.Equal(got, []string{"many.keep"}) {
		t.Errorf("after deleting %d keys: %d left (%q...)", n, len(got), got[:min(3, len(got))])
	}
}

func testInvalidKeys(t *testing.T, b objstore.Bucket) {
	bad := []string{"", "/abs", "..", "../x", "a/../b", "a/..", "./a", "a//b", "a/", "a\\b", "a\x00b", "a\nb", "bad\xffutf8"}
	for _, k := range bad {
		if err := b.Put(ctx(t), k, []byte("x")); !errors.Is(err, objstore.ErrInvalidKey) {
			t.Errorf("put %q: %v, want ErrInvalidKey", k, err)
		}
		if _, err := b.Get(ctx(t), k); !errors.Is(err, objstore.ErrInvalidKey) {
			t.Errorf("get %q: %v, want ErrInvalidKey", k, err)
		}
		if err := b.Delete(ctx(t), "fine", k); !errors.Is(err, objstore.ErrInvalidKey) {
			t.Errorf("delete %q: %v, want ErrInvalidKey", k, err)
		}
	}
	for _, p := range []string{"/abs", "../", "a/../", "a//"} {
		if err := b.List(ctx(t), p, func(string) error { return nil }); !errors.Is(err, objstore.ErrInvalidKey) {
			t.Errorf("list %q: %v, want ErrInvalidKey", p, err)
		}
	}
}

func testLocation(t *testing.T, b objstore.Bucket) {
	loc := b.Location()
	if len(loc) < len("s3://x") || loc[len(loc)-1] == '/' {
		t.Errorf("location %q: want file:///... or s3://bucket[/prefix] without a trailing slash", loc)
	}
}
