package storage_test

import (
	"bytes"
	"context"
	"strings"
	"testing"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/credentials"
	"github.com/aws/aws-sdk-go-v2/service/s3"
	"github.com/aws/aws-sdk-go-v2/service/s3/types"

	"github.com/lakeport/lakeport/s3test"
	"github.com/lakeport/lakeport/storage"
)

const testKey = "arn:aws:kms:us-east-1:123456789012:key/1234abcd-12ab-34cd-56ef-1234567890ab"

// Every write of a client for a setting with a KMS key carries SSE-KMS: a plain put,
// a multipart upload and a copy, though the caller asked for none of it.
func TestEncryptWithCoversEveryWrite(t *testing.T) {
	s := s3test.Shared(t)
	bucket := s.NewBucket(t, "kms")
	rec := s3test.NewRecorder(t, s.Endpoint, s3test.RequireSSEKMS(testKey))
	set := storage.Setting{Bucket: bucket, Region: s.Region, Endpoint: rec.URL, KMSKeyARN: testKey}
	c := storage.NewS3ClientWithCredentials(set, credentials.NewStaticCredentialsProvider(s.AccessKey, s.SecretKey, ""), nil)
	writeEveryWay(t, c, bucket)
	ops := map[string]int{}
	for _, r := range rec.Requests() {
		if r.Refused != "" {
			t.Errorf("refused: %s", r.Refused)
		}
		ops[r.Op()]++
	}
	for _, op := range []string{"PutObject", "CreateMultipartUpload", "UploadPart", "CompleteMultipartUpload", "CopyObject"} {
		if ops[op] == 0 {
			t.Errorf("no %s went through the recorder: %v", op, ops)
		}
	}

	// The check has teeth: without a key in the setting the same writes are refused.
	plain := storage.NewS3ClientWithCredentials(storage.Setting{Bucket: bucket, Region: s.Region, Endpoint: rec.URL},
		credentials.NewStaticCredentialsProvider(s.AccessKey, s.SecretKey, ""), nil)
	if _, err := plain.PutObject(ctx(t), &s3.PutObjectInput{Bucket: aws.String(bucket), Key: aws.String("plain"), Body: strings.NewReader("x")}); err == nil {
		t.Fatal("a put without SSE-KMS passed the recorder's check")
	}
}

func writeEveryWay(t *testing.T, c *s3.Client, bucket string) {
	t.Helper()
	c2 := context.Background()
	if _, err := c.PutObject(c2, &s3.PutObjectInput{Bucket: aws.String(bucket), Key: aws.String("t/put"), Body: strings.NewReader("put")}); err != nil {
		t.Fatalf("put: %v", err)
	}
	up, err := c.CreateMultipartUpload(c2, &s3.CreateMultipartUploadInput{Bucket: aws.String(bucket), Key: aws.String("t/multi")})
	if err != nil {
		t.Fatalf("create multipart upload: %v", err)
	}
	part, err := c.UploadPart(c2, &s3.UploadPartInput{Bucket: aws.String(bucket), Key: aws.String("t/multi"), UploadId: up.UploadId,
		PartNumber: aws.Int32(1), Body: bytes.NewReader([]byte("multi"))})
	if err != nil {
		t.Fatalf("upload part: %v", err)
	}
	if _, err := c.CompleteMultipartUpload(c2, &s3.CompleteMultipartUploadInput{Bucket: aws.String(bucket), Key: aws.String("t/multi"), UploadId: up.UploadId,
		MultipartUpload: &types.CompletedMultipartUpload{Parts: []types.CompletedPart{{ETag: part.ETag, PartNumber: aws.Int32(1)}}}}); err != nil {
		t.Fatalf("complete multipart upload: %v", err)
	}
	if _, err := c.CopyObject(c2, &s3.CopyObjectInput{Bucket: aws.String(bucket), Key: aws.String("t/copy"), CopySource: aws.String(bucket + "/t/put")}); err != nil {
		t.Fatalf("copy: %v", err)
	}
}
