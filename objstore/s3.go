package objstore

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"net/http"
	"strings"
	"sync/atomic"

	"github.com/aws/aws-sdk-go-v2/aws"
	awshttp "github.com/aws/aws-sdk-go-v2/aws/transport/http"
	"github.com/aws/aws-sdk-go-v2/service/s3"
	"github.com/aws/aws-sdk-go-v2/service/s3/types"
	"github.com/aws/smithy-go"
)

// deleteBatch is the most keys one DeleteObjects call takes.
const deleteBatch = 1000

// S3Bucket is a Bucket in an S3 bucket, under an optional prefix: key
// "crm/x" is the object "<prefix>/crm/x".
type S3Bucket struct {
	client    *s3.Client
	bucket    string
	prefix    string // "" or "a/b/" (always ends with a slash)
	kmsKeyARN string

	// noMultiDelete is set once the server has shown it lacks
	// DeleteObjects; Delete then deletes one object at a time.
	noMultiDelete atomic.Bool
}

// NewS3 returns the bucket's objects under prefix ("" for the whole bucket;
// leading and trailing slashes are ignored), reached with client. When
// kmsKeyARN is not empty, Put asks S3 to encrypt with that KMS key (SSE-KMS).
func NewS3(client *s3.Client, bucket, prefix, kmsKeyARN string) *S3Bucket {
	prefix = strings.Trim(prefix, "/")
	if prefix != "" {
		prefix += "/"
	}
	return &S3Bucket{client: client, bucket: bucket, prefix: prefix, kmsKeyARN: kmsKeyARN}
}

// Location is s3://bucket or s3://bucket/prefix.
func (b *S3Bucket) Location() string {
	return "s3://" + b.bucket + strings.TrimSuffix("/"+b.prefix, "/")
}

// where names an object in errors.
func (b *S3Bucket) where(key string) string { return "s3://" + b.bucket + "/" + b.prefix + key }

// Put writes data at key, with SSE-KMS headers when the bucket has a KMS key.
func (b *S3Bucket) Put(ctx context.Context, key string, data []byte) error {
	if err := CheckKey(key); err != nil {
		return err
	}
	in := &s3.PutObjectInput{
		Bucket:        aws.String(b.bucket),
		Key:           aws.String(b.prefix + key),
		Body:          bytes.NewReader(data),
		ContentLength: aws.Int64(int64(len(data))),
	}
	if b.kmsKeyARN != "" {
		in.ServerSideEncryption = types.ServerSideEncryptionAwsKms
		in.SSEKMSKeyId = aws.String(b.kmsKeyARN)
	}
	if _, err := b.client.PutObject(ctx, in); err != nil {
		return fmt.Errorf("objstore: put %s: %w", b.where(key), err)
	}
	return nil
}

// Get reads the object at key.
func (b *S3Bucket) Get(ctx context.Context, key string) ([]byte, error) {
	if err := CheckKey(key); err != nil {
		return nil, err
	}
	out, err := b.client.GetObject(ctx, &s3.GetObjectInput{Bucket: aws.String(b.bucket), Key: aws.String(b.prefix + key)})
	if err != nil {
		if s3NotFound(err) {
			err = fmt.Errorf("%w (%w)", ErrNotFound, err)
		}
		return nil, fmt.Errorf("objstore: get %s: %w", b.where(key), err)
	}
	defer out.Body.Close()
	data, err := io.ReadAll(out.Body)
	if err != nil {
		return nil, fmt.Errorf("objstore: get %s: read body: %w", b.where(key), err)
	}
	return data, nil
}

// s3NotFound reports whether err is S3's answer for a missing object.
func s3NotFound(err error) bool {
	var nsk *types.NoSuchKey
	var nf *types.NotFound
	if errors.As(err, &nsk) || errors.As(err, &nf) {
		return true
	}
	var ae smithy.APIError
	if errors.As(err, &ae) && (ae.ErrorCode() == "NoSuchKey" || ae.ErrorCode() == "NotFound") {
		return true
	}
	return false
}

// List calls fn with every key starting with prefix, page by page.
func (b *S3Bucket) List(ctx context.Context, prefix string, fn func(key string) error) error {
	if err := checkPrefix(prefix); err != nil {
		return err
	}
	p := s3.NewListObjectsV2Paginator(b.client, &s3.ListObjectsV2Input{
		Bucket: aws.String(b.bucket),
		Prefix: aws.String(b.prefix + prefix),
	})
	for p.HasMorePages() {
		page, err := p.NextPage(ctx)
		if err != nil {
			return fmt.Errorf("objstore: list %s: %w", b.where(prefix), err)
		}
		for _, o := range page.Contents {
			k, ok := strings.CutPrefix(aws.ToString(o.Key), b.prefix)
			if !ok || k == "" {
				continue
			}
			if err := fn(k); err != nil {
				return err
			}
		}
	}
	return nil
}

// Delete removes the objects at keys with DeleteObjects, 1000 keys a call.
// When the server lacks DeleteObjects (some S3-compatible servers answer
// NotImplemented, or insist on a Content-MD5 header the SDK no longer
// sends) it deletes the objects one by one, and keeps doing so.
func (b *S3Bucket) Delete(ctx context.Context, keys ...string) error {
	for _, k := range keys {
		if err := CheckKey(k); err != nil {
			return err
		}
	}
	for len(keys) > 0 {
		n := min(len(keys), deleteBatch)
		if err := b.deleteBatch(ctx, keys[:n]); err != nil {
			return err
		}
		keys = keys[n:]
	}
	return nil
}

func (b *S3Bucket) deleteBatch(ctx context.Context, keys []string) error {
	if !b.noMultiDelete.Load() {
		ids := make([]types.ObjectIdentifier, len(keys))
		for i, k := range keys {
			ids[i] = types.ObjectIdentifier{Key: aws.String(b.prefix + k)}
		}
		out, err := b.client.DeleteObjects(ctx, &s3.DeleteObjectsInput{
			Bucket: aws.String(b.bucket),
			Delete: &types.Delete{Objects: ids, Quiet: aws.Bool(true)},
		})
		switch {
		case err == nil:
			for _, e := range out.Errors {
				if aws.ToString(e.Code) == "NoSuchKey" {
					continue
				}
				more := ""
				if len(out.Errors) > 1 {
					more = fmt.Sprintf(" (and %d more errors in the same batch)", len(out.Errors)-1)
				}
				return fmt.Errorf("objstore: delete s3://%s/%s: %s: %s%s",
					b.bucket, aws.ToString(e.Key), aws.ToString(e.Code), aws.ToString(e.Message), more)
			}
			return nil
		case multiDeleteUnsupported(err):
			b.noMultiDelete.Store(true)
		default:
			return fmt.Errorf("objstore: delete %d objects in s3://%s/%s: %w", len(keys), b.bucket, b.prefix, err)
		}
	}
	for _, k := range keys {
		_, err := b.client.DeleteObject(ctx, &s3.DeleteObjectInput{Bucket: aws.String(b.bucket), Key: aws.String(b.prefix + k)})
		if err != nil && !s3NotFound(err) {
			return fmt.Errorf("objstore: delete %s: %w", b.where(k), err)
		}
	}
	return nil
}

// multiDeleteUnsupported reports whether a DeleteObjects error means the
// server cannot do it at all (rather than that this call failed).
func multiDeleteUnsupported(err error) bool {
	var ae smithy.APIError
	if errors.As(err, &ae) {
		switch ae.ErrorCode() {
		case "NotImplemented", "MissingContentMD5", "InvalidDigest", "BadDigest", "MethodNotAllowed":
			return true
		}
	}
	var re *awshttp.ResponseError
	if errors.As(err, &re) {
		switch re.HTTPStatusCode() {
		case http.StatusNotImplemented, http.StatusMethodNotAllowed:
			return true
		}
	}
	return false
}
