package lake_test

import (
	"encoding/json"
	"errors"
	"fmt"
	"net/http/httptest"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"testing"

	"github.com/apache/arrow-go/v18/arrow"
	"github.com/apache/iceberg-go"
	"github.com/aws/aws-sdk-go-v2/credentials"
	"github.com/johannesboyne/gofakes3"
	"github.com/johannesboyne/gofakes3/backend/s3mem"

	"github.com/lakeport/lakeport/catalog/glue"
	"github.com/lakeport/lakeport/catalog/glue/gluetest"
	"github.com/lakeport/lakeport/lake"
	"github.com/lakeport/lakeport/schema"
)

const glueAccount = "123456789012"

// fakeS3 starts an in-process S3 with bucket "lake" and returns the file IO
// properties that reach it.
func fakeS3(t *testing.T) (*s3mem.Backend, iceberg.Properties) {
	t.Helper()
	backend := s3mem.New()
	if err := backend.CreateBucket("lake"); err != nil {
		t.Fatal(err)
	}
	srv := httptest.NewServer(gofakes3.New(backend).Server())
	t.Cleanup(srv.Close)
	return backend, iceberg.Properties{
		lake.PropS3Endpoint: srv.URL, lake.PropS3AccessKeyID: "AKIAS3", lake.PropS3SecretAccessKey: "s3secret",
		lake.PropS3Region: "us-east-1", lake.PropS3ForceVirtualAddressing: "false",
	}
}

// glueLake opens org's lake on the Glue fake, with table files in the fake
// S3 under s3://lake/<org>.
func glueLake(t *testing.T, fake *gluetest.Server, org string, s3props iceberg.Properties) *lake.Lake {
	t.Helper()
	b, err := glue.New(t.Context(), glue.Config{
		Region:      fake.Region,
		CatalogID:   glueAccount,
		Endpoint:    fake.URL,
		Credentials: credentials.NewStaticCredentialsProvider("AKIAGLUE", "gluesecret", ""),
	})
	if err != nil {
		t.Fatal(err)
	}
	l, err := lake.Open(t.Context(), lake.Config{
		CatalogName: org,
		Warehouse:   "s3://lake/" + org,
		Props:       s3props,
		Catalog:     b,
	})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { l.Close() })
	return l
}

func TestGlueCatalog(t *testing.T) {
	ctx := t.Context()
	fake := gluetest.New(t, "eu-west-1")
	backend, s3props := fakeS3(t)
	la := glueLake(t, fake, "org_a", s3props)
	lb := glueLake(t, fake, "org_b", s3props)

	// Namespace and table; the same connector name in two organizations.
	tbl := ensureTable(t, la, "crm", "users", usersSchema)
	other := ensureTable(t, lb, "crm", "users", usersSchema)
	if got, want := fake.Databases(), []string{"lakeport_org_a__crm", "lakeport_org_b__crm"}; !slices.Equal(got, want) {
		t.Fatalf("Glue databases %q, want %q", got, want)
	}
	if db, _ := la.CatalogNamespace("crm"); db != "lakeport_org_a__crm" {
		t.Errorf("CatalogNamespace = %q", db)
	}
	if !strings.HasPrefix(tbl.Location(), "s3://lake/org_a/crm/users") {
		t.Errorf("location %s", tbl.Location())
	}
	if ns, name := tbl.Identifier(); ns != "crm" || name != "users" {
		t.Errorf("Identifier = %s.%s", ns, name)
	}

	// Commit with state, read it back through a fresh handle.
	err := tbl.Commit(ctx, []arrow.RecordBatch{batch(t, tbl, `{"id":1,"name":"a"}`, `{"id":2,"name":"b"}`)},
		lake.Commit{State: json.RawMessage(`{"cursor":"2"}`), SyncID: "sync-1", CommitID: "c-1"})
	if err != nil {
		t.Fatal(err)
	}
	again, err := la.LoadTable(ctx, "crm", "users")
	if err != nil {
		t.Fatal(err)
	}
	if state, syncID, ok, err := again.LastState(ctx); err != nil || !ok || string(state) != `{"cursor":"2"}` || syncID != "sync-1" {
		t.Fatalf("LastState = %s %q %v %v", state, syncID, ok, err)
	}
	if got := rows(t, again, "id", "name"); !slices.Equal(got, []string{"id=1,name=a", "id=2,name=b"}) {
		t.Errorf("rows = %q", got)
	}
	// Idempotent by commit ID.
	if err := tbl.Commit(ctx, []arrow.RecordBatch{batch(t, tbl, `{"id":1,"name":"a"}`)}, lake.Commit{CommitID: "c-1"}); err != nil {
		t.Fatal(err)
	}
	if got := rows(t, again, "id"); len(got) != 2 {
		t.Errorf("commit c-1 resent: rows %q", got)
	}
	// The other organization's table of the same name is untouched.
	if got := rows(t, other, "id"); len(got) != 0 {
		t.Errorf("org_b sees rows %q", got)
	}

	// Evolve the schema, then merge.
	plan, err := schema.Evolve(tbl.Schema(), []byte(`{"properties":{"id":{"type":"integer"},"name":{"type":"string"},"email":{"type":"string"}}}`))
	if err != nil {
		t.Fatal(err)
	}
	evolved, err := la.EnsureTable(ctx, "crm", "users", plan.Schema, "")
	if err != nil {
		t.Fatal(err)
	}
	if _, ok := evolved.Schema().FindFieldByName("email"); !ok {
		t.Fatalf("no email column after evolution: %s", evolved.Schema())
	}
	err = evolved.Commit(ctx, []arrow.RecordBatch{batch(t, evolved, `{"id":2,"name":"b2","email":"b@x"}`, `{"id":3,"email":"c@x"}`)},
		lake.Commit{Mode: lake.Merge, PrimaryKey: []string{"id"}, State: json.RawMessage(`{"cursor":"3"}`)})
	if err != nil {
		t.Fatal(err)
	}
	got := rows(t, evolved, "id", "name", "email")
	want := []string{"id=1,name=a,email=null", "id=2,name=b2,email=b@x", "id=3,name=null,email=c@x"}
	if !slices.Equal(got, want) {
		t.Errorf("rows = %q, want %q", got, want)
	}
	if names, err := la.ListTables(ctx, "crm"); err != nil || !slices.Equal(names, []string{"users"}) {
		t.Errorf("ListTables = %q %v", names, err)
	}

	// What Glue was told.
	for _, r := range fake.Calls("") {
		if r.Body["CatalogId"] != glueAccount {
			t.Errorf("%s without CatalogId %s: %v", r.Op, glueAccount, r.Body["CatalogId"])
		}
	}
	var created []string
	for _, r := range fake.Calls("CreateDatabase") {
		in := gluetest.Obj(r.Body, "DatabaseInput")
		created = append(created, gluetest.Str(in, "Name"))
		org := strings.TrimSuffix(strings.TrimPrefix(gluetest.Str(in, "Name"), "lakeport_"), "__crm")
		if gluetest.Str(in, "LocationUri") != "s3://lake/"+org+"/crm" {
			t.Errorf("database %s at %q", gluetest.Str(in, "Name"), gluetest.Str(in, "LocationUri"))
		}
		if p := gluetest.Obj(in, "Parameters"); p[lake.PropNamespaceOwner] != org || p[lake.PropNamespaceSource] != "crm" {
			t.Errorf("database %s parameters %v", gluetest.Str(in, "Name"), p)
		}
	}
	if slices.Sort(created); !slices.Equal(created, []string{"lakeport_org_a__crm", "lakeport_org_b__crm"}) {
		t.Errorf("created databases %q", created)
	}
	for _, r := range fake.Calls("CreateTable") {
		in := gluetest.Obj(r.Body, "TableInput")
		p := gluetest.Obj(in, "Parameters")
		if gluetest.Str(in, "TableType") != "EXTERNAL_TABLE" || p["table_type"] != "ICEBERG" ||
			!strings.HasPrefix(gluetest.Str(p, "metadata_location"), "s3://lake/") || !strings.HasSuffix(gluetest.Str(p, "metadata_location"), ".metadata.json") {
			t.Errorf("CreateTable %s: type %q, parameters %v", gluetest.Str(r.Body, "DatabaseName"), gluetest.Str(in, "TableType"), p)
		}
	}
	updates := fake.Calls("UpdateTable")
	if len(updates) < 3 {
		t.Fatalf("%d UpdateTable calls, want a commit, an evolution and a merge", len(updates))
	}
	for _, r := range updates {
		p := gluetest.Obj(gluetest.Obj(r.Body, "TableInput"), "Parameters")
		if gluetest.Str(r.Body, "VersionId") == "" || p["table_type"] != "ICEBERG" || gluetest.Str(p, "previous_metadata_location") == "" ||
			p["previous_metadata_location"] == p["metadata_location"] {
			t.Errorf("UpdateTable %s: VersionId %q, parameters %v", gluetest.Str(r.Body, "DatabaseName"), gluetest.Str(r.Body, "VersionId"), p)
		}
	}
	// The Glue table points at the table's current metadata, in the bucket.
	gt := fake.Table("lakeport_org_a__crm", "users")
	loc := gluetest.Str(gluetest.Obj(gt, "Parameters"), "metadata_location")
	if loc != evolved.Iceberg().MetadataLocation() {
		t.Errorf("Glue metadata_location %s, table's %s", loc, evolved.Iceberg().MetadataLocation())
	}
	key := strings.TrimPrefix(loc, "s3://lake/")
	if _, err := backend.HeadObject("lake", key); err != nil {
		t.Errorf("metadata %s not in S3: %v", key, err)
	}
	cols := gluetest.Obj(gt, "StorageDescriptor")["Columns"].([]any)
	var colNames []string
	for _, c := range cols {
		colNames = append(colNames, gluetest.Str(c.(map[string]any), "Name"))
	}
	if !slices.Contains(colNames, "email") {
		t.Errorf("Glue columns %q lack the evolved column", colNames)
	}

	// Drop.
	if err := la.DropTable(ctx, "crm", "users"); err != nil {
		t.Fatal(err)
	}
	if _, err := la.LoadTable(ctx, "crm", "users"); !lake.IsNotFound(err) {
		t.Errorf("dropped table loads: %v", err)
	}
	ensureTable(t, la, "crm", "orders", usersSchema)
	if err := la.DropNamespace(ctx, "crm"); err != nil {
		t.Fatal(err)
	}
	if got := fake.Databases(); !slices.Equal(got, []string{"lakeport_org_b__crm"}) {
		t.Errorf("after drop, databases %q", got)
	}
	if err := la.DropNamespace(ctx, "crm"); err != nil {
		t.Errorf("dropping a missing namespace: %v", err)
	}
	if _, err := la.ListTables(ctx, "crm"); !lake.IsNotFound(err) {
		t.Errorf("ListTables of a dropped namespace: %v", err)
	}
	if _, err := lb.LoadTable(ctx, "crm", "users"); err != nil {
		t.Errorf("org_b's table went with org_a's namespace: %v", err)
	}
}

// TestGlueStaleVersionIsRetried makes a commit lose Glue's optimistic lock:
// between its GetTable and its UpdateTable another writer commits, so its
// UpdateTable carries a stale VersionId. Glue answers
// ConcurrentModificationException; the commit is retried and lands once.
func TestGlueStaleVersionIsRetried(t *testing.T) {
	ctx := t.Context()
	fake := gluetest.New(t, "us-east-1")
	_, s3props := fakeS3(t)
	l1 := glueLake(t, fake, "org_a", s3props)
	l2 := glueLake(t, fake, "org_a", s3props)
	t1 := ensureTable(t, l1, "crm", "users", usersSchema)
	t2, err := l2.LoadTable(ctx, "crm", "users")
	if err != nil {
		t.Fatal(err)
	}
	b2 := batch(t, t2, `{"id":2}`)
	var first atomic.Bool
	var innerErr error
	fake.BeforeUpdate = func(db, table string) {
		// Only the first UpdateTable (w1's); w2's own goes through.
		if first.CompareAndSwap(false, true) {
			innerErr = t2.Commit(ctx, []arrow.RecordBatch{b2}, lake.Commit{CommitID: "w2", State: json.RawMessage(`{"w":2}`)})
		}
	}
	if err := t1.Commit(ctx, []arrow.RecordBatch{batch(t, t1, `{"id":1}`)}, lake.Commit{CommitID: "w1", State: json.RawMessage(`{"w":1}`)}); err != nil {
		t.Fatal(err)
	}
	if innerErr != nil {
		t.Fatal(innerErr)
	}
	conflicts := 0
	for _, r := range fake.Calls("UpdateTable") {
		if r.Error == "ConcurrentModificationException" {
			conflicts++
		}
	}
	if conflicts != 1 {
		t.Errorf("%d ConcurrentModificationException answers, want 1", conflicts)
	}
	if got := rows(t, t1, "id"); !slices.Equal(got, []string{"id=1", "id=2"}) {
		t.Errorf("rows = %q", got)
	}
	for _, id := range []string{"w1", "w2"} {
		if ok, err := t1.Landed(ctx, id); !ok || err != nil {
			t.Errorf("commit %s landed: %v %v", id, ok, err)
		}
	}
	if state, _, _, _ := t1.LastState(ctx); string(state) != `{"w":1}` {
		t.Errorf("state %s, want the last commit's", state)
	}
}

func TestGlueConcurrentCommitsAllLandOnce(t *testing.T) {
	ctx := t.Context()
	fake := gluetest.New(t, "us-east-1")
	_, s3props := fakeS3(t)
	l1 := glueLake(t, fake, "org_a", s3props)
	l2 := glueLake(t, fake, "org_a", s3props)
	ensureTable(t, l1, "crm", "t", usersSchema)
	const perWriter = 5
	var wg sync.WaitGroup
	start := make(chan struct{})
	for w, l := range []*lake.Lake{l1, l2} {
		tbl, err := l.LoadTable(ctx, "crm", "t")
		if err != nil {
			t.Fatal(err)
		}
		var batches []arrow.RecordBatch
		for i := range perWriter {
			batches = append(batches, batch(t, tbl, fmt.Sprintf(`{"id":%d}`, w*100+i)))
		}
		wg.Go(func() {
			<-start
			for i, b := range batches {
				if err := tbl.Commit(ctx, []arrow.RecordBatch{b}, lake.Commit{CommitID: fmt.Sprintf("w%d-%d", w, i)}); err != nil {
					t.Errorf("writer %d commit %d: %v", w, i, err)
				}
			}
		})
	}
	close(start)
	wg.Wait()
	tbl, err := l1.LoadTable(ctx, "crm", "t")
	if err != nil {
		t.Fatal(err)
	}
	got := rows(t, tbl, "id")
	if len(got) != 2*perWriter || len(slices.Compact(slices.Clone(got))) != len(got) {
		t.Errorf("%d rows, want %d distinct: %q", len(got), 2*perWriter, got)
	}
	meta := tbl.Iceberg().Metadata()
	n := 0
	for snap := meta.CurrentSnapshot(); snap != nil; n++ {
		if snap.ParentSnapshotID == nil {
			break
		}
		snap = meta.SnapshotByID(*snap.ParentSnapshotID)
	}
	if n+1 != 2*perWriter {
		t.Errorf("%d snapshots in history, want %d", n+1, 2*perWriter)
	}
}

// TestGlueSetProps renews the S3 credentials of a Glue lake.
func TestGlueSetProps(t *testing.T) {
	ctx := t.Context()
	fake := gluetest.New(t, "us-east-1")
	_, s3props := fakeS3(t)
	l := glueLake(t, fake, "org_a", s3props)
	tbl := ensureTable(t, l, "crm", "users", usersSchema)
	if err := l.SetProps(iceberg.Properties{lake.PropS3Endpoint: "http://127.0.0.1:1"}); err != nil {
		t.Fatal(err)
	}
	if err := tbl.Commit(ctx, []arrow.RecordBatch{batch(t, tbl, `{"id":1}`)}, lake.Commit{}); err == nil {
		t.Fatal("commit through a dead S3 endpoint succeeded: SetProps had no effect")
	}
	if err := l.SetProps(s3props); err != nil {
		t.Fatal(err)
	}
	if err := tbl.Commit(ctx, []arrow.RecordBatch{batch(t, tbl, `{"id":2}`)}, lake.Commit{State: json.RawMessage(`{"n":2}`)}); err != nil {
		t.Fatal(err)
	}
	if state, _, ok, err := tbl.LastState(ctx); err != nil || !ok || string(state) != `{"n":2}` {
		t.Fatalf("state = %s %v %v", state, ok, err)
	}
}

func TestGlueRefusesNamesAthenaCannotMap(t *testing.T) {
	fake := gluetest.New(t, "us-east-1")
	_, s3props := fakeS3(t)
	l := glueLake(t, fake, "org_a", s3props)
	for _, ns := range []string{"Crm", "1crm", "crm-x"} {
		if err := l.EnsureNamespace(t.Context(), ns, ""); !errors.Is(err, lake.ErrInvalidName) {
			t.Errorf("namespace %q: %v", ns, err)
		}
	}
	bad := glueLake(t, fake, "org__a", s3props)
	if err := bad.EnsureNamespace(t.Context(), "crm", ""); !errors.Is(err, lake.ErrInvalidName) {
		t.Errorf("catalog name org__a: %v", err)
	}
	if len(fake.Calls("CreateDatabase")) != 0 {
		t.Error("a database was created for an invalid name")
	}
}
