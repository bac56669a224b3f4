package main

import (
	"context"
	"io"
	"net/http"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/s3"

	"github.com/lakeport/lakeport/client"
	"github.com/lakeport/lakeport/config"
	"github.com/lakeport/lakeport/connector"
	"github.com/lakeport/lakeport/s3test"
	"github.com/lakeport/lakeport/store"
)

// Storage-health pausing end to end, on a real server with its background checks: a
// bucket that starts refusing writes is found by the background loop; a sync queued
// before is refused when its turn comes (nothing written); the cause shows in `storage
// show` and the lakeport_storage_orgs metric (on the metrics listener); once the bucket is fixed the next
// check passes and syncs run again.
func TestStorageHealthPausesAndResumes(t *testing.T) {
	ctx := context.Background()
	maddr := freeAddr(t)
	url, dir := startServerConfig(t, func(c *config.Config) {
		c.MetricsAddr = maddr
		c.HealthInterval = 300 * time.Millisecond
		c.AllowPrivateNetworks = true // the S3 server listens on loopback
		c.SyncBatchRows = 2_000
	})
	srv := s3test.Shared(t)
	ak, sk := s3test.RandomKey("hp"), s3test.RandomKey("secret")
	srv.CreateUser(t, ak, sk)
	bucket := srv.NewBucket(t, "pause")
	srv.ChangeBucketOwner(t, bucket, ak)
	if out, code := run(t, url, dir, "storage", "save", "--bucket", bucket, "--region", srv.Region, "--endpoint", srv.Endpoint,
		"--access-key-id", ak, "--secret-access-key", sk); code != 0 {
		t.Fatalf("storage save: %s", out)
	}
	tok, _ := os.ReadFile(filepath.Join(dir, "admin.token"))
	c := client.New(url, strings.TrimSpace(string(tok)))
	bigEvents := 200_000 // long enough to still run when the check fails
	if raceEnabled {
		bigEvents = 20_000
	}
	for name, events := range map[string]int{"big": bigEvents, "small": 50} {
		if _, err := c.CreateConnector(ctx, connector.CreateRequest{Name: name, Source: "sample",
			Config:  []byte(`{"seed": 2, "customers": 0, "invoices": 0, "events": ` + strconv.Itoa(events) + `, "state_every": 500}`),
			Streams: []string{"events:incremental:append"}}); err != nil {
			t.Fatal(err)
		}
	}
	big, err := c.StartSync(ctx, "big")
	if err != nil {
		t.Fatal(err)
	}
	// The organization runs one sync at a time: small waits in the queue behind big.
	small, err := c.StartSync(ctx, "small")
	if err != nil {
		t.Fatal(err)
	}
	// The bucket starts refusing writes while small is queued: here only where the
	// check writes, so that big runs on and small's turn comes after the check failed.
	srv.PutBucketPolicy(t, bucket, `{"Version":"2012-10-17","Statement":[
		{"Effect":"Allow","Principal":{"AWS":["`+ak+`"]},"Action":["s3:*"],"Resource":["arn:aws:s3:::`+bucket+`","arn:aws:s3:::`+bucket+`/*"]},
		{"Effect":"Deny","Principal":{"AWS":["`+ak+`"]},"Action":["s3:PutObject"],"Resource":["arn:aws:s3:::`+bucket+`/.lakeport/*"]}]}`)
	waitUntil(t, "the background check to find the failing bucket", func() bool {
		v, err := c.Storage(ctx)
		return err == nil && v.Health != nil && !v.Health.OK
	})
	v, _ := c.Storage(ctx)
	if v.Health.Cause == "" || !v.Health.Paused {
		t.Fatalf("storage show after the failing check: %+v, want the cause and paused", v.Health)
	}
	if out, _ := run(t, url, dir, "storage", "show"); !strings.Contains(out, v.Health.Cause) {
		t.Fatalf("storage show does not name the cause %q:\n%s", v.Health.Cause, out)
	}
	if m := metricsText(t, "http://"+maddr); !strings.Contains(m, `lakeport_storage_orgs{state="unhealthy"} 1`) {
		t.Fatalf("the metric does not count the failing bucket:\n%s", grepLines(m, "lakeport_storage_orgs"))
	}
	// small, queued before the check failed, is refused when its turn comes (after
	// big), and writes nothing.
	if r, _ := c.Run(ctx, small.ID); r.Status != store.RunQueued {
		t.Fatalf("small is %s before big ended; want it queued behind big (one sync per organization)", r.Status)
	}
	small = waitRun(t, c, small.ID)
	if small.Status != store.RunFailed || !strings.Contains(small.Error, "paused") || !strings.Contains(small.Error, v.Health.Cause) {
		t.Fatalf("the queued sync at run time: %s %q, want refused as paused naming %s", small.Status, small.Error, v.Health.Cause)
	}
	list, _ := srv.Client().ListObjectsV2(ctx, &s3.ListObjectsV2Input{Bucket: aws.String(bucket), Prefix: aws.String("small/")})
	for _, o := range list.Contents {
		if strings.Contains(aws.ToString(o.Key), "/data/") {
			t.Fatalf("the refused sync wrote %s", aws.ToString(o.Key))
		}
	}
	waitRun(t, c, big.ID)
	if _, err := c.StartSync(ctx, "small"); err == nil {
		t.Fatal("a new sync was accepted while the bucket fails its check")
	}

	// Fixed: the background check passes again, the metric follows, syncs run.
	if _, err := srv.Client().DeleteBucketPolicy(ctx, &s3.DeleteBucketPolicyInput{Bucket: aws.String(bucket)}); err != nil {
		t.Fatal(err)
	}
	waitUntil(t, "the background check to pass again", func() bool {
		v, err := c.Storage(ctx)
		return err == nil && v.Health != nil && v.Health.OK
	})
	if m := metricsText(t, "http://"+maddr); !strings.Contains(m, `lakeport_storage_orgs{state="healthy"} 1`) ||
		!strings.Contains(m, `lakeport_storage_orgs{state="unhealthy"} 0`) {
		t.Fatalf("the metric after the fix:\n%s", grepLines(m, "lakeport_storage_orgs"))
	}
	again, err := c.StartSync(ctx, "small")
	if err != nil {
		t.Fatalf("sync after the bucket passes again: %v", err)
	}
	if again = waitRun(t, c, again.ID); again.Status != store.RunSucceeded {
		t.Fatalf("sync after resuming: %s %s", again.Status, again.Error)
	}
}

func waitUntil(t *testing.T, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(3 * time.Minute) // -race on a loaded machine is slow
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("timed out waiting for %s", what)
		}
		time.Sleep(100 * time.Millisecond)
	}
}

func waitRun(t *testing.T, c *client.Client, id string) connector.RunView {
	t.Helper()
	var r connector.RunView
	waitUntil(t, "run "+id+" to end", func() bool {
		var err error
		r, err = c.Run(context.Background(), id)
		return err == nil && r.Status != store.RunQueued && r.Status != store.RunRunning
	})
	return r
}

func metricsText(t *testing.T, url string) string {
	t.Helper()
	resp, err := http.Get(url + "/metrics")
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	return string(b)
}

func grepLines(s, sub string) string {
	var out []string
	for _, l := range strings.Split(s, "\n") {
		if strings.Contains(l, sub) {
			out = append(out, l)
		}
	}
	return strings.Join(out, "\n")
}
