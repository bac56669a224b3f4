package storage

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"time"

	"github.com/apache/iceberg-go"
	icebergio "github.com/apache/iceberg-go/io"
	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/credentials"
	"github.com/aws/aws-sdk-go-v2/service/s3"
	"github.com/aws/smithy-go/middleware"

	"github.com/lakeport/lakeport/objstore"
)

// Location is where an organization's tables live and how to reach them: what a saved
// setting becomes once lakeport can use it.
type Location struct {
	// Root is the warehouse root: "file:///abs/data/warehouse/<org-id>"
	// (managed, data dir), "s3://bucket/prefix/<org-id>" (managed, the
	// platform's bucket) or "s3://bucket" (customer-hosted). No trailing slash.
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
	// static keys and a local folder. Resolve again before then (the
	// Resolver renews a running sync's: see Resolver.Renew).
	Expires time.Time
	// Mode is the storage mode the location was resolved for.
	Mode Mode
	// KMSKeyARN is the KMS key objects are encrypted with, when one is set.
	KMSKeyARN string
	// Dir is the local folder of a managed warehouse in the data dir; "" for S3.
	Dir string
	// Principal is who the credentials are of (see Resolver.LocateAs).
	Principal Principal
	// HTTPClient carries the S3 requests of Props' file IO (lake.Config.HTTPClient):
	// for an S3-compatible endpoint an organization chose, the network guard's
	// client. Nil: the SDK's default.
	HTTPClient *http.Client
	// S3APIOptions are S3 client API options the file IO must use
	// (lake.Config.S3APIOptions): with a KMS key, EncryptWith it, so every table
	// file, manifest, manifest list and metadata file is written with SSE-KMS.
	S3APIOptions []func(*middleware.Stack) error
}

// NamespaceRoot is the root of connector namespace ns: Root + "/" + ns. Everything a
// connector writes lies under it.
func (l Location) NamespaceRoot(ns string) string { return l.Root + "/" + ns }

// TableRoot is the location of table ns.name: NamespaceRoot(ns) + "/" + name.
func (l Location) TableRoot(ns, name string) string { return l.NamespaceRoot(ns) + "/" + name }

// Key is the key in Bucket of the object at path, a URL under Root (as table
// metadata names files); ErrOutside when path is not under Root or its rest is not
// a key every backend accepts (no "..", no empty segments).
func (l Location) Key(path string) (string, error) {
	key, ok := strings.CutPrefix(path, l.Root+"/")
	if !ok {
		return "", fmt.Errorf("%w: %s is not under %s", ErrOutside, path, l.Root)
	}
	if err := objstore.CheckKey(key); err != nil {
		return "", fmt.Errorf("%w: %s: %w", ErrOutside, path, err)
	}
	return key, nil
}

// Local reports whether the location is a folder on this machine.
func (l Location) Local() bool { return l.Dir != "" }

// OpenRoot opens the folder of a local managed warehouse as an os.Root, so that
// reading a path found in table metadata cannot leave the warehouse. It fails with
// ErrNotLocal for a bucket.
func (l Location) OpenRoot() (*os.Root, error) {
	if l.Dir == "" {
		return nil, fmt.Errorf("%w: %s", ErrNotLocal, l.Root)
	}
	return os.OpenRoot(l.Dir)
}

// ManagedDir is the folder of an organization's managed warehouse.
func ManagedDir(dataDir, orgID string) string {
	return filepath.Join(dataDir, "warehouse", orgID)
}

// Resolve returns where the organization's tables live for a mode and setting.
//
// Managed: the folder dataDir/warehouse/<orgID>, created 0700 when missing.
//
// Customer-hosted: the bucket of s. For an AWS bucket Resolve assumes s.RoleARN with
// a (the organization's external ID and session name), the calls Test connection
// makes, and puts the temporary credentials in Props. For an S3-compatible endpoint
// it uses the access keys of s.
//
// optFns tune the S3 client of Location.Bucket, as for NewS3Client (tests point it at
// a local server); they do not change Props.
func Resolve(ctx context.Context, dataDir, orgID string, mode Mode, s Setting, a Access, optFns ...func(*s3.Options)) (Location, error) {
	switch mode {
	case ModeManaged:
		return resolveManaged(dataDir, orgID)
	case ModeCustomerHosted:
		return resolveBucket(ctx, orgID, s, a, optFns)
	}
	return Location{}, fmt.Errorf("%w %q for organization %s: expected %q or %q", ErrUnknownMode, mode, orgID, ModeManaged, ModeCustomerHosted)
}

func resolveManaged(dataDir, orgID string) (Location, error) {
	if err := checkOrgID(orgID); err != nil {
		return Location{}, err
	}
	if dataDir == "" {
		return Location{}, fmt.Errorf("storage: managed warehouse of organization %s: no data dir given", orgID)
	}
	abs, err := filepath.Abs(dataDir)
	if err != nil {
		return Location{}, fmt.Errorf("storage: data dir %s: %w", dataDir, err)
	}
	dir := ManagedDir(abs, orgID)
	if err := os.MkdirAll(dir, 0o700); err != nil {
		return Location{}, fmt.Errorf("storage: create the managed warehouse of organization %s: %w", orgID, err)
	}
	b, err := objstore.NewFile(dir)
	if err != nil {
		return Location{}, fmt.Errorf("storage: managed warehouse of organization %s: %w", orgID, err)
	}
	return Location{Root: b.Location(), Props: iceberg.Properties{}, Bucket: b, Mode: ModeManaged, Dir: dir}, nil
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

func resolveBucket(ctx context.Context, orgID string, s Setting, a Access, optFns []func(*s3.Options)) (Location, error) {
	if errs := s.Check(); len(errs) > 0 {
		return Location{}, fmt.Errorf("storage: setting of organization %s: %w", orgID, &SettingError{Fields: errs})
	}
	creds, err := bucketCredentials(ctx, s, a)
	if err != nil {
		return Location{}, fmt.Errorf("storage: organization %s: %w", orgID, err)
	}
	loc := Location{Root: "s3://" + s.Bucket, Mode: ModeCustomerHosted, KMSKeyARN: s.KMSKeyARN}
	if enc := EncryptWith(s.KMSKeyARN); enc != nil {
		loc.S3APIOptions = append(loc.S3APIOptions, enc)
	}
	if loc.Props, loc.Expires, err = fileIOProps(ctx, s, creds); err != nil {
		var re *roleError
		if errors.As(err, &re) {
			return Location{}, fmt.Errorf("%w s3://%s of organization %s: assuming role %s failed: %w; "+
				"run Test connection in the storage settings to see which check fails (trust policy, external ID, role ARN)",
				ErrNoCredentials, s.Bucket, orgID, s.RoleARN, re.err)
		}
		return Location{}, err
	}
	loc.HTTPClient = a.S3HTTPClient(s)
	client := NewS3ClientWithCredentials(s, creds, loc.HTTPClient, optFns...)
	loc.Bucket = objstore.NewS3(client, s.Bucket, "", s.KMSKeyARN)
	return loc, nil
}

// bucketCredentials are the credentials that sign requests to the bucket of s: its
// access keys for an S3-compatible endpoint, or the role's, assumed with a and
// cached until near expiry.
func bucketCredentials(ctx context.Context, s Setting, a Access) (aws.CredentialsProvider, error) {
	if s.S3Compatible() {
		return credentials.NewStaticCredentialsProvider(s.AccessKeyID, s.SecretAccessKey, ""), nil
	}
	if err := a.Check(); err != nil {
		return nil, err
	}
	stsClient, err := NewSTSClient(ctx, s, a)
	if err != nil {
		return nil, err
	}
	return cached(roleProvider{AssumeRoleProvider(stsClient, s, a)}), nil
}

// cached is the one credentials cache lakeport puts in front of temporary
// credentials: refreshed CredentialsExpiryWindow (with jitter) before they expire.
func cached(p aws.CredentialsProvider) *aws.CredentialsCache {
	return aws.NewCredentialsCache(p, func(o *aws.CredentialsCacheOptions) {
		o.ExpiryWindow = CredentialsExpiryWindow
		o.ExpiryWindowJitterFrac = 0.5
	})
}

// roleProvider marks the errors of an AssumeRole provider, so that a failure to
// assume the role can be told from one to load the platform's own credentials.
type roleProvider struct{ p aws.CredentialsProvider }

func (r roleProvider) Retrieve(ctx context.Context) (aws.Credentials, error) {
	c, err := r.p.Retrieve(ctx)
	if err != nil {
		return c, &roleError{err}
	}
	return c, nil
}

type roleError struct{ err error }

func (e *roleError) Error() string { return e.err.Error() }
func (e *roleError) Unwrap() error { return e.err }

// fileIOProps are iceberg-go's S3 file IO properties for the bucket of s, signed with
// creds (retrieved now), and when those credentials expire.
func fileIOProps(ctx context.Context, s Setting, creds aws.CredentialsProvider) (iceberg.Properties, time.Time, error) {
	c, err := creds.Retrieve(ctx)
	if err != nil {
		return nil, time.Time{}, err
	}
	p := iceberg.Properties{
		icebergio.S3Region:          s.Region,
		icebergio.S3AccessKeyID:     c.AccessKeyID,
		icebergio.S3SecretAccessKey: c.SecretAccessKey,
	}
	if c.SessionToken != "" {
		p[icebergio.S3SessionToken] = c.SessionToken
	}
	if s.Endpoint != "" {
		p[icebergio.S3EndpointURL] = s.Endpoint
		p[icebergio.S3ForceVirtualAddressing] = "false"
	}
	var expires time.Time
	if c.CanExpire {
		expires = c.Expires
	}
	return p, expires, nil
}

// rootOf is s3://bucket/prefix without a trailing slash.
func rootOf(bucket, prefix string) string {
	return strings.TrimSuffix("s3://"+bucket+"/"+strings.Trim(prefix, "/"), "/")
}
