package connector_test

import (
	"context"
	"path"
	"strings"
	"testing"
	"time"

	"github.com/lakeport/lakeport/connector"
	"github.com/lakeport/lakeport/s3test"
	"github.com/lakeport/lakeport/storage"
	"github.com/lakeport/lakeport/store"
	"github.com/lakeport/lakeport/validation"
)

// With a KMS key set, every object lakeport writes carries SSE-KMS with it: Test
// connection's objects (both principals), the owner marker, and every data file,
// manifest, manifest list and metadata file of two syncs. A recording proxy in front
// of versitygw refuses any write without the headers, which fails the run.
func TestKMSOnEveryObject(t *testing.T) {
	const key = "arn:aws:kms:us-east-1:123456789012:key/1234abcd-12ab-34cd-56ef-1234567890ab"
	e := newEnv(t)
	ctx := context.Background()
	srv := s3test.Shared(t)
	ak, sk := s3test.RandomKey("kms"), s3test.RandomKey("secret")
	srv.CreateUser(t, ak, sk)
	bucket := srv.NewBucket(t, "kms")
	srv.ChangeBucketOwner(t, bucket, ak)
	rec := s3test.NewRecorder(t, srv.Endpoint, s3test.RequireSSEKMS(key))
	set := storage.Setting{Bucket: bucket, Region: srv.Region, Endpoint: rec.URL, AccessKeyID: ak, SecretAccessKey: sk, KMSKeyARN: key}

	o := validation.For(e.locs, e.org)
	o.StepTimeout = 10 * time.Second
	if r := validation.Run(ctx, set, o); !r.OK {
		t.Fatalf("Test connection: %+v", r)
	}
	if _, err := e.locs.Save(ctx, e.org, set, time.Now()); err != nil {
		t.Fatal(err)
	}
	if _, err := e.svc.Create(ctx, e.org, connector.CreateRequest{Name: "crm", Source: "sample", Config: []byte(sampleConfig),
		Streams: []string{"customers", "events:incremental:append"}}); err != nil {
		t.Fatal(err)
	}
	for i := range 2 {
		if r := e.sync("crm"); r.Status != store.RunSucceeded {
			t.Fatalf("sync %d: %+v", i+1, r)
		}
	}

	kinds := map[string]int{}
	for _, r := range rec.Requests() {
		if r.Refused != "" {
			t.Errorf("refused: %s", r.Refused)
		}
		switch op := r.Op(); op {
		case "PutObject", "CreateMultipartUpload", "CopyObject":
			kinds[kindOf(r.Key)]++
		}
	}
	for _, k := range []string{"validation object (platform)", "validation object (workers)", "owner marker", "data file", "manifest", "manifest list", "table metadata"} {
		if kinds[k] == 0 {
			t.Errorf("no %s was written through the recorder, so its encryption went untested: %v", k, kinds)
		}
	}
	t.Logf("object writes, all with SSE-KMS: %v", kinds)
}

// kindOf names what lakeport wrote at key.
func kindOf(key string) string {
	base := path.Base(key)
	switch {
	case key == validation.ObjectKey:
		return "validation object (platform)"
	case key == validation.WorkersObjectKey:
		return "validation object (workers)"
	case base == ".lakeport-owner.json":
		return "owner marker"
	case strings.HasSuffix(base, ".parquet"):
		return "data file"
	case strings.HasSuffix(base, ".metadata.json"):
		return "table metadata"
	case strings.HasPrefix(base, "snap-") && strings.HasSuffix(base, ".avro"):
		return "manifest list"
	case strings.HasSuffix(base, ".avro"):
		return "manifest"
	}
	return "other: " + key
}
