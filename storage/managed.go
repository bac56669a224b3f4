package storage

import (
	"context"
	"fmt"
	"strings"

	"github.com/aws/aws-sdk-go-v2/aws"
	awsconfig "github.com/aws/aws-sdk-go-v2/config"
	"github.com/aws/aws-sdk-go-v2/credentials"
	"github.com/aws/aws-sdk-go-v2/service/s3"

	"github.com/lakeport/lakeport/objstore"
)

// ManagedS3 is the platform's own bucket for managed storage, for installs that run
// on several machines: each organization gets the prefix <Prefix>/<org-id>/.
// Without access keys the platform's credentials come from the default AWS chain
// (environment, shared config, instance or task role).
type ManagedS3 struct {
	Bucket          string
	Prefix          string
	Region          string
	Endpoint        string // S3-compatible servers; empty for AWS
	AccessKeyID     string
	SecretAccessKey string
}

// ParseManaged reads "s3://bucket/prefix" into a ManagedS3's Bucket and Prefix.
func ParseManaged(uri string) (ManagedS3, error) {
	rest, ok := strings.CutPrefix(uri, "s3://")
	if !ok {
		return ManagedS3{}, fmt.Errorf("storage: managed warehouse %q: give s3://bucket/prefix (or nothing for the data dir)", uri)
	}
	bucket, prefix, _ := strings.Cut(rest, "/")
	if err := CheckBucketName(bucket); err != nil {
		return ManagedS3{}, fmt.Errorf("storage: managed warehouse %q: %w", uri, err)
	}
	return ManagedS3{Bucket: bucket, Prefix: strings.Trim(prefix, "/")}, nil
}

// setting is the bucket as a Setting (no role: the platform's own credentials).
func (m ManagedS3) setting() Setting {
	return Setting{Bucket: m.Bucket, Region: m.Region, Endpoint: m.Endpoint}
}

// ResolveManagedS3 returns the organization's managed location in the platform's bucket.
func ResolveManagedS3(ctx context.Context, m ManagedS3, orgID string, optFns ...func(*s3.Options)) (Location, error) {
	if err := checkOrgID(orgID); err != nil {
		return Location{}, err
	}
	prefix := orgID
	if m.Prefix != "" {
		prefix = m.Prefix + "/" + orgID
	}
	var creds aws.CredentialsProvider
	if m.AccessKeyID != "" {
		creds = credentials.NewStaticCredentialsProvider(m.AccessKeyID, m.SecretAccessKey, "")
	} else {
		cfg, err := awsconfig.LoadDefaultConfig(ctx, awsconfig.WithRegion(m.Region))
		if err != nil {
			return Location{}, fmt.Errorf("storage: the platform's AWS credentials for the managed warehouse: %w", err)
		}
		creds = cfg.Credentials
	}
	loc := Location{Root: rootOf(m.Bucket, prefix), Mode: ModeManaged}
	var err error
	if loc.Props, loc.Expires, err = fileIOProps(ctx, m.setting(), creds); err != nil {
		return Location{}, fmt.Errorf("%w for the managed warehouse s3://%s: %w", ErrNoCredentials, m.Bucket, err)
	}
	client := NewS3ClientWithCredentials(m.setting(), creds, nil, optFns...)
	loc.Bucket = objstore.NewS3(client, m.Bucket, prefix, "")
	return loc, nil
}
