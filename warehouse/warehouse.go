// Package warehouse resolves where an organization's tables live: a folder
// of the managed warehouse in the data dir, or the organization's own S3
// bucket. A [Location] carries the root for the Iceberg catalog, the
// iceberg-go file IO properties to reach it, and an [objstore.Bucket] on the
// same place for owner markers and cleanup.
package warehouse

import (
	"context"
	"fmt"
	"net/http"
	"os"
	"path/filepath"
	"time"

	"github.com/apache/iceberg-go"
	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/credentials"
	"github.com/aws/aws-sdk-go-v2/service/s3"

	"github.com/lakeport/lakeport/lake"
	"github.com/lakeport/lakeport/objstore"
	"github.com/lakeport/lakeport/storage"
)

// Location is where an organization's tables live and how to reach them.
type Location struct {
	// Root is the warehouse root: "file:///abs/data/warehouse/<org-id>"
	// (managed) or "s3://bucket" (customer-hosted).
	Root string
	// Props are the iceberg-go file IO properties for Root: none for a
	// folder; for S3 the region, the credentials (static keys, or the
	// assumed role's temporary keys and session token) and, for an
	// S3-compatible server, its endpoint with path-style addressing.
	Props iceberg.Properties
	// Bucket is the same place, for owner markers and cleanup. Its role
	// credentials renew themselves; only Props go stale.
	Bucket objstore.Bucket
	// Expires is when the temporary credentials in Props expire; zero for
	// static keys and a local folder. Resolve again before then
	// (storage.CredentialsExpiryWindow ahead is a good margin).
	Expires time.Time
	// Mode is the storage mode the location was resolved for.
	Mode storage.Mode
	// HTTPClient carries the S3 requests of Props' file IO (lake.Config.HTTPClient):
	// for an S3-compatible endpoint an organization chose, the network guard's
	// client. Nil: the SDK's default.
	HTTPClient *http.Client
}

// ManagedDir is the folder of an organization's managed warehouse.
func ManagedDir(dataDir, orgID string) string {
	return filepath.Join(dataDir, "warehouse", orgID)
}

// Resolve returns where the organization's tables live.
//
// Managed: the folder dataDir/warehouse/<orgID>, created 0700 when missing.
//
// Customer-hosted: the bucket of s. For an AWS bucket Resolve assumes
// s.RoleARN with a (the organization's external ID and session name) through
// storage.NewSTSClient and storage.AssumeRoleProvider, the calls Test
// connection makes, and puts the temporary credentials in Props. For an
// S3-compatible endpoint it uses the access keys of s.
//
// optFns tune the S3 client of Location.Bucket, as for storage.NewS3Client
// (tests point it at a local server); they do not change Props.
func Resolve(ctx context.Context, dataDir, orgID string, mode storage.Mode, s storage.Setting, a storage.Access, optFns ...func(*s3.Options)) (Location, error) {
	switch mode {
	case storage.ModeManaged:
		return resolveManaged(dataDir, orgID)
	case storage.ModeCustomerHosted:
		return resolveBucket(ctx, orgID, s, a, optFns)
	}
	return Location{}, fmt.Errorf("%w %q for organization %s: expected %q or %q", ErrUnknownMode, mode, orgID, storage.ModeManaged, storage.ModeCustomerHosted)
}

func resolveManaged(dataDir, orgID string) (Location, error) {
	if err := checkOrgID(orgID); err != nil {
		return Location{}, err
	}
	if dataDir == "" {
		return Location{}, fmt.Errorf("warehouse: managed warehouse of organization %s: no data dir given", orgID)
	}
	abs, err := filepath.Abs(dataDir)
	if err != nil {
		return Location{}, fmt.Errorf("warehouse: data dir %s: %w", dataDir, err)
	}
	dir := ManagedDir(abs, orgID)
	if err := os.MkdirAll(dir, 0o700); err != nil {
		return Location{}, fmt.Errorf("warehouse: create the managed warehouse of organization %s: %w", orgID, err)
	}
	b, err := objstore.NewFile(dir)
	if err != nil {
		return Location{}, fmt.Errorf("warehouse: managed warehouse of organization %s: %w", orgID, err)
	}
	return Location{Root: b.Location(), Props: iceberg.Properties{}, Bucket: b, Mode: storage.ModeManaged}, nil
}

// checkOrgID accepts IDs that are one safe folder name: 1 to 128 letters,
// digits, '.', '_' and '-', not starting with '.'.
func checkOrgID(id string) error {
	if id == "" || len(id) > 128 || id[0] == '.' {
		return fmt.Errorf("%w %q: want 1 to 128 letters, digits, '.', '_' or '-', not starting with '.'", ErrInvalidOrgID, id)
	}
	for i := 0; i < len(id); i++ {
		c := id[i]
		if !(c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c >= '0' && c <= '9' || c == '.' || c == '_' || c == '-') {
			return fmt.Errorf("%w %q: want 1 to 128 letters, digits, '.', '_' or '-', not starting with '.'", ErrInvalidOrgID, id)
		}
	}
	return nil
}

func resolveBucket(ctx context.Context, orgID string, s storage.Setting, a storage.Access, optFns []func(*s3.Options)) (Location, error) {
	if errs := s.Check(); len(errs) > 0 {
		return Location{}, fmt.Errorf("warehouse: storage setting of organization %s: %w", orgID, &storage.SettingError{Fields: errs})
	}
	loc := Location{
		Root: "s3://" + s.Bucket,
		Props: iceberg.Properties{
			lake.PropS3Region: s.Region,
		},
		Mode: storage.ModeCustomerHosted,
	}
	var creds aws.CredentialsProvider
	if s.S3Compatible() {
		creds = credentials.NewStaticCredentialsProvider(s.AccessKeyID, s.SecretAccessKey, "")
		loc.Props[lake.PropS3Endpoint] = s.Endpoint
		loc.Props[lake.PropS3AccessKeyID] = s.AccessKeyID
		loc.Props[lake.PropS3SecretAccessKey] = s.SecretAccessKey
		loc.Props[lake.PropS3ForceVirtualAddressing] = "false"
	} else {
		if err := a.Check(); err != nil {
			return Location{}, fmt.Errorf("warehouse: organization %s: %w", orgID, err)
		}
		stsClient, err := storage.NewSTSClient(ctx, s, a)
		if err != nil {
			return Location{}, fmt.Errorf("warehouse: organization %s: %w", orgID, err)
		}
		cache := aws.NewCredentialsCache(storage.AssumeRoleProvider(stsClient, s, a), func(o *aws.CredentialsCacheOptions) {
			o.ExpiryWindow = storage.CredentialsExpiryWindow
			o.ExpiryWindowJitterFrac = 0.5
		})
		role, err := cache.Retrieve(ctx)
		if err != nil {
			return Location{}, fmt.Errorf("%w s3://%s of organization %s: assuming role %s failed: %w; "+
				"run Test connection in the storage settings to see which check fails (trust policy, external ID, role ARN)",
				ErrNoCredentials, s.Bucket, orgID, s.RoleARN, err)
		}
		creds = cache
		loc.Props[lake.PropS3AccessKeyID] = role.AccessKeyID
		loc.Props[lake.PropS3SecretAccessKey] = role.SecretAccessKey
		loc.Props[lake.PropS3SessionToken] = role.SessionToken
		if role.CanExpire {
			loc.Expires = role.Expires
		}
	}
	loc.HTTPClient = a.S3HTTPClient(s)
	client := storage.NewS3ClientWithCredentials(s, creds, loc.HTTPClient, optFns...)
	loc.Bucket = objstore.NewS3(client, s.Bucket, "", s.KMSKeyARN)
	return loc, nil
}
