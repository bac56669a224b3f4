package lake_test

import (
	"encoding/json"
	"fmt"
	"slices"
	"strings"
	"sync"
	"testing"

	"github.com/apache/arrow-go/v18/arrow"
	"github.com/apache/iceberg-go"
	"github.com/johannesboyne/gofakes3"

	"github.com/lakeport/lakeport/catalog/rest"
	"github.com/lakeport/lakeport/catalog/rest/resttest"
	"github.com/lakeport/lakeport/lake"
	"github.com/lakeport/lakeport/schema"
)

func restLake(t *testing.T, srv *resttest.Server, org, warehouse string, props iceberg.Properties) *lake.Lake {
	t.Helper()
	b, err := rest.New(rest.Config{URI: srv.URL, Token: "tok-" + org})
	if err != nil {
		t.Fatal(err)
	}
	l, err := lake.Open(t.Context(), lake.Config{
		CatalogName: org,
		Warehouse:   warehouse,
		Props:       props,
		Catalog:     b,
	})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { l.Close() })
	return l
}

// TestRESTCatalog runs lake's behaviours against an Iceberg REST catalog
// (an httptest server; no REST catalog can run here).
func TestRESTCatalog(t *testing.T) {
	ctx := t.Context()
	backend, s3props := fakeS3(t)
	srv := resttest.New(t, s3props)
	l := restLake(t, srv, "org_a", "s3://lake/org_a", s3props)
	l2 := restLake(t, srv, "org_a", "s3://lake/org_a", s3props)

	tbl := ensureTable(t, l, "crm", "users", usersSchema)
	if !strings.HasPrefix(tbl.Location(), "s3://lake/org_a/crm/users") {
		t.Errorf("location %s", tbl.Location())
	}
	err := tbl.Commit(ctx, []arrow.RecordBatch{batch(t, tbl, `{"id":1,"name":"a"}`)},
		lake.Commit{State: json.RawMessage(`{"c":1}`), SyncID: "s1", CommitID: "c-1"})
	if err != nil {
		t.Fatal(err)
	}
	if err := tbl.Commit(ctx, []arrow.RecordBatch{batch(t, tbl, `{"id":1,"name":"a"}`)}, lake.Commit{CommitID: "c-1"}); err != nil {
		t.Fatal(err)
	}

	// Evolve through the second client.
	plan, err := schema.Evolve(tbl.Schema(), []byte(`{"properties":{"id":{"type":"integer"},"name":{"type":"string"},"email":{"type":"string"}}}`))
	if err != nil {
		t.Fatal(err)
	}
	evolved, err := l2.EnsureTable(ctx, "crm", "users", plan.Schema, "")
	if err != nil {
		t.Fatal(err)
	}

	// Concurrent commits from both clients, the first one on stale metadata.
	var wg sync.WaitGroup
	for w, x := range []*lake.Table{tbl, evolved} {
		b := batch(t, x, fmt.Sprintf(`{"id":%d,"name":"w"}`, 10+w))
		wg.Go(func() {
			for i := range 3 {
				if err := x.Commit(ctx, []arrow.RecordBatch{b}, lake.Commit{Mode: lake.Merge, PrimaryKey: []string{"id", "name"},
					CommitID: fmt.Sprintf("w%d-%d", w, i), State: json.RawMessage(`{"c":2}`)}); err != nil {
					t.Errorf("writer %d: %v", w, err)
				}
			}
		})
	}
	wg.Wait()
	fresh, err := l.LoadTable(ctx, "crm", "users")
	if err != nil {
		t.Fatal(err)
	}
	if got := rows(t, fresh, "id", "name", "email"); !slices.Equal(got, []string{"id=1,name=a,email=null", "id=10,name=w,email=null", "id=11,name=w,email=null"}) {
		t.Errorf("rows = %q", got)
	}
	for _, id := range []string{"c-1", "w0-2", "w1-2"} {
		if ok, err := fresh.Landed(ctx, id); !ok || err != nil {
			t.Errorf("commit %s: %v %v", id, ok, err)
		}
	}
	if state, syncID, ok, err := fresh.LastState(ctx); err != nil || !ok || string(state) != `{"c":2}` {
		t.Errorf("LastState = %s %q %v %v", state, syncID, ok, err)
	}

	// The namespace is the organization's: lakeport_org_a__crm.
	var sawNS bool
	for _, r := range srv.Requests() {
		sawNS = sawNS || strings.HasPrefix(r, "GET /v1/namespaces/lakeport_org_a__crm/tables/users")
	}
	if !sawNS {
		t.Errorf("no table load under namespace lakeport_org_a__crm: %q", srv.Requests())
	}
	for _, tok := range srv.Tokens() {
		if tok != "Bearer tok-org_a" {
			t.Errorf("Authorization %q", tok)
			break
		}
	}
	list, err := backend.ListBucket("lake", &gofakes3.Prefix{}, gofakes3.ListBucketPage{})
	if err != nil || len(list.Contents) == 0 {
		t.Error("no table files in S3")
	}

	if err := l.DropNamespace(ctx, "crm"); err != nil {
		t.Fatal(err)
	}
	if _, err := l.LoadTable(ctx, "crm", "users"); !lake.IsNotFound(err) {
		t.Errorf("dropped table loads: %v", err)
	}
	if err := l.DropNamespace(ctx, "crm"); err != nil {
		t.Errorf("dropping a missing namespace: %v", err)
	}
}
