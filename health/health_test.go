package health_test

import (
	"context"
	"errors"
	"io"
	"log/slog"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/s3"

	sqlcatalog "github.com/lakeport/lakeport/catalog/sql"
	"github.com/lakeport/lakeport/connector"
	"github.com/lakeport/lakeport/health"
	"github.com/lakeport/lakeport/jobs"
	"github.com/lakeport/lakeport/netguard"
	"github.com/lakeport/lakeport/s3test"
	"github.com/lakeport/lakeport/secrets"
	"github.com/lakeport/lakeport/storage"
	"github.com/lakeport/lakeport/store"
	"github.com/lakeport/lakeport/store/sqlite"
	"github.com/lakeport/lakeport/tenant"
)

func TestMain(m *testing.M) { os.Exit(s3test.Main(m)) }

// A bucket that starts failing its check pauses the organization's syncs, with the cause
// in the run history; once it passes again, syncs resume.
func TestFailingBucketPausesSyncs(t *testing.T) {
	ctx := context.Background()
	dir := t.TempDir()
	st, err := sqlite.Open(ctx, filepath.Join(dir, "lakeport.db"))
	if err != nil {
		t.Fatal(err)
	}
	defer st.Close()
	key, _ := secrets.LoadOrCreateKey("", filepath.Join(dir, "secret.key"))
	box, _ := secrets.NewBox(key)
	org, _, _ := tenant.CreateOrg(ctx, st, "acme", false)
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
	q.Start(ctx)
	defer q.Stop(ctx)

	srv := s3test.Shared(t)
	ak, sk := s3test.RandomKey("hl"), s3test.RandomKey("secret")
	srv.CreateUser(t, ak, sk)
	bucket := srv.NewBucket(t, "health")
	srv.ChangeBucketOwner(t, bucket, ak)
	if _, err := locs.Save(ctx, org, storage.Setting{Bucket: bucket, Region: srv.Region, Endpoint: srv.Endpoint,
		AccessKeyID: ak, SecretAccessKey: sk}, time.Now()); err != nil {
		t.Fatal(err)
	}
	if _, err := svc.Create(ctx, org, connector.CreateRequest{Name: "crm", Source: "sample", Config: []byte(`{"events": 50, "customers": 5, "invoices": 5}`)}); err != nil {
		t.Fatal(err)
	}
	checker := &health.Checker{Store: st, Storage: locs, StepTimeout: 5 * time.Second, Logger: logger}

	if h, err := checker.Check(ctx, org.ID); err != nil || !h.OK {
		t.Fatalf("healthy bucket: %+v, %v", h, err)
	}
	// Deny writes to everyone but root.
	srv.PutBucketPolicy(t, bucket, `{"Version":"2012-10-17","Statement":[
		{"Effect":"Allow","Principal":{"AWS":["`+ak+`"]},"Action":["s3:*"],"Resource":["arn:aws:s3:::`+bucket+`","arn:aws:s3:::`+bucket+`/*"]},
		{"Effect":"Deny","Principal":{"AWS":["`+ak+`"]},"Action":["s3:PutObject"],"Resource":["arn:aws:s3:::`+bucket+`/*"]}]}`)
	h, err := checker.Check(ctx, org.ID)
	if err != nil || h.OK || h.Cause == "" || !strings.Contains(h.Message, "put_object") {
		t.Fatalf("bucket denying writes: %+v, %v; want a failing check naming put_object", h, err)
	}
	_, err = svc.StartSync(ctx, org, "crm")
	if !errors.Is(err, connector.ErrStoragePaused) {
		t.Fatalf("sync while the bucket fails its check: %v, want ErrStoragePaused", err)
	}
	runs, _ := svc.Runs(ctx, org, "crm", 5)
	if len(runs) == 0 || runs[0].Status != store.RunFailed || !strings.Contains(runs[0].Error, "paused") || !strings.Contains(runs[0].Error, h.Cause) {
		t.Fatalf("the pause is not in the run history: %+v", runs)
	}
	list, _ := srv.Client().ListObjectsV2(ctx, &s3.ListObjectsV2Input{Bucket: aws.String(bucket), Prefix: aws.String("crm/")})
	for _, o := range list.Contents {
		if strings.Contains(aws.ToString(o.Key), "/data/") {
			t.Fatalf("data was written to a bucket that failed its check: %s", aws.ToString(o.Key))
		}
	}

	// Fixed: the next check passes and syncs resume.
	if _, err := srv.Client().DeleteBucketPolicy(ctx, &s3.DeleteBucketPolicyInput{Bucket: aws.String(bucket)}); err != nil {
		t.Fatal(err)
	}
	if h, err := checker.Check(ctx, org.ID); err != nil || !h.OK {
		t.Fatalf("after the fix: %+v, %v", h, err)
	}
	run, err := svc.StartSync(ctx, org, "crm")
	if err != nil {
		t.Fatalf("sync after the bucket passes again: %v", err)
	}
	for deadline := time.Now().Add(30 * time.Second); run.Status == store.RunQueued || run.Status == store.RunRunning; {
		if time.Now().After(deadline) {
			t.Fatal("sync did not finish")
		}
		time.Sleep(50 * time.Millisecond)
		run, _ = svc.Run(ctx, org, run.ID)
	}
	if run.Status != store.RunSucceeded {
		t.Fatalf("sync after resuming: %+v", run)
	}
}
