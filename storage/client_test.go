package storage_test

import (
	"context"
	"errors"
	"io"
	"os"
	"strings"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/credentials"
	"github.com/aws/aws-sdk-go-v2/service/s3"

	"github.com/lakeport/lakeport/s3test"
	"github.com/lakeport/lakeport/storage"
)

func TestMain(m *testing.M) { os.Exit(s3test.Main(m)) }

func roundTrip(t *testing.T, c *s3.Client, bucket string) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	if _, err := c.PutObject(ctx, &s3.PutObjectInput{Bucket: aws.String(bucket), Key: aws.String("t/x.txt"), Body: strings.NewReader("hello")}); err != nil {
		t.Fatalf("put: %v", err)
	}
	out, err := c.GetObject(ctx, &s3.GetObjectInput{Bucket: aws.String(bucket), Key: aws.String("t/x.txt")})
	if err != nil {
		t.Fatalf("get: %v", err)
	}
	b, _ := io.ReadAll(out.Body)
	out.Body.Close()
	if string(b) != "hello" {
		t.Fatalf("read %q", b)
	}
}

func TestNewS3ClientAccessKeys(t *testing.T) {
	s := s3test.Shared(t)
	bucket := s.NewBucket(t, "keys")
	ak, sk := s3test.RandomKey("ak"), s3test.RandomKey("sk")
	s.CreateUser(t, ak, sk)
	s.ChangeBucketOwner(t, bucket, ak)

	c, err := storage.NewS3Client(context.Background(), storage.Setting{Bucket: bucket, Region: s.Region, Endpoint: s.Endpoint, AccessKeyID: ak, SecretAccessKey: sk}, storage.Access{})
	if err != nil {
		t.Fatal(err)
	}
	roundTrip(t, c, bucket)
}

func TestNewS3ClientRejectsInvalidSetting(t *testing.T) {
	_, err := storage.NewS3Client(context.Background(), storage.Setting{Bucket: "x"}, storage.Access{})
	var se *storage.SettingError
	if !errors.Is(err, storage.ErrInvalidSetting) || !errors.As(err, &se) || len(se.Fields) == 0 {
		t.Fatalf("err = %v, want a SettingError", err)
	}
}

func TestNewS3ClientAssumesRole(t *testing.T) {
	s := s3test.Shared(t)
	bucket := s.NewBucket(t, "role")
	ak, sk := s3test.RandomKey("ak"), s3test.RandomKey("sk")
	s.CreateUser(t, ak, sk)
	s.ChangeBucketOwner(t, bucket, ak)

	const role = "arn:aws:iam::123456789012:role/lakeport-access"
	fake := s3test.NewSTS(t)
	fake.AddRole(s3test.Role{ARN: role, ExternalID: "org-ext-id-1", Trusted: []string{"PLATFORMKEY"}, AccessKey: ak, SecretKey: sk})

	setting := storage.Setting{Bucket: bucket, Region: "us-east-1", RoleARN: role}
	access := storage.Access{
		ExternalID:  "org-ext-id-1",
		SessionName: "lakeport-org-1",
		STSEndpoint: fake.URL,
		Credentials: credentials.NewStaticCredentialsProvider("PLATFORMKEY", "platform-secret", ""),
	}
	c, err := storage.NewS3Client(context.Background(), setting, access, func(o *s3.Options) {
		o.BaseEndpoint = aws.String(s.Endpoint)
		o.UsePathStyle = true
		o.RequestChecksumCalculation = aws.RequestChecksumCalculationWhenRequired
		o.ResponseChecksumValidation = aws.ResponseChecksumValidationWhenRequired
	}, s3test.IgnoreSessionToken)
	if err != nil {
		t.Fatal(err)
	}
	roundTrip(t, c, bucket)
	roundTrip(t, c, bucket)

	reqs := fake.Requests()
	if len(reqs) != 1 {
		t.Fatalf("STS called %d times for four S3 calls, want once (cached)", len(reqs))
	}
	f := reqs[0].Form
	if f.Get("ExternalId") != "org-ext-id-1" || f.Get("RoleSessionName") != "lakeport-org-1" || f.Get("RoleArn") != role {
		t.Errorf("AssumeRole form = %v", f)
	}
	if f.Get("DurationSeconds") != "3600" {
		t.Errorf("DurationSeconds = %q, want 3600", f.Get("DurationSeconds"))
	}

	// A wrong external ID: the S3 call fails while getting credentials.
	access.ExternalID = "another-org"
	c, err = storage.NewS3Client(context.Background(), setting, access, func(o *s3.Options) {
		o.BaseEndpoint = aws.String(s.Endpoint)
		o.UsePathStyle = true
	})
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	if _, err := c.HeadBucket(ctx, &s3.HeadBucketInput{Bucket: aws.String(bucket)}); err == nil || !strings.Contains(err.Error(), "AccessDenied") {
		t.Fatalf("HeadBucket with a wrong external ID: %v, want AccessDenied from STS", err)
	}
}

func TestNewS3ClientRejectsBadAccess(t *testing.T) {
	setting := storage.Setting{Bucket: "acme-data", Region: "us-east-1", RoleARN: "arn:aws:iam::123456789012:role/x"}
	_, err := storage.NewS3Client(context.Background(), setting, storage.Access{ExternalID: "", Credentials: credentials.NewStaticCredentialsProvider("a", "b", "")})
	if !errors.Is(err, storage.ErrInvalidAccess) {
		t.Fatalf("err = %v, want ErrInvalidAccess for a missing external ID", err)
	}
}
