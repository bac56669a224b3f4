package objstore

import (
	"context"
	"fmt"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/s3"
)

// ModTimer is a Bucket that tells when an object was last written: cleanup that must
// spare recent objects (files a running sync just wrote) asks it.
type ModTimer interface {
	// ModTime returns when the object at key was last written; IsNotFound(err) when
	// there is none.
	ModTime(ctx context.Context, key string) (time.Time, error)
}

var (
	_ ModTimer = (*FileBucket)(nil)
	_ ModTimer = (*S3Bucket)(nil)
)

// ModTime returns the file's modification time.
func (b *FileBucket) ModTime(ctx context.Context, key string) (time.Time, error) {
	if err := CheckKey(key); err != nil {
		return time.Time{}, err
	}
	if err := ctx.Err(); err != nil {
		return time.Time{}, err
	}
	r, err := b.open()
	if err != nil {
		return time.Time{}, err
	}
	defer r.Close()
	fi, err := r.Lstat(key)
	if missing(err) || (err == nil && !fi.Mode().IsRegular()) {
		return time.Time{}, fmt.Errorf("objstore: stat %s in %s: %w", key, b.root, ErrNotFound)
	}
	if err != nil {
		return time.Time{}, fmt.Errorf("objstore: stat %s in %s: %w", key, b.root, err)
	}
	return fi.ModTime(), nil
}

// ModTime returns the object's Last-Modified time.
func (b *S3Bucket) ModTime(ctx context.Context, key string) (time.Time, error) {
	if err := CheckKey(key); err != nil {
		return time.Time{}, err
	}
	out, err := b.client.HeadObject(ctx, &s3.HeadObjectInput{Bucket: aws.String(b.bucket), Key: aws.String(b.prefix + key)})
	if err != nil {
		if s3NotFound(err) {
			err = fmt.Errorf("%w (%w)", ErrNotFound, err)
		}
		return time.Time{}, fmt.Errorf("objstore: head %s: %w", b.where(key), err)
	}
	return aws.ToTime(out.LastModified), nil
}
