// Package validation runs "Test connection" for a customer-hosted bucket: the
// sequence of real calls that proves lakeport can use it (assume the role,
// reach the bucket in its region, write, read, list and delete an object),
// and explains each failure in words an admin can act on.
package validation

import (
	"bytes"
	"context"
	"crypto/rand"
	"encoding/hex"
	"fmt"
	"io"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/aws/ratelimit"
	"github.com/aws/aws-sdk-go-v2/aws/retry"
	"github.com/aws/aws-sdk-go-v2/credentials"
	"github.com/aws/aws-sdk-go-v2/service/s3"
	s3types "github.com/aws/aws-sdk-go-v2/service/s3/types"
	"github.com/aws/aws-sdk-go-v2/service/sts"

	"github.com/lakeport/lakeport/storage"
)

// Status is the outcome of one step.
type Status string

const (
	StatusPassed  Status = "passed"
	StatusFailed  Status = "failed"
	StatusSkipped Status = "skipped"
)

// Step names, in the order Run takes them.
const (
	StepCheckInputs  = "check_inputs"
	StepAssumeRole   = "assume_role"
	StepHeadBucket   = "head_bucket"
	StepPutObject    = "put_object"
	StepGetObject    = "get_object"
	StepListObjects  = "list_objects"
	StepDeleteObject = "delete_object"
)

// ObjectKey is the object Test connection writes, reads, lists and deletes.
const ObjectKey = ".lakeport/validation.txt"

// objectPrefix is the prefix list_objects lists.
const objectPrefix = ".lakeport/"

// Step is one line of the report.
type Step struct {
	Name       string `json:"name"`
	Status     Status `json:"status"`
	DurationMS int64  `json:"duration_ms"`
	ErrorCode  string `json:"error_code,omitempty"` // the AWS error code (AccessDenied, NoSuchBucket, ...)
	RequestID  string `json:"request_id,omitempty"` // the AWS request ID, when there is one
	Cause      string `json:"cause,omitempty"`      // stable lakeport cause (Cause* constants)
	Message    string `json:"message,omitempty"`    // what happened and what it means
	Hint       string `json:"hint,omitempty"`       // what to check
}

// Report is the result of Test connection.
type Report struct {
	OK       bool     `json:"ok"`
	Steps    []Step   `json:"steps"`
	Warnings []string `json:"warnings,omitempty"`
}

// Step returns the step with the given name and whether there is one.
func (r Report) Step(name string) (Step, bool) {
	for _, s := range r.Steps {
		if s.Name == name {
			return s, true
		}
	}
	return Step{}, false
}

// DefaultStepTimeout bounds each step when Options.StepTimeout is zero.
const DefaultStepTimeout = 15 * time.Second

// maxAttempts bounds the SDK's retries of one call.
const maxAttempts = 2

// Options tune Run.
type Options struct {
	// Access is the organization's external ID, session name and the way to STS.
	Access storage.Access
	// WorkerCredentials, when set, are the sync workers' credentials:
	// assume_role is also tried as that principal, since the role's trust
	// policy must name both the platform and the workers.
	WorkerCredentials aws.CredentialsProvider
	// StepTimeout bounds each step; zero means DefaultStepTimeout.
	StepTimeout time.Duration

	// PlatformAccountID and WorkerPrincipalARN, when set, are named in the
	// hints about the role's trust policy.
	PlatformAccountID  string
	WorkerPrincipalARN string

	// S3Options adjust the S3 client after lakeport's own settings (tests
	// point a role-path setting at a local server with them).
	S3Options []func(*s3.Options)
	// Now returns the time written into the validation object; nil means time.Now.
	Now func() time.Time
	// OnStep, when set, is called with each step as it finishes, skipped steps
	// included, in the order of the report, from the goroutine running Run.
	// The report Run returns is the same with or without it.
	OnStep func(Step)
}

// Run tests the setting with real calls and reports each step.
//
// Steps run in order and stop at the first failure (later steps are
// "skipped"), except delete_object: once the bucket was reached it is always
// tried, so a bucket never keeps a validation object.
func Run(ctx context.Context, s storage.Setting, o Options) Report {
	r := newRun(ctx, s, o)

	r.step(StepCheckInputs, r.checkInputs)
	r.step(StepAssumeRole, r.assumeRole)
	r.step(StepHeadBucket, r.headBucket)
	r.step(StepPutObject, r.putObject)
	r.step(StepGetObject, r.getObject)
	r.step(StepListObjects, r.listObjects)
	if r.reached {
		r.always(StepDeleteObject, r.deleteObject)
	} else {
		r.step(StepDeleteObject, r.deleteObject)
	}

	r.report.OK = !r.failed
	return r.report
}

func newRun(ctx context.Context, s storage.Setting, o Options) *run {
	if o.StepTimeout <= 0 {
		o.StepTimeout = DefaultStepTimeout
	}
	if o.Now == nil {
		o.Now = time.Now
	}
	return &run{ctx: ctx, s: s, o: o}
}

// run is the state of one Run.
type run struct {
	ctx    context.Context
	s      storage.Setting
	o      Options
	report Report
	failed bool

	s3      *s3.Client
	reached bool   // head_bucket passed: delete_object is always tried
	body    []byte // what put_object wrote
	version string // the version put_object created, on a versioned bucket
}

// outcome is what a step function returns: nil error means passed, with an
// optional message.
type outcome struct {
	message string
	skipped bool
}

// step runs fn unless an earlier step failed.
func (r *run) step(name string, fn func(ctx context.Context) (outcome, error)) {
	if r.failed {
		r.record(Step{Name: name, Status: StatusSkipped, Message: "skipped: an earlier step failed"})
		return
	}
	r.always(name, fn)
}

// always runs fn with its own bounded context and records the step.
func (r *run) always(name string, fn func(ctx context.Context) (outcome, error)) {
	ctx, cancel := context.WithTimeout(r.ctx, r.o.StepTimeout)
	defer cancel()
	start := time.Now()
	out, err := fn(ctx)
	st := Step{Name: name, DurationMS: time.Since(start).Milliseconds()}
	switch {
	case err == nil && out.skipped:
		st.Status, st.Message = StatusSkipped, out.message
	case err == nil:
		st.Status, st.Message = StatusPassed, out.message
	default:
		st.Status = StatusFailed
		r.explain(ctx, &st, err)
		r.failed = true
	}
	r.record(st)
}

// record adds st to the report and tells Options.OnStep.
func (r *run) record(st Step) {
	r.report.Steps = append(r.report.Steps, st)
	if r.o.OnStep != nil {
		r.o.OnStep(st)
	}
}

func (r *run) warn(format string, args ...any) {
	r.report.Warnings = append(r.report.Warnings, fmt.Sprintf(format, args...))
}

func (r *run) checkInputs(context.Context) (outcome, error) {
	if errs := r.s.Check(); len(errs) > 0 {
		return outcome{}, &inputError{fields: errs}
	}
	if !r.s.S3Compatible() {
		if err := r.o.Access.Check(); err != nil {
			return outcome{}, &failure{cause: CausePlatformConfig,
				message: "lakeport's own access values are not ones AWS accepts: " + err.Error(),
				hint:    "this is a problem of the lakeport installation, not of the bucket; contact the platform operator"}
		}
	}
	return outcome{}, nil
}

// retryer keeps the SDK from retrying for long: two attempts, short backoff,
// no client-side retry quota.
func retryer() aws.Retryer {
	return retry.NewStandard(func(o *retry.StandardOptions) {
		o.MaxAttempts = maxAttempts
		o.MaxBackoff = time.Second
		o.RateLimiter = ratelimit.None
	})
}

func (r *run) stsClient(ctx context.Context, creds aws.CredentialsProvider) (*sts.Client, error) {
	a := r.o.Access
	if creds != nil {
		a.Credentials = creds
	}
	return storage.NewSTSClient(ctx, r.s, a, func(o *sts.Options) { o.Retryer = retryer() })
}

func (r *run) assumeRole(ctx context.Context) (outcome, error) {
	if r.s.S3Compatible() {
		creds := credentials.NewStaticCredentialsProvider(r.s.AccessKeyID, r.s.SecretAccessKey, "")
		r.s3 = r.newS3Client(creds)
		return outcome{skipped: true, message: "no role to assume: the access keys sign the requests to the S3-compatible endpoint directly (S3-compatible servers have no STS)"}, nil
	}
	client, err := r.stsClient(ctx, nil)
	if err != nil {
		return outcome{}, &failure{cause: CausePlatformCredentials, message: "lakeport could not load its own AWS credentials to call STS: " + err.Error(),
			hint: "this is a problem of the lakeport installation, not of the bucket; contact the platform operator"}
	}
	creds, err := storage.AssumeRoleProvider(client, r.s, r.o.Access).Retrieve(ctx)
	if err != nil {
		return outcome{}, &principalError{who: "platform", err: err}
	}
	r.s3 = r.newS3Client(credentials.StaticCredentialsProvider{Value: creds})
	msg := fmt.Sprintf("assumed %s as session %q with this organization's external ID", r.s.RoleARN, r.sessionName())

	if r.o.WorkerCredentials != nil {
		wc, err := r.stsClient(ctx, r.o.WorkerCredentials)
		if err == nil {
			_, err = storage.AssumeRoleProvider(wc, r.s, r.o.Access).Retrieve(ctx)
		}
		if err != nil {
			return outcome{}, &principalError{who: "workers", err: err}
		}
		msg += ", both as the platform and as the sync workers"
	}

	r.probeExternalID(client)
	return outcome{message: msg}, nil
}

// probeExternalID tries AssumeRole once more without an external ID. If
// that works too, the trust policy lacks its sts:ExternalId condition.
func (r *run) probeExternalID(client *sts.Client) {
	ctx, cancel := context.WithTimeout(r.ctx, r.o.StepTimeout)
	defer cancel()
	_, err := client.AssumeRole(ctx, &sts.AssumeRoleInput{
		RoleArn:         aws.String(r.s.RoleARN),
		RoleSessionName: aws.String(r.sessionName()),
		DurationSeconds: aws.Int32(900),
	})
	if err == nil {
		r.warn("the role %s can be assumed WITHOUT an external ID: its trust policy is missing the condition "+
			`"StringEquals": {"sts:ExternalId": %q}, so anyone who learns the role ARN could have lakeport use it on their behalf (the confused-deputy problem); add the condition to the trust policy`,
			r.s.RoleARN, r.o.Access.ExternalID)
	}
}

func (r *run) sessionName() string {
	if r.o.Access.SessionName == "" {
		return storage.DefaultSessionName
	}
	return r.o.Access.SessionName
}

func (r *run) newS3Client(creds aws.CredentialsProvider) *s3.Client {
	opts := append([]func(*s3.Options){func(o *s3.Options) { o.Retryer = retryer() }}, r.o.S3Options...)
	return storage.NewS3ClientWithCredentials(r.s, creds, r.o.Access.S3HTTPClient(r.s), opts...)
}

func (r *run) headBucket(ctx context.Context) (outcome, error) {
	out, err := r.s3.HeadBucket(ctx, &s3.HeadBucketInput{Bucket: aws.String(r.s.Bucket)})
	if err != nil {
		// A HEAD response has no body, so its error has no code or message.
		// Ask the same question (s3:ListBucket) with a GET to learn them.
		if ctx.Err() == nil && HTTPStatus(err) != 0 {
			_, lerr := r.s3.ListObjectsV2(ctx, &s3.ListObjectsV2Input{Bucket: aws.String(r.s.Bucket), MaxKeys: aws.Int32(1), Prefix: aws.String(objectPrefix)})
			if lerr != nil && HTTPStatus(lerr) != 0 {
				return outcome{}, &headError{head: err, detail: lerr}
			}
		}
		return outcome{}, err
	}
	got := aws.ToString(out.BucketRegion)
	if got != "" && got != r.s.Region {
		if !r.s.S3Compatible() {
			return outcome{}, &failure{cause: CauseWrongRegion,
				message: fmt.Sprintf("the bucket %s is in region %s, not %s", r.s.Bucket, got, r.s.Region),
				hint:    fmt.Sprintf("set region to %s (the bucket's region cannot be changed)", got)}
		}
		r.warn("the server says bucket %s is in region %q while the setting says %q; the server accepted the requests anyway, but consider setting region to %q",
			r.s.Bucket, got, r.s.Region, got)
	}
	r.reached = true
	if got != "" {
		return outcome{message: fmt.Sprintf("reached bucket %s in region %s", r.s.Bucket, got)}, nil
	}
	return outcome{message: fmt.Sprintf("reached bucket %s", r.s.Bucket)}, nil
}

func (r *run) putObject(ctx context.Context) (outcome, error) {
	nonce := make([]byte, 8)
	_, _ = rand.Read(nonce)
	r.body = fmt.Appendf(nil, "lakeport connection test\nwritten: %s\nsession: %s\nnonce: %s\n"+
		"lakeport deletes this object right after writing it; if it is still here, it is safe to delete.\n",
		r.o.Now().UTC().Format(time.RFC3339), r.sessionName(), hex.EncodeToString(nonce))
	in := &s3.PutObjectInput{
		Bucket:        aws.String(r.s.Bucket),
		Key:           aws.String(ObjectKey),
		Body:          bytes.NewReader(r.body),
		ContentLength: aws.Int64(int64(len(r.body))),
		ContentType:   aws.String("text/plain; charset=utf-8"),
	}
	if r.s.KMSKeyARN != "" {
		in.ServerSideEncryption = s3types.ServerSideEncryptionAwsKms
		in.SSEKMSKeyId = aws.String(r.s.KMSKeyARN)
	}
	out, err := r.s3.PutObject(ctx, in)
	if err != nil {
		return outcome{}, err
	}
	r.version = aws.ToString(out.VersionId)
	msg := fmt.Sprintf("wrote %s (%d bytes)", ObjectKey, len(r.body))
	if r.s.KMSKeyARN != "" {
		msg += " with SSE-KMS"
	}
	return outcome{message: msg}, nil
}

func (r *run) getObject(ctx context.Context) (outcome, error) {
	out, err := r.s3.GetObject(ctx, &s3.GetObjectInput{Bucket: aws.String(r.s.Bucket), Key: aws.String(ObjectKey)})
	if err != nil {
		return outcome{}, err
	}
	defer out.Body.Close()
	got, err := io.ReadAll(io.LimitReader(out.Body, int64(len(r.body))+1024))
	if err != nil {
		return outcome{}, err
	}
	if !bytes.Equal(got, r.body) {
		return outcome{}, &failure{cause: CauseContentMismatch,
			message: fmt.Sprintf("read back %d bytes that differ from the %d bytes written to %s", len(got), len(r.body), ObjectKey),
			hint:    "something between lakeport and the bucket changes objects (a proxy, or a server-side transformation); lakeport's tables would be corrupted: check the endpoint and the bucket's configuration"}
	}
	if r.s.KMSKeyARN != "" && !r.s.S3Compatible() && out.ServerSideEncryption != s3types.ServerSideEncryptionAwsKms {
		r.warn("the validation object came back without SSE-KMS encryption (%q) although a KMS key is set", out.ServerSideEncryption)
	}
	return outcome{message: fmt.Sprintf("read %s back, contents match", ObjectKey)}, nil
}

func (r *run) listObjects(ctx context.Context) (outcome, error) {
	out, err := r.s3.ListObjectsV2(ctx, &s3.ListObjectsV2Input{Bucket: aws.String(r.s.Bucket), Prefix: aws.String(objectPrefix)})
	if err != nil {
		return outcome{}, err
	}
	for _, obj := range out.Contents {
		if aws.ToString(obj.Key) == ObjectKey {
			return outcome{message: fmt.Sprintf("listed %s under %s", ObjectKey, objectPrefix)}, nil
		}
	}
	return outcome{}, &failure{cause: CauseObjectNotListed,
		message: fmt.Sprintf("listing %s did not show %s, which was just written and read", objectPrefix, ObjectKey),
		hint:    "lakeport finds table files by listing; check that the server lists objects consistently (and that no gateway filters listings)"}
}

func (r *run) deleteObject(ctx context.Context) (outcome, error) {
	_, err := r.s3.DeleteObject(ctx, &s3.DeleteObjectInput{Bucket: aws.String(r.s.Bucket), Key: aws.String(ObjectKey)})
	if err != nil {
		return outcome{}, err
	}
	if r.version != "" {
		// On a versioned bucket the delete left a delete marker; remove the
		// version too so the bucket keeps nothing. Best effort.
		_, verr := r.s3.DeleteObject(ctx, &s3.DeleteObjectInput{Bucket: aws.String(r.s.Bucket), Key: aws.String(ObjectKey), VersionId: aws.String(r.version)})
		if verr != nil {
			r.warn("the bucket is versioned and the old version %s of %s could not be removed (%s); lakeport needs only s3:DeleteObject, but without s3:DeleteObjectVersion old versions of deleted files stay in the bucket",
				r.version, ObjectKey, codeOr(verr))
		}
	}
	return outcome{message: fmt.Sprintf("deleted %s", ObjectKey)}, nil
}

func codeOr(err error) string {
	if c := ErrorCode(err); c != "" {
		return c
	}
	return err.Error()
}

// failure is a step failure lakeport itself decided (not an AWS error).
type failure struct{ cause, message, hint string }

func (f *failure) Error() string { return f.cause + ": " + f.message }

// inputError carries the problems Setting.Check found.
type inputError struct{ fields []storage.FieldError }

func (e *inputError) Error() string { return (&storage.SettingError{Fields: e.fields}).Error() }

// principalError is an AssumeRole failure, as the platform or as the workers.
type principalError struct {
	who string // "platform" or "workers"
	err error
}

func (e *principalError) Error() string { return e.who + ": " + e.err.Error() }
func (e *principalError) Unwrap() error { return e.err }

// headError is a HeadBucket failure with the detail a GET gave.
type headError struct{ head, detail error }

func (e *headError) Error() string { return e.detail.Error() }
func (e *headError) Unwrap() error { return e.detail }
