package warehouse

import (
	"context"
	"fmt"
	"strings"

	"github.com/apache/iceberg-go"
	"github.com/aws/aws-sdk-go-v2/aws"
	awsconfig "github.com/aws/aws-sdk-go-v2/config"
	"github.com/aws/aws-sdk-go-v2/credentials"
	"github.com/aws/aws-sdk-go-v2/service/s3"

	"github.com/lakeport/lakeport/lake"
	"github.com/lakeport/lakeport/objstore"
	"github.com/lakeport/lakeport/storage"
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

// ParseManaged reads "s3://bucket/prefix" into m's Bucket and Prefix.
func ParseManaged(uri string) (ManagedS3, error) {
	rest, ok := strings.CutPrefix(uri, "s3://")
	if !ok {
		return ManagedS3{}, fmt.Errorf("warehouse: managed warehouse %q: give s3://bucket/prefix (or nothing for the data dir)", uri)
	}
	bucket, prefix, _ := strings.Cut(rest, "/")
	if err := storage.CheckBucketName(bucket); err != nil {
		return ManagedS3{}, fmt.Errorf("warehouse: managed warehouse %q: %w", uri, err)
	}
	return ManagedS3{Bucket: bucket, Prefix: strings.Trim(prefix, "/")}, nil
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
	loc := Location{Root: "s3://" + m.Bucket + "/" + prefix, Props: iceberg.Properties{lake.PropS3Region: m.Region}, Mode: storage.ModeManaged}
	var creds aws.CredentialsProvider
	if m.AccessKeyID != "" {
		creds = credentials.NewStaticCredentialsProvider(m.AccessKeyID, m.SecretAccessKey, "")
	} else {
		cfg, err := awsconfig.LoadDefaultConfig(ctx, awsconfig.WithRegion(m.Region))
		if err != nil {
			return Location{}, fmt.Errorf("warehouse: the platform's AWS credentials for the managed warehouse: %w", err)
		}
		creds = cfg.Credentials
	}
	c, err := creds.Retrieve(ctx)
	if err != nil {
		return Location{}, fmt.Errorf("%w for the managed warehouse s3://%s: %w", ErrNoCredentials, m.Bucket, err)
	}
	loc.Props[lake.PropS3AccessKeyID], loc.Props[lake.PropS3SecretAccessKey] = c.AccessKeyID, c.SecretAccessKey
	if c.SessionToken != "" {
		loc.Props[lake.PropS3SessionToken] = c.SessionToken
	}
	if c.CanExpire {
		loc.Expires = c.Expires
	}
	set := storage.Setting{Bucket: m.Bucket, Region: m.Region, Endpoint: m.Endpoint}
	if m.Endpoint != "" {
		loc.Props[lake.PropS3Endpoint] = m.Endpoint
		loc.Props[lake.PropS3ForceVirtualAddressing] = "false"
	}
	client := storage.NewS3ClientWithCredentials(set, creds, nil, optFns...)
	loc.Bucket = objstore.NewS3(client, m.Bucket, prefix, "")
	return loc, nil
}
