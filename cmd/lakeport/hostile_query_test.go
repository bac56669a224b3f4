package main

// A hostile tenant against the query path, end to end: a real server, a real
// S3 bucket (versitygw) the tenant controls, real Iceberg metadata rewritten
// with iceberg-go.

import (
	"bytes"
	"context"
	"encoding/json"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/apache/iceberg-go/table"
	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/s3"

	icebergio "github.com/apache/iceberg-go/io"

	"github.com/lakeport/lakeport/lake"
	"github.com/lakeport/lakeport/lake/laketest"
	"github.com/lakeport/lakeport/s3test"
)

// orgUser is an organization of a test server, acting through the CLI.
type orgUser struct {
	t              *testing.T
	url, dir       string
	token          string
	bucket         string // customer-hosted: its bucket
	s3             *s3.Client
	accessKey, key string
	endpoint       string
}

func (tn *orgUser) run(args ...string) (string, int) {
	tn.t.Helper()
	if tn.token != "" {
		args = append([]string{"--token", tn.token}, args...)
	}
	return run(tn.t, tn.url, tn.dir, args...)
}

func (tn *orgUser) must(args ...string) string {
	tn.t.Helper()
	out, code := tn.run(args...)
	if code != 0 {
		tn.t.Fatalf("lakeport %s: exit %d\n%s", strings.Join(args, " "), code, out)
	}
	return out
}

// newCustomerHosted creates organization name with its own bucket on the shared
// versitygw, saved as its storage.
func newCustomerHosted(t *testing.T, url, dir, name string) *orgUser {
	t.Helper()
	out, code := run(t, url, dir, "org", "create", name, "--json")
	var created struct {
		AdminToken string `json:"admin_token"`
	}
	if json.Unmarshal([]byte(out), &created); code != 0 || created.AdminToken == "" {
		t.Fatalf("org create %s: exit %d\n%s", name, code, out)
	}
	srv := s3test.Shared(t)
	ak, sk := s3test.RandomKey(name), s3test.RandomKey("secret")
	srv.CreateUser(t, ak, sk)
	bucket := srv.NewBucket(t, name)
	srv.ChangeBucketOwner(t, bucket, ak)
	tn := &orgUser{t: t, url: url, dir: dir, token: created.AdminToken, bucket: bucket, s3: srv.ClientFor(ak, sk),
		accessKey: ak, key: sk, endpoint: srv.Endpoint}
	tn.must("storage", "save", "--bucket", bucket, "--region", srv.Region, "--endpoint", srv.Endpoint, "--access-key-id", ak, "--secret-access-key", sk)
	return tn
}

// syncSample creates connector name on the sample source (small) and syncs it.
func (tn *orgUser) syncSample(name string) {
	tn.t.Helper()
	cfg := filepath.Join(tn.t.TempDir(), "sample.json")
	os.WriteFile(cfg, []byte(`{"seed": 3, "customers": 50, "invoices": 100, "events": 200}`), 0o600)
	tn.must("connector", "create", name, "--source", "sample", "--config", cfg)
	if out := tn.must("connector", "sync", name); !strings.Contains(out, "succeeded") {
		tn.t.Fatalf("sync %s:\n%s", name, out)
	}
}

// table opens the tenant's Iceberg table as the tenant can: straight from its
// bucket, with its own keys, at the newest metadata file.
func (tn *orgUser) table(ctx context.Context, ns, name string) *table.Table {
	tn.t.Helper()
	prefix := ns + "/" + name + "/metadata/"
	list, err := tn.s3.ListObjectsV2(ctx, &s3.ListObjectsV2Input{Bucket: aws.String(tn.bucket), Prefix: aws.String(prefix)})
	if err != nil {
		tn.t.Fatal(err)
	}
	var metas []string
	for _, o := range list.Contents {
		if k := aws.ToString(o.Key); strings.HasSuffix(k, ".metadata.json") {
			metas = append(metas, k)
		}
	}
	if len(metas) == 0 {
		tn.t.Fatalf("no metadata under s3://%s/%s", tn.bucket, prefix)
	}
	slices.Sort(metas)
	loc := "s3://" + tn.bucket + "/" + metas[len(metas)-1]
	props := map[string]string{lake.PropS3Endpoint: tn.endpoint, lake.PropS3AccessKeyID: tn.accessKey, lake.PropS3SecretAccessKey: tn.key,
		lake.PropS3Region: "us-east-1", lake.PropS3ForceVirtualAddressing: "false"}
	tbl, err := table.NewFromLocation(ctx, table.Identifier{ns, name}, loc, icebergio.LoadFSFunc(props, loc), nil)
	if err != nil {
		tn.t.Fatal(err)
	}
	return tbl
}

// rewriteManifest makes the first manifest of ns.name's current snapshot name
// target for every data file, as the bucket's owner can.
func (tn *orgUser) rewriteManifest(ctx context.Context, ns, name, target string) {
	tn.t.Helper()
	path, content, err := laketest.RewriteManifest(ctx, tn.table(ctx, ns, name), func(string) string { return target })
	if err != nil {
		tn.t.Fatal(err)
	}
	key := strings.TrimPrefix(path, "s3://"+tn.bucket+"/")
	if _, err := tn.s3.PutObject(ctx, &s3.PutObjectInput{Bucket: aws.String(tn.bucket), Key: aws.String(key), Body: bytes.NewReader(content)}); err != nil {
		tn.t.Fatal(err)
	}
}

// queryResult runs SQL through the CLI as JSON.
func (tn *orgUser) query(sql string) (rows [][]any, out string, code int) {
	tn.t.Helper()
	out, code = tn.run("query", sql, "--json")
	var res struct {
		Rows [][]any `json:"rows"`
	}
	json.Unmarshal([]byte(out), &res)
	return res.Rows, out, code
}

// A customer-hosted organization rewrites a manifest in its bucket so that a
// data file names another organization's local Parquet file, then a FIFO on
// the server: the query and the sync are refused with a clear error, the
// other organization's rows never show, and the FIFO does not hang anything.
func TestHostileManifestNamesAnotherOrgsFile(t *testing.T) {
	ctx := t.Context()
	url, dir := startServer(t)
	victim := &orgUser{t: t, url: url, dir: dir}
	victim.syncSample("billing")
	var victimFile string
	filepath.Walk(filepath.Join(dir, "warehouse"), func(p string, fi os.FileInfo, err error) error {
		if err == nil && strings.Contains(p, "/billing/customers/data/") && strings.HasSuffix(p, ".parquet") {
			victimFile = p
		}
		return nil
	})
	if victimFile == "" {
		t.Fatal("the managed organization's customers table has no local Parquet file")
	}

	acme := newCustomerHosted(t, url, dir, "acme")
	acme.syncSample("crm")
	rows, out, code := acme.query("SELECT count(*) FROM crm.customers")
	if code != 0 || len(rows) != 1 || rows[0][0] != float64(50) {
		t.Fatalf("acme's own count before the attack: exit %d\n%s", code, out)
	}

	fifo := filepath.Join(dir, "warehouse", "trap.parquet")
	if err := syscall.Mkfifo(fifo, 0o600); err != nil {
		t.Fatal(err)
	}
	for _, target := range []string{victimFile, "file://" + victimFile, "file://" + fifo, fifo} {
		acme.rewriteManifest(ctx, "crm", "customers", target)
		done := make(chan struct{})
		go func() {
			defer close(done)
			rows, out, code := acme.query("SELECT count(*), max(name) FROM crm.customers")
			if code == 0 {
				t.Errorf("query over a manifest naming %s answered %v\n%s", target, rows, out)
			}
			if !strings.Contains(out, "outside the table") {
				t.Errorf("query over a manifest naming %s: the error does not say why:\n%s", target, out)
			}
			if strings.Contains(out, dir) {
				t.Errorf("the error shows the server's data dir:\n%s", out)
			}
		}()
		select {
		case <-done:
		case <-time.After(60 * time.Second):
			t.Fatalf("the query over a manifest naming %s hangs", target)
		}
		// The sync that merges customers reads the same manifest: it fails too.
		out, code := acme.run("connector", "sync", "crm")
		if code == 0 || !strings.Contains(out, "outside the table") {
			t.Errorf("sync over a manifest naming %s: exit %d\n%s", target, code, out)
		}
	}
	// The engine is not held: a plain query answers.
	if rows, out, code := acme.query("SELECT 42"); code != 0 || len(rows) != 1 || rows[0][0] != float64(42) {
		t.Fatalf("SELECT 42 after the attack: exit %d\n%s", code, out)
	}
}
