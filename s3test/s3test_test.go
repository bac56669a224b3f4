package s3test_test

import (
	"context"
	"errors"
	"os"
	"strings"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/s3"
	"github.com/aws/smithy-go"

	"github.com/lakeport/lakeport/s3test"
)

func TestMain(m *testing.M) { os.Exit(s3test.Main(m)) }

func ctx(t *testing.T) context.Context {
	c, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	t.Cleanup(cancel)
	return c
}

func TestSharedServerIsReused(t *testing.T) {
	a := s3test.Shared(t)
	b := s3test.Shared(t)
	if a != b {
		t.Fatalf("Shared started two servers: %s and %s", a.Endpoint, b.Endpoint)
	}
}

func TestBinaryFound(t *testing.T) {
	p, err := s3test.Binary()
	if err != nil {
		t.Fatal(err)
	}
	if !strings.HasSuffix(p, "versitygw") {
		t.Fatalf("Binary() = %q", p)
	}
}

func TestRootCanWriteAndRead(t *testing.T) {
	s := s3test.Shared(t)
	bucket := s.NewBucket(t, "root")
	c := s.Client()
	if _, err := c.PutObject(ctx(t), &s3.PutObjectInput{Bucket: aws.String(bucket), Key: aws.String("a/b.txt"), Body: strings.NewReader("hello")}); err != nil {
		t.Fatal(err)
	}
	if !s.ObjectExists(t, bucket, "a/b.txt") {
		t.Fatal("object not listed after put")
	}
	if s.ObjectExists(t, bucket, "a/c.txt") {
		t.Fatal("object listed that was never put")
	}
}

func TestUserReachesOnlyOwnedBucket(t *testing.T) {
	s := s3test.Shared(t)
	owned := s.NewBucket(t, "owned")
	other := s.NewBucket(t, "other")
	ak, sk := s3test.RandomKey("ak"), s3test.RandomKey("sk")
	s.CreateUser(t, ak, sk)
	s.ChangeBucketOwner(t, owned, ak)

	c := s.ClientFor(ak, sk)
	if _, err := c.PutObject(ctx(t), &s3.PutObjectInput{Bucket: aws.String(owned), Key: aws.String("x"), Body: strings.NewReader("x")}); err != nil {
		t.Fatalf("owner cannot put into its bucket: %v", err)
	}
	_, err := c.PutObject(ctx(t), &s3.PutObjectInput{Bucket: aws.String(other), Key: aws.String("x"), Body: strings.NewReader("x")})
	if code := errorCode(err); code != "AccessDenied" {
		t.Fatalf("put into a bucket of root: error code %q (%v), want AccessDenied", code, err)
	}
}

func TestBucketPolicyDeny(t *testing.T) {
	s := s3test.Shared(t)
	bucket := s.NewBucket(t, "policy")
	ak, sk := s3test.RandomKey("ak"), s3test.RandomKey("sk")
	s.CreateUser(t, ak, sk)
	s.ChangeBucketOwner(t, bucket, ak)
	s.PutBucketPolicy(t, bucket, `{"Version":"2012-10-17","Statement":[
		{"Effect":"Allow","Principal":{"AWS":["`+ak+`"]},"Action":["s3:*"],"Resource":["arn:aws:s3:::`+bucket+`","arn:aws:s3:::`+bucket+`/*"]},
		{"Effect":"Deny","Principal":{"AWS":["`+ak+`"]},"Action":["s3:PutObject"],"Resource":["arn:aws:s3:::`+bucket+`/*"]}]}`)

	c := s.ClientFor(ak, sk)
	_, err := c.PutObject(ctx(t), &s3.PutObjectInput{Bucket: aws.String(bucket), Key: aws.String("x"), Body: strings.NewReader("x")})
	var ae smithy.APIError
	if !errors.As(err, &ae) || ae.ErrorCode() != "AccessDenied" {
		t.Fatalf("put denied by policy: %v, want AccessDenied", err)
	}
	if !strings.Contains(ae.ErrorMessage(), "explicit deny in a resource-based policy") {
		t.Errorf("AccessDenied message %q does not name the resource-based policy", ae.ErrorMessage())
	}
	if _, err := c.ListObjectsV2(ctx(t), &s3.ListObjectsV2Input{Bucket: aws.String(bucket)}); err != nil {
		t.Fatalf("list allowed by policy: %v", err)
	}
}

func TestStartOwnServer(t *testing.T) {
	s := s3test.Start(t)
	if s == s3test.Shared(t) {
		t.Fatal("Start returned the shared server")
	}
	s.NewBucket(t, "own")
}

func errorCode(err error) string {
	var ae smithy.APIError
	if errors.As(err, &ae) {
		return ae.ErrorCode()
	}
	return ""
}
