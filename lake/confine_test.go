package lake_test

import (
	"encoding/json"
	"errors"
	"net/url"
	"os"
	"path"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/apache/arrow-go/v18/arrow"

	"github.com/lakeport/lakeport/lake"
	"github.com/lakeport/lakeport/lake/laketest"
)

func TestCheckPath(t *testing.T) {
	const local = "file:///srv/lakeport/warehouse/org_a/crm/customers"
	const bucket = "s3://acme-lake/crm/customers"
	for _, c := range []struct {
		root, path string
		ok         bool
	}{
		{local, local + "/data/00000-0-x.parquet", true},
		{local, "/srv/lakeport/warehouse/org_a/crm/customers/data/x.parquet", true},
		{local, local + "/metadata/snap-1.avro", true},
		{"/srv/lakeport/warehouse/org_a/crm/customers/", local + "/data/x.parquet", true},
		{bucket, bucket + "/data/x.parquet", true},
		{bucket, bucket + "/data/day=2024-01-01/x.parquet", true},
		{bucket, bucket + "/data/name=a%2Fb/x.parquet", true}, // an encoded partition value

		{local, local, false}, // the root itself is no file
		{local, "file:///srv/lakeport/warehouse/org_b/crm/customers/data/x.parquet", false},
		{local, "/srv/lakeport/warehouse/org_a/crm/customers2/data/x.parquet", false},
		{local, local + "/../../../org_b/crm/customers/data/x.parquet", false},
		{local, local + "/data/./x.parquet", false},
		{local, local + "/data//x.parquet", false},
		{local, local + "/data/%2e%2e/%2e%2e/x.parquet", false},
		{local, local + "/data/%252e%252e/x.parquet", false},           // double-encoded
		{local, local + "/data/a%2F..%2F..%2Fx.parquet", false},        // an encoded way up
		{local, local + "/data/%25252e%25252e%25252fx.parquet", false}, // thrice
		{local, local + "/data/x.parquet?/../../../etc/passwd", false},
		{local, local + "/data/x.parquet#frag", false},
		{local, local + `/data\..\..\x.parquet`, false},
		{local, local + "/data/x\x00.parquet", false},
		{local, local + "/data/%00.parquet", false},
		{local, local + "/data/%zz.parquet", false},
		{local, "file://otherhost" + strings.TrimPrefix(local, "file://") + "/data/x.parquet", false},
		{local, strings.Replace(local, "file://", "s3://", 1) + "/data/x.parquet", false},
		{local, "relative/data/x.parquet", false},
		{local, "", false},
		{bucket, "s3://other-bucket/crm/customers/data/x.parquet", false},
		{bucket, "s3a://acme-lake/crm/customers/data/x.parquet", false},
		{bucket, "file:///crm/customers/data/x.parquet", false},
		{bucket, "/crm/customers/data/x.parquet", false},
		{bucket, "s3://acme-lake/crm/customers/../invoices/data/x.parquet", false},
		{bucket, "s3://acme-lake/crm/customersX/data/x.parquet", false},
		{bucket, "https://acme-lake.s3.amazonaws.com/crm/customers/data/x.parquet", false},
		{"s3://acme-lake/crm/%2e%2e", bucket + "/x", false}, // a bad root refuses everything
	} {
		err := lake.CheckPath(c.root, c.path)
		if (err == nil) != c.ok {
			t.Errorf("CheckPath(%q, %q) = %v, want ok=%v", c.root, c.path, err, c.ok)
		}
		if err != nil && !errors.Is(err, lake.ErrOutsideTable) {
			t.Errorf("CheckPath(%q, %q) = %v, not ErrOutsideTable", c.root, c.path, err)
		}
	}
}

// FuzzCheckPath: whatever CheckPath accepts, every decoding of it (as a URL
// path, as a file URI, once or many times over) stays under the root.
func FuzzCheckPath(f *testing.F) {
	for _, s := range []string{"data/x.parquet", "../x", "%2e%2e/x", "a%2F..%2Fb", "%252e%252e/x", "a//b", "a/./b", "x?y", "%"} {
		f.Add(s)
	}
	const root = "/srv/wh/org_a/ns/t"
	f.Fuzz(func(t *testing.T, rel string) {
		p := root + "/" + rel
		if lake.CheckPath("file://"+root, p) != nil {
			return
		}
		for i, s := 0, p; i < 5; i++ {
			clean := path.Clean(s)
			if !strings.HasPrefix(clean, root+"/") {
				t.Fatalf("CheckPath accepted %q, which reads as %q", p, clean)
			}
			if u, err := url.Parse("file://" + s); err == nil && !strings.HasPrefix(path.Clean(u.Path), root+"/") {
				t.Fatalf("CheckPath accepted %q, which a file URI reads as %q", p, u.Path)
			}
			dec, err := url.PathUnescape(s)
			if err != nil || dec == s {
				break
			}
			s = dec
		}
	})
}

// A table's manifest rewritten (real Avro, by iceberg-go) to name a file
// outside the table — another organization's Parquet file, a FIFO, a symlink
// out — is refused by reads and by syncs, and the FIFO never blocks.
func TestRewrittenManifestIsRefused(t *testing.T) {
	ctx := t.Context()
	db := openDB(t)
	whA, whB := t.TempDir(), t.TempDir()
	a := openLake(t, db, whA, nil)
	victim := ensureTable(t, openLake(t, openDB(t), whB, nil), "crm", "secrets", usersSchema)
	if err := victim.Commit(ctx, []arrow.RecordBatch{batch(t, victim, `{"id":99,"name":"other org"}`)}, lake.Commit{}); err != nil {
		t.Fatal(err)
	}
	var otherParquet string
	filepath.Walk(whB, func(p string, fi os.FileInfo, err error) error {
		if err == nil && strings.HasSuffix(p, ".parquet") {
			otherParquet = p
		}
		return nil
	})
	if otherParquet == "" {
		t.Fatal("the other lake wrote no parquet file")
	}

	// Each case gets a table of its own with one file; inside is whether the
	// named file lies in the table's folder (then only its type is wrong).
	cases := []struct {
		name   string
		target func(loc, dataDir string) string
		inside bool
	}{
		{"another lake's file", func(string, string) string { return "file://" + otherParquet }, false},
		{"another lake's path", func(string, string) string { return otherParquet }, false},
		{"a way up", func(loc, _ string) string {
			return loc + "/data/../../../../" + strings.TrimPrefix(otherParquet, "/")
		}, false},
		{"an encoded way up", func(loc, _ string) string { return loc + "/data/%2e%2e/%2e%2e/%2e%2e/x.parquet" }, false},
		{"a bucket", func(string, string) string { return "s3://other-bucket/x.parquet" }, false},
		{"the server's /dev/zero", func(string, string) string { return "/dev/zero" }, false},
		{"a FIFO in the table", func(_, dataDir string) string {
			fifo := filepath.Join(dataDir, "fifo.parquet")
			if err := syscall.Mkfifo(fifo, 0o600); err != nil {
				t.Fatal(err)
			}
			return "file://" + fifo
		}, true},
		{"a symlink out of it", func(_, dataDir string) string {
			link := filepath.Join(dataDir, "link.parquet")
			if err := os.Symlink(otherParquet, link); err != nil {
				t.Fatal(err)
			}
			return "file://" + link
		}, true},
		{"a device in the table", func(_, dataDir string) string {
			dev := filepath.Join(dataDir, "dev.parquet")
			if err := os.Symlink("/dev/zero", dev); err != nil {
				t.Fatal(err)
			}
			return "file://" + dev
		}, true},
	}
	for i, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			tbl := ensureTable(t, a, "crm", "customers_"+strconv.Itoa(i), usersSchema)
			if err := tbl.Commit(ctx, []arrow.RecordBatch{batch(t, tbl, `{"id":1,"name":"mine"}`)}, lake.Commit{State: json.RawMessage(`{}`)}); err != nil {
				t.Fatal(err)
			}
			target := c.target(tbl.Location(), strings.TrimPrefix(tbl.Location(), "file://")+"/data")
			manifest, content, err := laketest.RewriteManifest(ctx, tbl.Iceberg(), func(string) string { return target })
			if err != nil {
				t.Fatal(err)
			}
			if err := os.WriteFile(strings.TrimPrefix(manifest, "file://"), content, 0o644); err != nil {
				t.Fatal(err)
			}

			scan := make(chan error, 1)
			go func() {
				_, err := tbl.Scan(ctx)
				scan <- err
			}()
			select {
			case err := <-scan:
				if !errors.Is(err, lake.ErrOutsideTable) {
					t.Errorf("scan: %v, want ErrOutsideTable", err)
				}
			case <-time.After(30 * time.Second):
				t.Fatal("reading the table hangs (a FIFO opened for reading?)")
			}
			// A sync's merge reads (or drops) the files the manifest names. A
			// file outside the table fails it; a file of the wrong type inside
			// fails it when the merge must open it.
			merge := make(chan error, 1)
			go func() {
				merge <- tbl.Commit(ctx, []arrow.RecordBatch{batch(t, tbl, `{"id":2,"name":"new"}`)},
					lake.Commit{Mode: lake.Merge, PrimaryKey: []string{"id"}})
			}()
			select {
			case err := <-merge:
				if (!c.inside || err != nil) && !errors.Is(err, lake.ErrOutsideTable) {
					t.Errorf("merge: %v, want ErrOutsideTable", err)
				}
			case <-time.After(30 * time.Second):
				t.Fatal("the merge hangs (a FIFO opened for reading?)")
			}
			// So does an overwrite, which rewrites every manifest.
			if err := tbl.Commit(ctx, nil, lake.Commit{Mode: lake.Overwrite}); !c.inside && !errors.Is(err, lake.ErrOutsideTable) {
				t.Errorf("overwrite: %v, want ErrOutsideTable", err)
			}
		})
	}
}

// Metadata that states another location than the folder it lives in (the
// customer rewrote it) is refused when the table is loaded.
func TestMetadataLocationMustBeItsOwnFolder(t *testing.T) {
	ctx := t.Context()
	wh := t.TempDir()
	l := openLake(t, openDB(t), wh, nil)
	tbl := ensureTable(t, l, "crm", "customers", usersSchema)
	if err := tbl.Commit(ctx, []arrow.RecordBatch{batch(t, tbl, `{"id":1}`)}, lake.Commit{}); err != nil {
		t.Fatal(err)
	}
	metaPath := strings.TrimPrefix(tbl.Iceberg().MetadataLocation(), "file://")
	raw, err := os.ReadFile(metaPath)
	if err != nil {
		t.Fatal(err)
	}
	var meta map[string]any
	json.Unmarshal(raw, &meta)
	meta["location"] = "file://" + t.TempDir() + "/elsewhere"
	changed, _ := json.Marshal(meta)
	if err := os.WriteFile(metaPath, changed, 0o644); err != nil {
		t.Fatal(err)
	}
	if _, err := l.LoadTable(ctx, "crm", "customers"); !errors.Is(err, lake.ErrOutsideTable) {
		t.Fatalf("LoadTable of metadata moved elsewhere: %v, want ErrOutsideTable", err)
	}
}
