package main

import (
	"context"
	"encoding/json"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/s3"

	"github.com/lakeport/lakeport/client"
	"github.com/lakeport/lakeport/migration"
	"github.com/lakeport/lakeport/s3test"
	"github.com/lakeport/lakeport/store"
)

// `lakeport storage migrate` on a real server: the sample connector moves from
// managed storage to a customer's bucket and back (--delete-source), through the API
// and the CLI; every row stays, and the sync after each move fetches only the next
// 1000 events.
func TestStorageMigrateCommand(t *testing.T) {
	ctx := context.Background()
	url, dir := startServerWith(t, true)
	tok, _ := os.ReadFile(filepath.Join(dir, "admin.token"))
	c := client.New(url, strings.TrimSpace(string(tok)))
	waitUntil(t, "the sample's first sync", func() bool {
		runs, err := c.Runs(ctx, "sample", 1)
		return err == nil && len(runs) == 1 && runs[0].Status == store.RunSucceeded
	})
	countEvents := func(want string) {
		t.Helper()
		out, code := run(t, url, dir, "query", "SELECT count(*), count(DISTINCT id) FROM sample.events", "--format", "csv")
		if code != 0 || !strings.Contains(out, want) {
			t.Fatalf("events = %q (exit %d), want %s", out, code, want)
		}
	}
	syncOnlyNew := func(when string) {
		t.Helper()
		r, err := c.StartSync(ctx, "sample")
		if err != nil {
			t.Fatalf("sync %s: %v", when, err)
		}
		r = waitRun(t, c, r.ID)
		var streams map[string]struct{ Records int64 }
		if err := json.Unmarshal(r.Streams, &streams); r.Status != store.RunSucceeded || err != nil || streams["events"].Records != 1000 {
			t.Fatalf("the sync %s: %s %s, events fetched %d, want the next 1000 only", when, r.Status, r.Error, streams["events"].Records)
		}
	}
	countEvents("1000,1000")

	srv := s3test.Shared(t)
	ak, sk := s3test.RandomKey("cm"), s3test.RandomKey("secret")
	srv.CreateUser(t, ak, sk)
	bucket := srv.NewBucket(t, "climig")
	srv.ChangeBucketOwner(t, bucket, ak)
	if out, code := run(t, url, dir, "storage", "save", "--bucket", bucket, "--region", srv.Region, "--endpoint", srv.Endpoint,
		"--access-key-id", ak, "--secret-access-key", sk); code != 0 {
		t.Fatalf("storage save: %s", out)
	}
	if out, code := run(t, url, dir, "connector", "sync", "sample"); code == 0 || !strings.Contains(out, "lakeport storage migrate") {
		t.Fatalf("a sync before the migration: exit %d\n%s\nwant refused, pointing at lakeport storage migrate", code, out)
	}
	out, code := run(t, url, dir, "storage", "migrate")
	if code != 0 || !strings.Contains(out, "sample") || !strings.Contains(out, "done: ") || !strings.Contains(out, "s3://"+bucket) ||
		!strings.Contains(out, "registered at s3://"+bucket+"/sample/events/metadata/") {
		t.Fatalf("storage migrate: exit %d\n%s", code, out)
	}
	t.Logf("storage migrate:\n%s", out)
	v, err := c.Connector(ctx, "sample")
	if err != nil || v.Warehouse != "s3://"+bucket {
		t.Fatalf("after the migration the connector is at %s, %v", v.Warehouse, err)
	}
	countEvents("1000,1000")
	syncOnlyNew("in the bucket")
	countEvents("2000,2000")

	if out, code := run(t, url, dir, "storage", "use-managed"); code != 0 {
		t.Fatalf("storage use-managed: %s", out)
	}
	out, code = run(t, url, dir, "storage", "migrate", "--delete-source", "--json")
	var rep migration.Report
	if err := json.Unmarshal([]byte(out), &rep); code != 0 || err != nil || len(rep.Connectors) != 1 {
		t.Fatalf("storage migrate --delete-source --json: exit %d, %v\n%s", code, err, out)
	}
	cr := rep.Connectors[0]
	if cr.State != store.MigrationDone || cr.From != "s3://"+bucket || cr.SourceObjectsDeleted == 0 || len(cr.Tables) != 3 {
		t.Fatalf("the report of the way back: %+v", cr)
	}
	list, err := srv.Client().ListObjectsV2(ctx, &s3.ListObjectsV2Input{Bucket: aws.String(bucket), Prefix: aws.String("sample/")})
	if err != nil || len(list.Contents) != 0 {
		t.Fatalf("--delete-source left %d objects under sample/ (%v)", len(list.Contents), err)
	}
	countEvents("2000,2000")
	syncOnlyNew("back in managed storage")
	countEvents("3000,3000")

	// Nothing left to move: a second run says so.
	out, code = run(t, url, dir, "storage", "migrate")
	if code != 0 || !strings.Contains(out, migration.StateAlreadyThere) {
		t.Fatalf("storage migrate with nothing to move: exit %d\n%s", code, out)
	}
	// Members may not migrate.
	member, err := c.CreateToken(ctx, store.RoleMember)
	if err != nil {
		t.Fatal(err)
	}
	if out, code := run(t, url, dir, "--token", member.Token, "storage", "migrate"); code == 0 {
		t.Fatalf("a member ran storage migrate: %s", out)
	}
}
