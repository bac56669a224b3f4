package connector_test

import (
	"context"
	"errors"
	"io"
	"log/slog"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/s3"

	sqlcatalog "github.com/lakeport/lakeport/catalog/sql"
	"github.com/lakeport/lakeport/connector"
	"github.com/lakeport/lakeport/jobs"
	"github.com/lakeport/lakeport/lake"
	"github.com/lakeport/lakeport/netguard"
	"github.com/lakeport/lakeport/protocol"
	"github.com/lakeport/lakeport/s3test"
	"github.com/lakeport/lakeport/secrets"
	"github.com/lakeport/lakeport/source"
	"github.com/lakeport/lakeport/storage"
	"github.com/lakeport/lakeport/store"
	"github.com/lakeport/lakeport/store/sqlite"
	"github.com/lakeport/lakeport/tenant"
)

func TestMain(m *testing.M) { os.Exit(s3test.Main(m)) }

type env struct {
	t    *testing.T
	st   *sqlite.Store
	box  *secrets.Box
	svc  *connector.Service
	locs *storage.Resolver
	org  store.Org
	dir  string
}

func newEnv(t *testing.T) *env {
	t.Helper()
	ctx := context.Background()
	dir := t.TempDir()
	st, err := sqlite.Open(ctx, filepath.Join(dir, "lakeport.db"))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { st.Close() })
	key, _ := secrets.LoadOrCreateKey("", filepath.Join(dir, "secret.key"))
	box, _ := secrets.NewBox(key)
	org, _, err := tenant.CreateOrg(ctx, st, "acme", false)
	if err != nil {
		t.Fatal(err)
	}
	logger := slog.New(slog.NewTextHandler(io.Discard, nil))
	cat, err := sqlcatalog.New(st.DB(), "sqlite")
	if err != nil {
		t.Fatal(err)
	}
	// versitygw listens on loopback: allow it as an operator with private networks would.
	locs := &storage.Resolver{Store: st, Secrets: box, DataDir: dir, Identity: storage.Identity{Guard: netguard.New(true)}}
	svc := &connector.Service{Store: st, Secrets: box, Storage: locs, Catalog: cat, Logger: logger}
	q, err := jobs.Open(ctx, st.DB(), svc.RunSync, jobs.Config{Logger: logger})
	if err != nil {
		t.Fatal(err)
	}
	svc.Enqueue = q.EnqueueSync
	if err := q.Start(ctx); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { q.Stop(context.Background()) })
	return &env{t: t, st: st, box: box, svc: svc, locs: locs, org: org, dir: dir}
}

// sync runs a sync through the job queue and waits for its outcome.
func (e *env) sync(name string) connector.RunView {
	e.t.Helper()
	return e.syncIn(e.org, name)
}

// syncIn runs a sync of org's connector name and waits for its outcome.
func (e *env) syncIn(org store.Org, name string) connector.RunView {
	e.t.Helper()
	ctx := context.Background()
	run, err := e.svc.StartSync(ctx, org, name)
	if err != nil {
		e.t.Fatalf("start sync of %s: %v", name, err)
	}
	deadline := time.Now().Add(60 * time.Second)
	for run.Status == store.RunQueued || run.Status == store.RunRunning {
		if time.Now().After(deadline) {
			e.t.Fatalf("sync of %s did not finish: %+v", name, run)
		}
		time.Sleep(50 * time.Millisecond)
		if run, err = e.svc.Run(ctx, org, run.ID); err != nil {
			e.t.Fatal(err)
		}
	}
	return run
}

// ids returns the id column of a table, checking each id appears once.
func (e *env) ids(ns, table string) map[string]bool {
	e.t.Helper()
	return e.idsIn(e.org, ns, table)
}

// idsIn returns the id column of org's table ns.table, checking each id appears once.
func (e *env) idsIn(org store.Org, ns, table string) map[string]bool {
	e.t.Helper()
	ctx := context.Background()
	l, err := e.svc.Lake(ctx, org, ns)
	if err != nil {
		e.t.Fatal(err)
	}
	defer l.Close()
	return tableIDs(e.t, l, ns, table)
}

// tableIDs returns the id column of table ns.table in l, checking each id appears once.
func tableIDs(t *testing.T, l *lake.Lake, ns, table string) map[string]bool {
	t.Helper()
	ctx := context.Background()
	tbl, err := l.LoadTable(ctx, ns, table)
	if err != nil {
		t.Fatal(err)
	}
	at, err := tbl.Scan(ctx)
	if err != nil {
		t.Fatal(err)
	}
	defer at.Release()
	out := map[string]bool{}
	col := at.Column(at.Schema().FieldIndices("id")[0])
	for _, ch := range col.Data().Chunks() {
		for i := 0; i < ch.Len(); i++ {
			id := ch.ValueStr(i)
			if out[id] {
				t.Fatalf("%s.%s: id %s appears twice", ns, table, id)
			}
			out[id] = true
		}
	}
	return out
}

const sampleConfig = `{"seed": 3, "customers": 40, "invoices": 90, "events": 500, "state_every": 50}`

func TestSampleConnectorManagedStorage(t *testing.T) {
	e := newEnv(t)
	ctx := context.Background()
	v, err := e.svc.Create(ctx, e.org, connector.CreateRequest{Name: "crm", Source: "sample", Config: []byte(sampleConfig),
		Streams: []string{"customers", "invoices", "events:incremental:append"}})
	if err != nil {
		t.Fatal(err)
	}
	if v.StorageMode != "managed" || !strings.HasPrefix(v.Warehouse, "file://") || len(v.Streams) != 3 {
		t.Fatalf("created %+v", v)
	}
	if _, err := os.Stat(filepath.Join(strings.TrimPrefix(v.Warehouse, "file://"), "crm", ".lakeport-owner.json")); err != nil {
		t.Fatalf("owner marker: %v", err)
	}
	r1 := e.sync("crm")
	if r1.Status != store.RunSucceeded || r1.Records != 40+90+500 {
		t.Fatalf("first sync: %+v", r1)
	}
	r2 := e.sync("crm")
	if r2.Status != store.RunSucceeded || r2.Records == 0 || r2.Records >= r1.Records+500 {
		t.Fatalf("second (incremental) sync: %+v", r2)
	}
	events := e.ids("crm", "events")
	for i := 1; i <= 1000; i++ {
		if !events[strconv.Itoa(i)] {
			t.Fatalf("events: id %d missing after two syncs (%d rows)", i, len(events))
		}
	}
	if len(events) != 1000 {
		t.Fatalf("events: %d rows, want 1000", len(events))
	}
	customers := e.ids("crm", "customers")
	if len(customers) <= 40 {
		t.Fatalf("customers: %d rows after an incremental sync that adds customers", len(customers))
	}
	runs, _ := e.svc.Runs(ctx, e.org, "crm", 10)
	if len(runs) != 2 || runs[0].ID != r2.ID {
		t.Fatalf("runs = %+v", runs)
	}

	// Bad input names the field and stores nothing.
	_, err = e.svc.Create(ctx, e.org, connector.CreateRequest{Name: "Bad Name", Source: "sample"})
	var inv *connector.InvalidError
	if !errors.As(err, &inv) || inv.Fields[0].Field != "name" {
		t.Fatalf("bad name: %v", err)
	}
	_, err = e.svc.Create(ctx, e.org, connector.CreateRequest{Name: "crm2", Source: "sample", Config: []byte(`{"customers": "many"}`)})
	if !errors.As(err, &inv) || !strings.HasPrefix(inv.Fields[0].Field, "config") {
		t.Fatalf("bad config: %v", err)
	}
	_, err = e.svc.Create(ctx, e.org, connector.CreateRequest{Name: "crm", Source: "sample"})
	if !errors.Is(err, connector.ErrExists) {
		t.Fatalf("duplicate name: %v", err)
	}
	if list, _ := e.svc.List(ctx, e.org); len(list) != 1 {
		t.Fatalf("bad input stored a connector: %d connectors", len(list))
	}

	rep, err := e.svc.Delete(ctx, e.org, "crm")
	if err != nil {
		t.Fatal(err)
	}
	if len(rep.Tables) != 3 || rep.ObjectsDeleted == 0 {
		t.Fatalf("delete report %+v", rep)
	}
	if _, err := os.Stat(filepath.Join(strings.TrimPrefix(v.Warehouse, "file://"), "crm")); err == nil {
		entries, _ := os.ReadDir(filepath.Join(strings.TrimPrefix(v.Warehouse, "file://"), "crm"))
		if len(entries) > 0 {
			t.Fatalf("the connector's folder still holds %d entries", len(entries))
		}
	}
}

func TestSampleConnectorCustomerHostedS3(t *testing.T) {
	e := newEnv(t)
	ctx := context.Background()
	srv := s3test.Shared(t)
	ak, sk := s3test.RandomKey("con"), s3test.RandomKey("secret")
	srv.CreateUser(t, ak, sk)
	bucket := srv.NewBucket(t, "lake")
	srv.ChangeBucketOwner(t, bucket, ak)
	// Objects lakeport did not write, which delete must never touch.
	keep := []string{"other/keep.parquet", "crm2/x.json", "crm.json", "crmx/data/y"}
	for _, k := range keep {
		if _, err := srv.Client().PutObject(ctx, &s3.PutObjectInput{Bucket: aws.String(bucket), Key: aws.String(k), Body: strings.NewReader("keep")}); err != nil {
			t.Fatal(err)
		}
	}
	if _, err := e.locs.Save(ctx, e.org, storage.Setting{Bucket: bucket, Region: srv.Region, Endpoint: srv.Endpoint,
		AccessKeyID: ak, SecretAccessKey: sk}, time.Now()); err != nil {
		t.Fatal(err)
	}

	v, err := e.svc.Create(ctx, e.org, connector.CreateRequest{Name: "crm", Source: "sample", Config: []byte(sampleConfig),
		Streams: []string{"customers", "events:incremental:append"}})
	if err != nil {
		t.Fatal(err)
	}
	if v.Warehouse != "s3://"+bucket || v.StorageMode != "customer_hosted" {
		t.Fatalf("bound to %s (%s), want s3://%s", v.Warehouse, v.StorageMode, bucket)
	}
	for i := 0; i < 2; i++ {
		if r := e.sync("crm"); r.Status != store.RunSucceeded {
			t.Fatalf("sync %d: %+v", i+1, r)
		}
	}
	// Everything lakeport wrote is under crm/, with the owner marker.
	list, err := srv.Client().ListObjectsV2(ctx, &s3.ListObjectsV2Input{Bucket: aws.String(bucket)})
	if err != nil {
		t.Fatal(err)
	}
	var ours int
	for _, o := range list.Contents {
		k := aws.ToString(o.Key)
		if strings.HasPrefix(k, "crm/") {
			ours++
			continue
		}
		found := false
		for _, kk := range keep {
			found = found || kk == k
		}
		if !found {
			t.Fatalf("lakeport wrote %s outside the connector's prefix", k)
		}
	}
	if ours < 5 || !srv.ObjectExists(t, bucket, "crm/.lakeport-owner.json") {
		t.Fatalf("%d objects under crm/, owner marker present: %v", ours, srv.ObjectExists(t, bucket, "crm/.lakeport-owner.json"))
	}
	if events := e.ids("crm", "events"); len(events) != 1000 {
		t.Fatalf("events in the bucket: %d, want 1000", len(events))
	}

	rep, err := e.svc.Delete(ctx, e.org, "crm")
	if err != nil {
		t.Fatal(err)
	}
	if rep.ObjectsDeleted != ours {
		t.Fatalf("deleted %d objects, want the %d under crm/", rep.ObjectsDeleted, ours)
	}
	list, _ = srv.Client().ListObjectsV2(ctx, &s3.ListObjectsV2Input{Bucket: aws.String(bucket)})
	if len(list.Contents) != len(keep) {
		var left []string
		for _, o := range list.Contents {
			left = append(left, aws.ToString(o.Key))
		}
		t.Fatalf("after delete the bucket holds %v, want exactly %v", left, keep)
	}
}

func TestStorageChangeNeedsSetup(t *testing.T) {
	e := newEnv(t)
	ctx := context.Background()
	if _, err := e.svc.Create(ctx, e.org, connector.CreateRequest{Name: "crm", Source: "sample", Config: []byte(sampleConfig)}); err != nil {
		t.Fatal(err)
	}
	srv := s3test.Shared(t)
	ak, sk := s3test.RandomKey("chg"), s3test.RandomKey("secret")
	srv.CreateUser(t, ak, sk)
	bucket := srv.NewBucket(t, "moved")
	srv.ChangeBucketOwner(t, bucket, ak)
	if _, err := e.locs.Save(ctx, e.org, storage.Setting{Bucket: bucket, Region: srv.Region, Endpoint: srv.Endpoint,
		AccessKeyID: ak, SecretAccessKey: sk}, time.Now()); err != nil {
		t.Fatal(err)
	}

	if _, err := e.svc.StartSync(ctx, e.org, "crm"); !errors.Is(err, connector.ErrStorageChanged) || !strings.Contains(err.Error(), "setup") {
		t.Fatalf("sync after a storage change: %v, want ErrStorageChanged naming setup", err)
	}
	v, err := e.svc.Setup(ctx, e.org, "crm")
	if err != nil || v.Warehouse != "s3://"+bucket {
		t.Fatalf("setup: %+v, %v", v, err)
	}
	if r := e.sync("crm"); r.Status != store.RunSucceeded {
		t.Fatalf("sync after setup: %+v", r)
	}
}

// Managed storage in the platform's bucket: each organization's tables live under its
// own prefix, and nothing is written elsewhere.
func TestManagedStorageOnS3(t *testing.T) {
	e := newEnv(t)
	ctx := context.Background()
	srv := s3test.Shared(t)
	bucket := srv.NewBucket(t, "platform")
	e.locs.ManagedS3 = &storage.ManagedS3{Bucket: bucket, Prefix: "wh", Region: srv.Region, Endpoint: srv.Endpoint,
		AccessKeyID: srv.AccessKey, SecretAccessKey: srv.SecretKey}
	v, err := e.svc.Create(ctx, e.org, connector.CreateRequest{Name: "crm", Source: "sample", Config: []byte(sampleConfig),
		Streams: []string{"events:incremental:append"}})
	if err != nil {
		t.Fatal(err)
	}
	if want := "s3://" + bucket + "/wh/" + e.org.ID; v.Warehouse != want || v.StorageMode != "managed" {
		t.Fatalf("bound to %s (%s), want %s", v.Warehouse, v.StorageMode, want)
	}
	if r := e.sync("crm"); r.Status != store.RunSucceeded {
		t.Fatalf("sync: %+v", r)
	}
	list, err := srv.Client().ListObjectsV2(ctx, &s3.ListObjectsV2Input{Bucket: aws.String(bucket)})
	if err != nil {
		t.Fatal(err)
	}
	for _, o := range list.Contents {
		if !strings.HasPrefix(aws.ToString(o.Key), "wh/"+e.org.ID+"/crm/") {
			t.Fatalf("managed storage wrote %s outside the organization's prefix", aws.ToString(o.Key))
		}
	}
	if len(list.Contents) < 3 || len(e.ids("crm", "events")) != 500 {
		t.Fatalf("%d objects; events %d", len(list.Contents), len(e.ids("crm", "events")))
	}
}

type countingSource struct {
	source.Source
	specs *int
}

func (c countingSource) Spec(ctx context.Context) (*protocol.ConnectorSpecification, error) {
	*c.specs++
	return c.Source.Spec(ctx)
}

// Listing connectors asks each source for its spec (to hide secrets) once, not on every
// list: an exec: or image: source is a process to start.
func TestListAsksSpecOnce(t *testing.T) {
	e := newEnv(t)
	ctx := context.Background()
	specs := 0
	reg := source.NewRegistry()
	reg.Register("counted", func() source.Source {
		s, _ := source.Open("sample")
		return countingSource{Source: s, specs: &specs}
	})
	e.svc.Sources = reg
	for _, n := range []string{"a", "b"} {
		if _, err := e.svc.Create(ctx, e.org, connector.CreateRequest{Name: n, Source: "counted", Config: []byte(sampleConfig)}); err != nil {
			t.Fatal(err)
		}
	}
	before := specs
	for i := 0; i < 5; i++ {
		if list, err := e.svc.List(ctx, e.org); err != nil || len(list) != 2 || list[0].Config == nil {
			t.Fatalf("list: %v, %v", list, err)
		}
	}
	if specs-before > 1 {
		t.Fatalf("5 lists of 2 connectors asked the source's spec %d times, want at most once", specs-before)
	}
}
