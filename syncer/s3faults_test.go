package syncer_test

import (
	"context"
	"encoding/json"
	"fmt"
	"path/filepath"
	"sort"
	"strconv"
	"strings"
	"testing"

	"github.com/apache/iceberg-go"
	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/s3"

	"github.com/lakeport/lakeport/lake"
	"github.com/lakeport/lakeport/s3test"
	"github.com/lakeport/lakeport/s3test/faults"
	"github.com/lakeport/lakeport/source"
	"github.com/lakeport/lakeport/store/sqlite"
	"github.com/lakeport/lakeport/syncer"
)

// s3Lake opens a lake whose warehouse is a versitygw bucket reached through the fault
// proxy.
func s3Lake(t *testing.T, srv *s3test.Server, bucket, endpoint string) *lake.Lake {
	t.Helper()
	ctx := context.Background()
	st, err := sqlite.Open(ctx, filepath.Join(t.TempDir(), "lakeport.db"))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { st.Close() })
	l, err := lake.Open(ctx, lake.Config{DB: st.DB(), CatalogName: "org_faults", Warehouse: "s3://" + bucket,
		Props: iceberg.Properties{lake.PropS3Endpoint: endpoint, lake.PropS3AccessKeyID: srv.AccessKey, lake.PropS3SecretAccessKey: srv.SecretKey,
			lake.PropS3Region: srv.Region, lake.PropS3ForceVirtualAddressing: "false"}})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { l.Close() })
	return l
}

// S3 faults while syncing and committing: every sync either finishes or fails with an
// error that names the storage failure; syncing again with the faults gone ends with
// exactly the source's records (every event id once); and no metadata of the table
// points at a missing file.
func TestS3FaultsWhileSyncing(t *testing.T) {
	srv := s3test.Start(t)
	bucket := srv.NewBucket(t, "faults")
	proxy, err := faults.Start(srv.Endpoint)
	if err != nil {
		t.Fatal(err)
	}
	defer proxy.Close()
	l := s3Lake(t, srv, bucket, proxy.URL)
	src, err := source.Open("sample")
	if err != nil {
		t.Fatal(err)
	}
	cfg := json.RawMessage(`{"seed": 4, "customers": 0, "invoices": 0, "events": 3000, "state_every": 50}`)
	disc, err := src.Discover(context.Background(), cfg)
	if err != nil {
		t.Fatal(err)
	}
	cat, err := syncer.Select(disc, []string{"events:incremental:append"})
	if err != nil {
		t.Fatal(err)
	}
	n := 0
	sync := func() (syncer.Result, error) {
		n++
		return syncer.Run(context.Background(), syncer.Job{Source: src, Config: cfg, Catalog: cat, Lake: l, Namespace: "app",
			Location: "s3://" + bucket + "/app", SyncID: fmt.Sprintf("sync-%d", n)}, syncer.Options{BatchRows: 500})
	}
	// Transient faults, a few of each kind: the SDK's retries should carry the sync.
	// Persistent ones: the sync must fail, saying why.
	rounds := []struct {
		name       string
		rules      []faults.Rule
		mustFail   bool
		mentioning []string
	}{
		{name: "transient 500s and 503s on data and metadata writes", rules: []faults.Rule{
			{Kind: faults.InternalError, Method: "PUT", Key: `/data/`, After: 1, Times: 2},
			{Kind: faults.SlowDown, Method: "PUT", Key: `/metadata/`, After: 2, Times: 2},
			{Kind: faults.SlowDown, Method: "GET", Key: `\.avro$`, Times: 1},
		}},
		{name: "latency on every request", rules: []faults.Rule{{Kind: faults.Latency, Delay: 5e6}}},
		{name: "a reset mid-upload and a truncated metadata read", rules: []faults.Rule{
			{Kind: faults.ResetMidBody, Method: "PUT", Key: `/data/`, After: 1, Times: 1},
			{Kind: faults.Truncate, Method: "GET", Key: `/metadata/.*\.json$`, After: 1, Times: 1},
		}},
		{name: "every data write fails", mustFail: true, mentioning: []string{"events"}, rules: []faults.Rule{
			{Kind: faults.InternalError, Method: "PUT", Key: `/data/`, After: 2},
		}},
		{name: "every metadata write is cut", mustFail: true, mentioning: []string{"events"}, rules: []faults.Rule{
			{Kind: faults.ResetMidBody, Method: "PUT", Key: `/metadata/`, After: 1},
		}},
	}
	for _, round := range rounds {
		if err := proxy.Set(round.rules...); err != nil {
			t.Fatal(err)
		}
		_, err := sync()
		t.Logf("%s: faults %v, sync error: %v", round.name, proxy.Faulted(), err)
		if round.mustFail && err == nil {
			t.Fatalf("%s: the sync succeeded", round.name)
		}
		if err != nil {
			for _, m := range round.mentioning {
				if !strings.Contains(err.Error(), m) {
					t.Errorf("%s: error %q does not mention %q", round.name, err, m)
				}
			}
		}
		proxy.Set()
		checkNoDanglingMetadata(t, srv, l, bucket, "app", "events")
	}
	if _, err := sync(); err != nil {
		t.Fatalf("the sync with the faults gone: %v", err)
	}
	ids := column(t, l, "app", "events", "id")
	nums := make([]int, len(ids))
	for i, s := range ids {
		nums[i], _ = strconv.Atoi(s)
	}
	sort.Ints(nums)
	for i, v := range nums {
		if v != i+1 {
			t.Fatalf("events: position %d holds id %d: a record was lost or written twice (%d rows)", i, v, len(nums))
		}
	}
	if len(nums) == 0 || len(nums)%3000 != 0 {
		t.Fatalf("events: %d rows, want whole syncs of 3000", len(nums))
	}
	checkNoDanglingMetadata(t, srv, l, bucket, "app", "events")
}

// checkNoDanglingMetadata reads the table's metadata straight from the server (no
// proxy) and checks that every snapshot's manifest list and every data file of the
// current snapshot exists.
func checkNoDanglingMetadata(t *testing.T, srv *s3test.Server, l *lake.Lake, bucket, ns, name string) {
	t.Helper()
	ctx := context.Background()
	tbl, err := l.LoadTable(ctx, ns, name)
	if err != nil {
		return // not created yet
	}
	cli := srv.Client()
	exists := func(loc string) bool {
		key := strings.TrimPrefix(loc, "s3://"+bucket+"/")
		_, err := cli.HeadObject(ctx, &s3.HeadObjectInput{Bucket: aws.String(bucket), Key: aws.String(key)})
		return err == nil
	}
	md := tbl.Iceberg().Metadata()
	for _, snap := range md.Snapshots() {
		if !exists(snap.ManifestList) {
			t.Fatalf("snapshot %d's manifest list %s is missing", snap.SnapshotID, snap.ManifestList)
		}
	}
	if md.CurrentSnapshot() == nil {
		return
	}
	tasks, err := tbl.Iceberg().Scan().PlanFiles(ctx)
	if err != nil {
		t.Fatalf("plan the table's files: %v", err)
	}
	for _, task := range tasks {
		if p := task.File.FilePath(); !exists(p) {
			t.Fatalf("the current snapshot names data file %s, which is missing", p)
		}
	}
}
