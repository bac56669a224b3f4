package connector_test

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"maps"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/apache/iceberg-go"
	"github.com/apache/iceberg-go/table"
	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/s3"

	"github.com/lakeport/lakeport/catalog"
	"github.com/lakeport/lakeport/connector"
	"github.com/lakeport/lakeport/lake"
	"github.com/lakeport/lakeport/migration"
	"github.com/lakeport/lakeport/owner"
	"github.com/lakeport/lakeport/s3test"
	"github.com/lakeport/lakeport/storage"
	"github.com/lakeport/lakeport/store"
	"github.com/lakeport/lakeport/tenant"
)

// streamRecords is how many records a run fetched for stream.
func streamRecords(t *testing.T, r connector.RunView, stream string) int64 {
	t.Helper()
	var streams map[string]struct{ Records int64 }
	if err := json.Unmarshal(r.Streams, &streams); err != nil {
		t.Fatalf("run %s streams %s: %v", r.ID, r.Streams, err)
	}
	return streams[stream].Records
}

var migratedTables = []string{"customers", "events", "invoices"}

// lakeOf opens org's crm where the connector is bound (which during a migration is
// not the organization's current storage, so not through e.svc.Lake).
func (e *env) lakeOf(org store.Org) *lake.Lake {
	e.t.Helper()
	ctx := context.Background()
	v, err := e.svc.Get(ctx, org, "crm")
	if err != nil {
		e.t.Fatal(err)
	}
	loc, err := e.locs.At(ctx, org, v.Warehouse, storage.Platform)
	if err != nil {
		e.t.Fatal(err)
	}
	l, err := lake.Open(ctx, lake.Config{Catalog: e.svc.Catalog, CatalogName: org.ID, Warehouse: loc.Root, Props: loc.Props,
		HTTPClient: loc.HTTPClient, S3APIOptions: loc.S3APIOptions})
	if err != nil {
		e.t.Fatal(err)
	}
	return l
}

// allIDsIn are the ids of org's crm tables, read where the connector is bound.
func (e *env) allIDsIn(org store.Org) map[string]map[string]bool {
	e.t.Helper()
	l := e.lakeOf(org)
	defer l.Close()
	out := map[string]map[string]bool{}
	for _, name := range migratedTables {
		out[name] = tableIDs(e.t, l, "crm", name)
	}
	return out
}

func (e *env) allIDs() map[string]map[string]bool { return e.allIDsIn(e.org) }

func sameIDs(t *testing.T, when string, got, want map[string]map[string]bool) {
	t.Helper()
	for table := range want {
		if !maps.Equal(got[table], want[table]) {
			t.Fatalf("%s: crm.%s has %d rows, before the move it had %d (or other ids)", when, table, len(got[table]), len(want[table]))
		}
	}
}

// metadataLocations are where the catalog says org's crm tables are, read from the
// SQL catalog's own table (a table half way through a migration does not load
// through the connector's storage).
func (e *env) metadataLocations(org store.Org) map[string]string {
	e.t.Helper()
	rows, err := e.st.DB().QueryContext(context.Background(),
		`SELECT table_name, metadata_location FROM iceberg_tables WHERE catalog_name = ?`, org.ID)
	if err != nil {
		e.t.Fatal(err)
	}
	defer rows.Close()
	out := map[string]string{}
	for rows.Next() {
		var name, loc string
		if err := rows.Scan(&name, &loc); err != nil {
			e.t.Fatal(err)
		}
		out[name] = loc
	}
	if err := rows.Err(); err != nil {
		e.t.Fatal(err)
	}
	if len(out) != len(migratedTables) {
		e.t.Fatalf("the catalog holds %v of %s, want %v", out, org.ID, migratedTables)
	}
	return out
}

// createCRM creates org's sample connector crm (two full-refresh streams and an
// incremental one) and runs its first sync: 500 events.
func (e *env) createCRM(org store.Org) connector.View {
	e.t.Helper()
	v, err := e.svc.Create(context.Background(), org, connector.CreateRequest{Name: "crm", Source: "sample", Config: []byte(sampleConfig),
		Streams: []string{"customers", "invoices", "events:incremental:append"}})
	if err != nil {
		e.t.Fatal(err)
	}
	if r := e.syncIn(org, "crm"); r.Status != store.RunSucceeded || streamRecords(e.t, r, "events") != 500 {
		e.t.Fatalf("first sync: %+v", r)
	}
	return v
}

// customerBucket is a customer's bucket on versitygw, reached (S3-compatible, with
// access keys, as the other end-to-end tests do) through a recording proxy whose
// check sees every request first.
type customerBucket struct {
	srv     *s3test.Server
	rec     *s3test.Recorder
	name    string
	setting storage.Setting
}

func newCustomerBucket(t *testing.T, check func(s3test.Recorded) error) *customerBucket {
	t.Helper()
	srv := s3test.Shared(t)
	ak, sk := s3test.RandomKey("mig"), s3test.RandomKey("secret")
	srv.CreateUser(t, ak, sk)
	bucket := srv.NewBucket(t, "mig")
	srv.ChangeBucketOwner(t, bucket, ak)
	// Something of the customer's own, outside any connector's prefix.
	if _, err := srv.Client().PutObject(context.Background(), &s3.PutObjectInput{Bucket: aws.String(bucket), Key: aws.String("keep/me.txt"),
		Body: strings.NewReader("not lakeport's")}); err != nil {
		t.Fatal(err)
	}
	rec := s3test.NewRecorder(t, srv.Endpoint, check)
	return &customerBucket{srv: srv, rec: rec, name: bucket,
		setting: storage.Setting{Bucket: bucket, Region: srv.Region, Endpoint: rec.URL, AccessKeyID: ak, SecretAccessKey: sk}}
}

// objects are the bucket's objects under prefix, with their ETags.
func (b *customerBucket) objects(t *testing.T, prefix string) map[string]string {
	t.Helper()
	out := map[string]string{}
	p := s3.NewListObjectsV2Paginator(b.srv.Client(), &s3.ListObjectsV2Input{Bucket: aws.String(b.name), Prefix: aws.String(prefix)})
	for p.HasMorePages() {
		page, err := p.NextPage(context.Background())
		if err != nil {
			t.Fatal(err)
		}
		for _, o := range page.Contents {
			out[aws.ToString(o.Key)] = aws.ToString(o.ETag)
		}
	}
	return out
}

func (b *customerBucket) get(t *testing.T, key string) []byte {
	t.Helper()
	out, err := b.srv.Client().GetObject(context.Background(), &s3.GetObjectInput{Bucket: aws.String(b.name), Key: aws.String(key)})
	if err != nil {
		t.Fatal(err)
	}
	defer out.Body.Close()
	data, err := io.ReadAll(out.Body)
	if err != nil {
		t.Fatal(err)
	}
	return data
}

func (b *customerBucket) put(t *testing.T, key string, data []byte) {
	t.Helper()
	if _, err := b.srv.Client().PutObject(context.Background(), &s3.PutObjectInput{Bucket: aws.String(b.name), Key: aws.String(key),
		Body: strings.NewReader(string(data))}); err != nil {
		t.Fatal(err)
	}
}

// outsidePrefix lists the requests since the first from that named an object
// outside prefix.
func (b *customerBucket) outsidePrefix(from int, prefix string) []string {
	var out []string
	for _, r := range b.rec.Requests()[from:] {
		if r.Key != "" && !strings.HasPrefix(r.Key, prefix) {
			out = append(out, r.Method+" "+r.Key)
		}
		if r.Key == "" && r.Query.Has("list-type") && !strings.HasPrefix(r.Query.Get("prefix"), prefix) {
			out = append(out, "LIST prefix="+r.Query.Get("prefix"))
		}
	}
	return out
}

// puts counts the object writes since the first from under prefix.
func (b *customerBucket) puts(from int, prefix string) int {
	n := 0
	for _, r := range b.rec.Requests()[from:] {
		if r.Op() == "PutObject" && strings.HasPrefix(r.Key, prefix) {
			n++
		}
	}
	return n
}

// crmThenBucket creates and syncs crm in managed storage, then saves a customer's
// bucket (behind a recorder with check) as the organization's storage: crm, its ids
// before any move, the bucket.
func (e *env) crmThenBucket(check func(s3test.Recorded) error) (connector.View, map[string]map[string]bool, *customerBucket) {
	e.t.Helper()
	c := e.createCRM(e.org)
	before := e.allIDs()
	b := newCustomerBucket(e.t, check)
	if _, err := e.locs.Save(context.Background(), e.org, b.setting, time.Now()); err != nil {
		e.t.Fatal(err)
	}
	return c, before, b
}

func (e *env) migrator() *migration.Service {
	return &migration.Service{Store: e.st, Storage: e.locs, Catalog: e.svc.Catalog, Poll: 20 * time.Millisecond}
}

func (e *env) migrationOf(org store.Org, connectorID string) store.Migration {
	e.t.Helper()
	m, err := e.st.Migration(context.Background(), org.ID, connectorID)
	if err != nil {
		e.t.Fatal(err)
	}
	return m
}

// Managed → a customer bucket → managed again, without a re-sync: every row stays,
// the catalog points at the new place, and the next sync after each move fetches only
// the new records (the state rides in the snapshots that moved). The bucket has a KMS
// key, and every object the migration writes there carries SSE-KMS. The migration
// touches nothing in the bucket outside the connector's prefix; the way back deletes
// the bucket's copy (--delete-source), and only that connector's prefix.
func TestMigrateManagedToBucketAndBack(t *testing.T) {
	const key = "arn:aws:kms:us-east-1:123456789012:key/1234abcd-12ab-34cd-56ef-1234567890ab"
	e := newEnv(t)
	ctx := context.Background()
	mig := e.migrator()
	managed := e.createCRM(e.org)
	before := e.allIDs()

	// Managed → bucket.
	b := newCustomerBucket(t, s3test.RequireSSEKMS(key))
	b.setting.KMSKeyARN = key
	if _, err := e.locs.Save(ctx, e.org, b.setting, time.Now()); err != nil {
		t.Fatal(err)
	}
	if _, err := e.svc.StartSync(ctx, e.org, "crm"); !errors.Is(err, connector.ErrStorageChanged) || !strings.Contains(err.Error(), "storage migrate") {
		t.Fatalf("a sync before the move: %v, want ErrStorageChanged pointing at lakeport storage migrate", err)
	}
	var events []migration.Event
	rep, err := mig.Migrate(ctx, e.org, migration.Options{OnEvent: func(ev migration.Event) { events = append(events, ev) }})
	if err != nil {
		t.Fatalf("migrate to the bucket: %v\n%+v", err, rep)
	}
	if len(rep.Connectors) != 1 || rep.Connectors[0].State != store.MigrationDone || len(rep.Connectors[0].Tables) != 3 {
		t.Fatalf("report %+v", rep)
	}
	var rows int64
	for _, tr := range rep.Connectors[0].Tables {
		if !tr.Registered || tr.DataFiles == 0 || !strings.HasPrefix(tr.MetadataLocation, "s3://"+b.name+"/crm/"+tr.Name+"/metadata/") {
			t.Errorf("table report %+v", tr)
		}
		rows += tr.Rows
	}
	if want := int64(len(before["customers"]) + len(before["invoices"]) + len(before["events"])); rows != want {
		t.Errorf("the report checked %d rows, the tables hold %d", rows, want)
	}
	if len(events) == 0 {
		t.Error("no progress events")
	}
	v, err := e.svc.Get(ctx, e.org, "crm")
	if err != nil || v.Warehouse != "s3://"+b.name || v.StorageMode != "customer_hosted" {
		t.Fatalf("after the move the connector is bound to %s (%s), %v", v.Warehouse, v.StorageMode, err)
	}
	for name, loc := range e.metadataLocations(e.org) {
		if !strings.HasPrefix(loc, "s3://"+b.name+"/crm/"+name+"/metadata/") {
			t.Fatalf("the catalog has crm.%s at %s, not in the bucket", name, loc)
		}
	}
	sameIDs(t, "in the bucket", e.allIDs(), before)
	for _, r := range b.rec.Requests() {
		if r.Refused != "" {
			t.Errorf("a write without SSE-KMS: %s", r.Refused)
		}
	}
	if out := b.outsidePrefix(0, "crm/"); len(out) != 0 {
		t.Fatalf("the migration reached outside crm/ in the bucket: %v", out)
	}
	if len(b.objects(t, "crm/")) == 0 {
		t.Fatal("nothing under crm/ in the bucket")
	}
	r2 := e.sync("crm")
	if r2.Status != store.RunSucceeded {
		t.Fatalf("sync in the bucket: %+v", r2)
	}
	if n := streamRecords(t, r2, "events"); n != 500 {
		t.Fatalf("the first sync after the move fetched %d events, want the 500 new ones (a re-sync would start again at the first)", n)
	}
	after2 := e.allIDs()
	if len(after2["events"]) != 1000 {
		t.Fatalf("%d events after the second sync, want 1000", len(after2["events"]))
	}

	// Bucket → managed, deleting the bucket's copy.
	if _, err := e.locs.UseManaged(ctx, e.org); err != nil {
		t.Fatal(err)
	}
	from := len(b.rec.Requests())
	rep, err = mig.Migrate(ctx, e.org, migration.Options{DeleteSource: true})
	if err != nil || rep.Connectors[0].State != store.MigrationDone || rep.Connectors[0].SourceObjectsDeleted == 0 {
		t.Fatalf("migrate back: %v\n%+v", err, rep)
	}
	if out := b.outsidePrefix(from, "crm/"); len(out) != 0 {
		t.Fatalf("the way back reached outside crm/ in the bucket: %v", out)
	}
	v, _ = e.svc.Get(ctx, e.org, "crm")
	if v.Warehouse != managed.Warehouse || v.StorageMode != "managed" {
		t.Fatalf("back in %s, want the managed warehouse %s", v.Warehouse, managed.Warehouse)
	}
	for name, loc := range e.metadataLocations(e.org) {
		if !strings.HasPrefix(loc, managed.Warehouse+"/crm/"+name+"/metadata/") {
			t.Fatalf("the catalog has crm.%s at %s, not in the managed warehouse", name, loc)
		}
	}
	sameIDs(t, "back in managed storage", e.allIDs(), after2)
	if keys := b.objects(t, "crm/"); len(keys) != 0 {
		t.Fatalf("--delete-source left %d objects under crm/: %v", len(keys), keys)
	}
	if keys := b.objects(t, "keep/"); len(keys) != 1 {
		t.Fatalf("--delete-source touched objects outside the connector's prefix: keep/ holds %v", keys)
	}
	r3 := e.sync("crm")
	if r3.Status != store.RunSucceeded || streamRecords(t, r3, "events") != 500 {
		t.Fatalf("the first sync after moving back: %+v (events %d, want 500 new)", r3, streamRecords(t, r3, "events"))
	}
	if n := len(e.ids("crm", "events")); n != 1500 {
		t.Fatalf("%d events after three syncs, want 1500", n)
	}
}

// interruptedMigration moves crm from managed storage towards a bucket that refuses
// every write under crm/invoices/ (the last table in order): the migration stops with
// customers and events moved and registered in the bucket, invoices not.
func interruptedMigration(t *testing.T) (*env, *customerBucket, *atomic.Bool, connector.View, map[string]map[string]bool) {
	t.Helper()
	e := newEnv(t)
	ctx := context.Background()
	var refuse atomic.Bool
	c, before, b := e.crmThenBucket(func(r s3test.Recorded) error {
		if refuse.Load() && r.Op() == "PutObject" && strings.HasPrefix(r.Key, "crm/invoices/") {
			return errors.New("refused by the test: the migration is cut here")
		}
		return nil
	})
	refuse.Store(true)
	rep, err := e.migrator().Migrate(ctx, e.org, migration.Options{})
	if err == nil || len(rep.Connectors) != 1 || rep.Connectors[0].State != store.MigrationFailed || !strings.Contains(err.Error(), "invoices") {
		t.Fatalf("the cut migration: %v\n%+v", err, rep)
	}
	if v, _ := e.svc.Get(ctx, e.org, "crm"); v.Warehouse != c.Warehouse {
		t.Fatalf("a migration that stopped half way switched the connector to %s", v.Warehouse)
	}
	locs := e.metadataLocations(e.org)
	for _, name := range []string{"customers", "events"} {
		if !strings.HasPrefix(locs[name], "s3://"+b.name+"/") {
			t.Fatalf("crm.%s is at %s after the cut migration, want moved to the bucket before invoices failed", name, locs[name])
		}
	}
	if !strings.HasPrefix(locs["invoices"], c.Warehouse+"/") {
		t.Fatalf("crm.invoices is at %s, want still in managed storage", locs["invoices"])
	}
	if m := e.migrationOf(e.org, c.ID); m.State != store.MigrationFailed || m.Error == "" {
		t.Fatalf("the stored migration: %+v", m)
	}
	// Its syncs are refused with what to do.
	if _, err := e.svc.StartSync(ctx, e.org, "crm"); !errors.Is(err, connector.ErrMigrating) || !strings.Contains(err.Error(), "lakeport storage migrate again") {
		t.Fatalf("a sync of the half-moved connector: %v, want ErrMigrating saying to run the migration again", err)
	}
	return e, b, &refuse, c, before
}

// A migration cut half way resumes when run again: the tables already moved are not
// copied again, the rest are, every row is there, and the next sync fetches only new
// records.
func TestMigrateResumesAfterAnInterruption(t *testing.T) {
	e, b, refuse, c, before := interruptedMigration(t)
	ctx := context.Background()
	refuse.Store(false)
	from := len(b.rec.Requests())
	var events []migration.Event
	rep, err := e.migrator().Migrate(ctx, e.org, migration.Options{OnEvent: func(ev migration.Event) { events = append(events, ev) }})
	if err != nil || rep.Connectors[0].State != store.MigrationDone || len(rep.Connectors[0].Tables) != 3 {
		t.Fatalf("the resumed migration: %v\n%+v", err, rep)
	}
	if len(events) == 0 || !strings.Contains(events[0].Message, "resuming") {
		t.Errorf("the second run did not say it resumes: %+v", events)
	}
	for _, prefix := range []string{"crm/customers/", "crm/events/"} {
		if n := b.puts(from, prefix); n != 0 {
			t.Errorf("the resumed migration wrote %d objects under %s again, already moved before the cut", n, prefix)
		}
	}
	if n := b.puts(from, "crm/invoices/"); n == 0 {
		t.Error("the resumed migration wrote nothing under crm/invoices/")
	}
	if v, _ := e.svc.Get(ctx, e.org, "crm"); v.Warehouse != "s3://"+b.name {
		t.Fatalf("after the resumed migration the connector is at %s", v.Warehouse)
	}
	sameIDs(t, "after the resumed migration", e.allIDs(), before)
	r := e.sync("crm")
	if r.Status != store.RunSucceeded || streamRecords(t, r, "events") != 500 {
		t.Fatalf("the first sync after the resumed migration: %+v, want the 500 new events only", r)
	}
	if n := len(e.ids("crm", "events")); n != 1000 {
		t.Fatalf("%d events, want 1000", n)
	}
	if m := e.migrationOf(e.org, c.ID); m.State != store.MigrationDone || m.FinishedAt.IsZero() {
		t.Fatalf("the stored migration: %+v", m)
	}
}

// A migration cut half way, after which the organization goes back to managed
// storage: running the migration again puts the tables it had moved back at their
// managed metadata, with every row, and syncs go on incrementally there.
func TestMigrateRollsBackWhenTheStorageChangesAgain(t *testing.T) {
	e, _, _, c, before := interruptedMigration(t)
	ctx := context.Background()
	if _, err := e.locs.UseManaged(ctx, e.org); err != nil {
		t.Fatal(err)
	}
	rep, err := e.migrator().Migrate(ctx, e.org, migration.Options{})
	if err != nil || rep.Connectors[0].State != store.MigrationRolledBack {
		t.Fatalf("migrate after going back to managed storage: %v\n%+v", err, rep)
	}
	for name, loc := range e.metadataLocations(e.org) {
		if !strings.HasPrefix(loc, c.Warehouse+"/crm/"+name+"/metadata/") {
			t.Fatalf("crm.%s is at %s after the roll back, want in managed storage", name, loc)
		}
	}
	sameIDs(t, "after the roll back", e.allIDs(), before)
	r := e.sync("crm")
	if r.Status != store.RunSucceeded || streamRecords(t, r, "events") != 500 {
		t.Fatalf("the first sync after the roll back: %+v, want the 500 new events only", r)
	}
}

// Hostile customer: the metadata in the bucket is the customer's to edit. A table's
// metadata rewritten to name another organization's manifest list (in managed
// storage) must not pull that organization's data into this one's tables: the
// migration refuses the path, reads nothing outside the connector's prefix, switches
// nothing, and the other organization's connector is untouched. Repaired, the
// migration resumes and finishes.
func TestMigrateHostileMetadataStaysInTheConnectorsPrefix(t *testing.T) {
	e := newEnv(t)
	ctx := context.Background()
	globex, _, err := tenant.CreateOrg(ctx, e.st, "globex", false)
	if err != nil {
		t.Fatal(err)
	}
	victim := e.createCRM(globex)
	victimIDs, victimLocs := e.allIDsIn(globex), e.metadataLocations(globex)
	victimDir := strings.TrimPrefix(victim.Warehouse, "file://")
	victimFiles := treeOf(t, victimDir)

	b := newCustomerBucket(t, nil)
	if _, err := e.locs.Save(ctx, e.org, b.setting, time.Now()); err != nil {
		t.Fatal(err)
	}
	e.createCRM(e.org) // in the bucket
	before := e.allIDs()
	if _, err := e.locs.UseManaged(ctx, e.org); err != nil {
		t.Fatal(err)
	}

	// The customer rewrites crm.events' metadata in the bucket.
	evLoc := e.metadataLocations(e.org)["events"]
	key := strings.TrimPrefix(evLoc, "s3://"+b.name+"/")
	orig := b.get(t, key)
	l := e.lakeOf(globex)
	gtbl, err := l.LoadTable(ctx, "crm", "events")
	l.Close()
	if err != nil {
		t.Fatal(err)
	}
	// Two forgeries: globex's manifest list, and a path that climbs out of the table
	// (and out of crm/) to the customer's own keep/me.txt.
	for _, forgedPath := range []string{
		gtbl.Iceberg().CurrentSnapshot().ManifestList,
		"s3://" + b.name + "/crm/events/metadata/../../../keep/me.txt",
	} {
		var doc map[string]any
		if err := json.Unmarshal(orig, &doc); err != nil {
			t.Fatal(err)
		}
		for _, s := range doc["snapshots"].([]any) {
			s.(map[string]any)["manifest-list"] = forgedPath
		}
		forged, _ := json.Marshal(doc)
		b.put(t, key, forged)

		from := len(b.rec.Requests())
		rep, err := e.migrator().Migrate(ctx, e.org, migration.Options{DeleteSource: true})
		if !errors.Is(err, migration.ErrUnsafe) || !strings.Contains(err.Error(), forgedPath) {
			t.Fatalf("migrating metadata forged to name %s: %v, want ErrUnsafe naming it\n%+v", forgedPath, err, rep)
		}
		if out := b.outsidePrefix(from, "crm/"); len(out) != 0 {
			t.Fatalf("the migration reached outside crm/ in the bucket: %v", out)
		}
		for _, r := range b.rec.Requests()[from:] {
			if strings.Contains(r.Key, "..") {
				t.Fatalf("the migration sent %s %s", r.Method, r.Key)
			}
		}
		if v, _ := e.svc.Get(ctx, e.org, "crm"); v.Warehouse != "s3://"+b.name {
			t.Fatalf("a refused migration switched the connector to %s", v.Warehouse)
		}
		managedDir := filepath.Join(e.dir, "warehouse", e.org.ID, "crm", "events")
		if _, err := os.Stat(managedDir); !errors.Is(err, os.ErrNotExist) {
			t.Fatalf("the refused table was written to managed storage (%s): %v", managedDir, err)
		}
		if len(b.objects(t, "crm/")) == 0 {
			t.Fatal("--delete-source deleted the bucket's copy of a migration that failed")
		}
	}
	sameIDs(t, "the other organization's tables", e.allIDsIn(globex), victimIDs)
	if got := e.metadataLocations(globex); !maps.Equal(got, victimLocs) {
		t.Fatalf("the other organization's tables moved: %v, were %v", got, victimLocs)
	}
	if got := treeOf(t, victimDir); !maps.Equal(got, victimFiles) {
		t.Fatalf("the other organization's files changed")
	}

	// Repaired, the migration resumes and finishes, then deletes only crm/.
	b.put(t, key, orig)
	rep, err := e.migrator().Migrate(ctx, e.org, migration.Options{DeleteSource: true})
	if err != nil || rep.Connectors[0].State != store.MigrationDone {
		t.Fatalf("the repaired migration: %v\n%+v", err, rep)
	}
	sameIDs(t, "after the repaired migration", e.allIDs(), before)
	if keys := b.objects(t, "crm/"); len(keys) != 0 {
		t.Fatalf("--delete-source left %v", keys)
	}
	if keys := b.objects(t, "keep/"); len(keys) != 1 {
		t.Fatalf("--delete-source touched keep/: %v", keys)
	}
	sameIDs(t, "the other organization's tables at the end", e.allIDsIn(globex), victimIDs)
	if got := treeOf(t, victimDir); !maps.Equal(got, victimFiles) {
		t.Fatalf("the other organization's files changed")
	}
	if r := e.syncIn(globex, "crm"); r.Status != store.RunSucceeded || streamRecords(t, r, "events") != 500 {
		t.Fatalf("the other organization's next sync: %+v", r)
	}
}

// Hostile organization: an admin of globex saves acme's bucket as globex's storage
// and migrates globex's crm there, onto acme's crm/ prefix. The owner marker refuses
// it: globex's connector stays where it was, and not one of acme's objects changes.
func TestMigrateRefusesAPrefixAnotherOrganizationOwns(t *testing.T) {
	e := newEnv(t)
	ctx := context.Background()
	b := newCustomerBucket(t, nil)
	if _, err := e.locs.Save(ctx, e.org, b.setting, time.Now()); err != nil {
		t.Fatal(err)
	}
	e.createCRM(e.org)
	acmeIDs, acmeObjects := e.allIDs(), b.objects(t, "")

	globex, _, err := tenant.CreateOrg(ctx, e.st, "globex", false)
	if err != nil {
		t.Fatal(err)
	}
	g := e.createCRM(globex)
	globexIDs := e.allIDsIn(globex)
	if _, err := e.locs.Save(ctx, globex, b.setting, time.Now()); err != nil {
		t.Fatal(err)
	}
	rep, err := e.migrator().Migrate(ctx, globex, migration.Options{DeleteSource: true})
	if !errors.Is(err, owner.ErrOwnedByAnother) || rep.Connectors[0].State != store.MigrationFailed {
		t.Fatalf("globex migrating onto acme's prefix: %v, want ErrOwnedByAnother\n%+v", err, rep)
	}
	if got := b.objects(t, ""); !maps.Equal(got, acmeObjects) {
		added, changed := []string{}, []string{}
		for k, v := range got {
			if w, ok := acmeObjects[k]; !ok {
				added = append(added, k)
			} else if w != v {
				changed = append(changed, k)
			}
		}
		slices.Sort(added)
		t.Fatalf("acme's bucket changed: %d objects before, %d after; added %v, changed %v", len(acmeObjects), len(got), added, changed)
	}
	if v, _ := e.svc.Get(ctx, globex, "crm"); v.Warehouse != g.Warehouse {
		t.Fatalf("globex's connector moved to %s", v.Warehouse)
	}
	sameIDs(t, "acme's tables", e.allIDs(), acmeIDs)
	sameIDs(t, "globex's tables", e.allIDsIn(globex), globexIDs)
}

// treeOf maps every file under dir to its size and modification time.
func treeOf(t *testing.T, dir string) map[string]string {
	t.Helper()
	out := map[string]string{}
	err := filepath.WalkDir(dir, func(p string, d os.DirEntry, err error) error {
		if err != nil || d.IsDir() {
			return err
		}
		fi, err := d.Info()
		if err != nil {
			return err
		}
		out[p] = fmt.Sprint(fi.ModTime(), fi.Size())
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	return out
}

// A migration running for a connector refuses its syncs with a clear message.
func TestSyncRefusedWhileMigrating(t *testing.T) {
	e := newEnv(t)
	ctx := context.Background()
	v, err := e.svc.Create(ctx, e.org, connector.CreateRequest{Name: "crm", Source: "sample", Config: []byte(sampleConfig),
		Streams: []string{"events:incremental:append"}})
	if err != nil {
		t.Fatal(err)
	}
	if err := e.st.PutMigration(ctx, store.Migration{OrgID: e.org.ID, ConnectorID: v.ID, Source: v.Warehouse, Target: "s3://elsewhere",
		State: store.MigrationRunning, StartedAt: time.Now()}); err != nil {
		t.Fatal(err)
	}
	if _, err := e.svc.StartSync(ctx, e.org, "crm"); !errors.Is(err, connector.ErrMigrating) || !strings.Contains(err.Error(), "storage migrate") {
		t.Fatalf("sync while migrating: %v, want ErrMigrating", err)
	}
}

// A migration waits for a sync of its connector that is running (a run already under
// way when the storage changed) before it copies anything, and a second migration of
// the organization is refused while the first runs; once the run ends the migration
// moves the connector.
func TestMigrateWaitsForARunningSync(t *testing.T) {
	e := newEnv(t)
	ctx := context.Background()
	c, before, b := e.crmThenBucket(nil)
	// A run of crm that is still running (its worker writes to the old storage).
	run := store.Run{ID: "run_still_running", OrgID: e.org.ID, ConnectorID: c.ID, Status: store.RunRunning,
		CreatedAt: time.Now().UTC(), StartedAt: time.Now().UTC()}
	if err := e.st.CreateRun(ctx, run); err != nil {
		t.Fatal(err)
	}
	mig := &migration.Service{Store: e.st, Storage: e.locs, Catalog: e.svc.Catalog, Poll: 20 * time.Millisecond, IdleWait: time.Minute}
	type outcome struct {
		rep migration.Report
		err error
	}
	done := make(chan outcome, 1)
	go func() {
		rep, err := mig.Migrate(ctx, e.org, migration.Options{})
		done <- outcome{rep, err}
	}()
	deadline := time.Now().Add(30 * time.Second)
	for {
		if m, err := e.st.Migration(ctx, e.org.ID, c.ID); err == nil && m.State == store.MigrationRunning {
			break
		}
		if time.Now().After(deadline) {
			t.Fatal("the migration never started")
		}
		time.Sleep(10 * time.Millisecond)
	}
	time.Sleep(200 * time.Millisecond) // ten looks at the run
	select {
	case o := <-done:
		t.Fatalf("the migration did not wait for the running sync: %v\n%+v", o.err, o.rep)
	default:
	}
	if len(b.objects(t, "crm/")) != 0 {
		t.Fatal("the migration copied while a sync of the connector was running")
	}
	if _, err := mig.Migrate(ctx, e.org, migration.Options{}); !errors.Is(err, migration.ErrRunning) {
		t.Fatalf("a second migration of the organization: %v, want ErrRunning", err)
	}
	run.Status, run.FinishedAt = store.RunSucceeded, time.Now().UTC()
	if err := e.st.UpdateRun(ctx, run); err != nil {
		t.Fatal(err)
	}
	o := <-done
	if o.err != nil || o.rep.Connectors[0].State != store.MigrationDone {
		t.Fatalf("the migration after the run ended: %v\n%+v", o.err, o.rep)
	}
	sameIDs(t, "after the migration that waited", e.allIDs(), before)
}

// cutBackend is a catalog backend whose RegisterTable of table name fails while cut
// is set: a migration stopped between forgetting a table at its old place and
// registering it at the new one.
type cutBackend struct {
	catalog.Backend
	name string
	cut  *atomic.Bool
}

func (b cutBackend) Open(ctx context.Context, name string, props iceberg.Properties) (catalog.Catalog, error) {
	c, err := b.Backend.Open(ctx, name, props)
	if err != nil {
		return nil, err
	}
	return cutCatalog{Catalog: c, b: b}, nil
}

type cutCatalog struct {
	catalog.Catalog
	b cutBackend
}

func (c cutCatalog) RegisterTable(ctx context.Context, id table.Identifier, metadataLocation string) (*table.Table, error) {
	if c.b.cut.Load() && id[len(id)-1] == c.b.name {
		return nil, errors.New("cut by the test between the drop and the register")
	}
	return c.Catalog.RegisterTable(ctx, id, metadataLocation)
}

// The narrowest window: a migration stops after the catalog forgot a table and before
// it registered the copy. The progress kept before the drop lets the next run register
// it; nothing is lost and syncs go on incrementally.
func TestMigrateResumesBetweenDropAndRegister(t *testing.T) {
	e := newEnv(t)
	ctx := context.Background()
	c, before, _ := e.crmThenBucket(nil)
	var cut atomic.Bool
	cut.Store(true)
	mig := &migration.Service{Store: e.st, Storage: e.locs, Catalog: cutBackend{Backend: e.svc.Catalog, name: "events", cut: &cut}, Poll: 20 * time.Millisecond}
	if rep, err := mig.Migrate(ctx, e.org, migration.Options{}); err == nil || !strings.Contains(err.Error(), "cut by the test") {
		t.Fatalf("the cut migration: %v\n%+v", err, rep)
	}
	var n int
	if err := e.st.DB().QueryRowContext(ctx, `SELECT count(*) FROM iceberg_tables WHERE catalog_name = ? AND table_name = 'events'`, e.org.ID).Scan(&n); err != nil || n != 0 {
		t.Fatalf("crm.events is in the catalog %d times (%v), want 0: the cut falls between the drop and the register", n, err)
	}
	var recs []migration.TableReport
	if err := json.Unmarshal(e.migrationOf(e.org, c.ID).Tables, &recs); err != nil {
		t.Fatal(err)
	}
	if i := slices.IndexFunc(recs, func(r migration.TableReport) bool { return r.Name == "events" }); i < 0 || recs[i].MetadataLocation == "" || recs[i].Registered {
		t.Fatalf("the kept progress of events: %+v, want its copy's metadata, not registered", recs)
	}
	cut.Store(false)
	rep, err := mig.Migrate(ctx, e.org, migration.Options{})
	if err != nil || rep.Connectors[0].State != store.MigrationDone || len(rep.Connectors[0].Tables) != 3 {
		t.Fatalf("the resumed migration: %v\n%+v", err, rep)
	}
	sameIDs(t, "after resuming between the drop and the register", e.allIDs(), before)
	if r := e.sync("crm"); r.Status != store.RunSucceeded || streamRecords(t, r, "events") != 500 {
		t.Fatalf("the next sync: %+v, want the 500 new events only", r)
	}
}

// Bucket → another bucket: the first bucket stays reachable through the setting saved
// for it (the organization's storage is the second one now), every row moves, the next
// sync fetches only new records, and --delete-source empties only crm/ in the first.
func TestMigrateBucketToBucket(t *testing.T) {
	e := newEnv(t)
	ctx := context.Background()
	first, second := newCustomerBucket(t, nil), newCustomerBucket(t, nil)
	if _, err := e.locs.Save(ctx, e.org, first.setting, time.Now()); err != nil {
		t.Fatal(err)
	}
	e.createCRM(e.org)
	before := e.allIDs()
	if _, err := e.locs.Save(ctx, e.org, second.setting, time.Now()); err != nil {
		t.Fatal(err)
	}
	rep, err := e.migrator().Migrate(ctx, e.org, migration.Options{DeleteSource: true})
	if err != nil || rep.Connectors[0].State != store.MigrationDone || rep.Connectors[0].From != "s3://"+first.name ||
		rep.Connectors[0].SourceObjectsDeleted == 0 {
		t.Fatalf("bucket to bucket: %v\n%+v", err, rep)
	}
	for name, loc := range e.metadataLocations(e.org) {
		if !strings.HasPrefix(loc, "s3://"+second.name+"/crm/"+name+"/metadata/") {
			t.Fatalf("crm.%s is at %s, want in the second bucket", name, loc)
		}
	}
	sameIDs(t, "in the second bucket", e.allIDs(), before)
	if keys := first.objects(t, ""); len(keys) != 1 || keys["keep/me.txt"] == "" {
		t.Fatalf("the first bucket after --delete-source: %v, want only keep/me.txt", keys)
	}
	if r := e.sync("crm"); r.Status != store.RunSucceeded || streamRecords(t, r, "events") != 500 {
		t.Fatalf("the next sync: %+v, want the 500 new events only", r)
	}
}
