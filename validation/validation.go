// Package validation runs "Test connection" for a customer-hosted bucket: the
// sequence of real calls that proves lakeport can use it, as each of its two
// principals — the platform (assume the role, reach the bucket in its region,
// write, read, list and delete the validation object) and the sync workers
// (assume the role through their own role chain, then write, read, list and
// delete under a connector-shaped prefix) — and explains each failure in words an
// admin can act on, naming the principal a trust policy forgot.
package validation

import (
	"bytes"
	"context"
	"crypto/rand"
	"encoding/hex"
	"errors"
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
	"github.com/lakeport/lakeport/store"
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

// ObjectKey is the object Test connection writes, reads, lists and deletes as the
// platform.
const ObjectKey = ".lakeport/validation.txt"

// objectPrefix is the prefix list_objects lists as the platform.
const objectPrefix = ".lakeport/"

// WorkersPrefix is the prefix the workers' steps write under: shaped like a
// connector's (<name>/<table>/data/…) but not a name a connector can have (those
// start with a letter), so it never meets one.
const WorkersPrefix = "_lakeport_validation/"

// WorkersObjectKey is the object Test connection writes, reads, lists and deletes
// as the sync workers.
const WorkersObjectKey = WorkersPrefix + "validation/data/validation.txt"

// Principals, as steps name them.
const (
	PrincipalPlatform = string(storage.Platform)
	PrincipalWorkers  = string(storage.Workers)
)

// Step is one line of the report.
type Step struct {
	Name string `json:"name"`
	// Principal is who took the step: "platform" or "workers" ("" for the
	// offline input checks).
	Principal  string `json:"principal,omitempty"`
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

// Step returns the first step with the given name and whether there is one.
func (r Report) Step(name string) (Step, bool) {
	for _, s := range r.Steps {
		if s.Name == name {
			return s, true
		}
	}
	return Step{}, false
}

// StepOf returns principal's step with the given name and whether there is one.
func (r Report) StepOf(principal, name string) (Step, bool) {
	for _, s := range r.Steps {
		if s.Name == name && s.Principal == principal {
			return s, true
		}
	}
	return Step{}, false
}

// PrincipalOK reports whether every step of principal passed or was skipped
// without an earlier failure (false when a step of it failed or none ran).
func (r Report) PrincipalOK(principal string) bool {
	ran := false
	for _, s := range r.Steps {
		if s.Principal != principal {
			continue
		}
		if s.Status == StatusFailed {
			return false
		}
		ran = ran || s.Status == StatusPassed
	}
	return ran
}

// DefaultStepTimeout bounds each step when Options.StepTimeout is zero.
const DefaultStepTimeout = 15 * time.Second

// maxAttempts bounds the SDK's retries of one call.
const maxAttempts = 2

// Options tune Run.
type Options struct {
	// Access is the organization's external ID, session name and the way to
	// STS, as the platform.
	Access storage.Access
	// Workers is the same as the sync workers: its Credentials are their own
	// role's session (see storage.Resolver.AccessAs). Zero means the workers
	// use the platform's Access.
	Workers storage.Access
	// WorkerRoleARN is the workers' own role, assumed before the customer's
	// (LAKEPORT_WORKER_ROLE_ARN); empty when the workers have no principal of
	// their own, and then their assume_role is not tried separately.
	WorkerRoleARN string
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

// Principals is how an installation reaches an organization's bucket as each of its
// principals (storage.Resolver).
type Principals interface {
	AccessAs(org store.Org, who storage.Principal) storage.Access
	// WorkerRole is the workers' own role ("" when they have none).
	WorkerRole() string
}

var _ Principals = (*storage.Resolver)(nil)

// For returns the options that test org's bucket as both of p's principals; the
// caller adds timeouts and the names shown in hints.
func For(p Principals, org store.Org) Options {
	return Options{Access: p.AccessAs(org, storage.Platform), Workers: p.AccessAs(org, storage.Workers), WorkerRoleARN: p.WorkerRole()}
}

// Run tests the setting with real calls and reports each step.
//
// The platform goes first (assume_role, head_bucket, then the validation object),
// then the workers (assume_role, then an object under WorkersPrefix). Both
// assume_role steps are always tried, so a trust policy that names one principal and
// not the other is reported as such. Otherwise steps stop at the first failure
// (later steps are "skipped"), except delete_object: once the bucket was reached it
// is always tried, so a bucket never keeps a validation object.
func Run(ctx context.Context, s storage.Setting, o Options) Report {
	r := newRun(ctx, s, o)

	r.step(nil, StepCheckInputs, r.checkInputs)
	r.assumeRoles()
	r.step(r.platform, StepHeadBucket, r.headBucket)
	r.objectSteps(r.platform)
	r.objectSteps(r.workers)

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
	if o.Workers.ExternalID == "" {
		o.Workers = o.Access
	}
	r := &run{ctx: ctx, s: s, o: o}
	r.platform = &principal{name: PrincipalPlatform, key: ObjectKey, prefix: objectPrefix, access: o.Access}
	r.workers = &principal{name: PrincipalWorkers, key: WorkersObjectKey, prefix: WorkersPrefix, access: o.Workers}
	return r
}

// run is the state of one Run.
type run struct {
	ctx    context.Context
	s      storage.Setting
	o      Options
	report Report
	failed bool

	platform, workers *principal
	reached           bool // head_bucket passed: delete_object is always tried
	blocked           bool // check_inputs or head_bucket failed: every later step is skipped
}

// principal is one principal's part of a run.
type principal struct {
	name        string
	key, prefix string // the object it writes, and the prefix it lists
	access      storage.Access

	s3      *s3.Client
	failed  bool   // a step of this principal failed: its later steps are skipped
	tried   bool   // put_object was sent: delete_object is always tried
	body    []byte // what put_object wrote
	version string // the version put_object created, on a versioned bucket
}

// objectSteps writes, reads, lists and deletes p's object.
func (r *run) objectSteps(p *principal) {
	r.step(p, StepPutObject, func(ctx context.Context) (outcome, error) { return r.putObject(ctx, p) })
	r.step(p, StepGetObject, func(ctx context.Context) (outcome, error) { return r.getObject(ctx, p) })
	r.step(p, StepListObjects, func(ctx context.Context) (outcome, error) { return r.listObjects(ctx, p) })
	del := func(ctx context.Context) (outcome, error) { return r.deleteObject(ctx, p) }
	if r.reached && p.tried {
		r.always(p, StepDeleteObject, del)
	} else {
		r.step(p, StepDeleteObject, del)
	}
}

// outcome is what a step function returns: nil error means passed, with an
// optional message.
type outcome struct {
	message string
	skipped bool
}

// step runs fn as p (nil: no principal) unless an earlier step of p, the input
// checks or head_bucket failed.
func (r *run) step(p *principal, name string, fn func(ctx context.Context) (outcome, error)) {
	if r.blocked || (p != nil && p.failed) {
		r.record(Step{Name: name, Principal: p.label(), Status: StatusSkipped, Message: "skipped: an earlier step failed"})
		return
	}
	r.always(p, name, fn)
}

func (p *principal) label() string {
	if p == nil {
		return ""
	}
	return p.name
}

// always runs fn with its own bounded context and records the step.
func (r *run) always(p *principal, name string, fn func(ctx context.Context) (outcome, error)) {
	r.record(r.try(p, name, fn))
}

// try runs fn with its own bounded context and returns its step, without
// recording it.
func (r *run) try(p *principal, name string, fn func(ctx context.Context) (outcome, error)) Step {
	ctx, cancel := context.WithTimeout(r.ctx, r.o.StepTimeout)
	defer cancel()
	start := time.Now()
	out, err := fn(ctx)
	st := Step{Name: name, Principal: p.label(), DurationMS: time.Since(start).Milliseconds()}
	switch {
	case err == nil && out.skipped:
		st.Status, st.Message = StatusSkipped, out.message
	case err == nil:
		st.Status, st.Message = StatusPassed, out.message
	default:
		st.Status = StatusFailed
		r.explain(ctx, &st, err)
		r.failed = true
		if p == nil || name == StepHeadBucket {
			r.blocked = true
		} else {
			p.failed = true
		}
	}
	return st
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

func (r *run) stsClient(ctx context.Context, a storage.Access) (*sts.Client, error) {
	return storage.NewSTSClient(ctx, r.s, a, func(o *sts.Options) { o.Retryer = retryer() })
}

// assumeRoles assumes the role as the platform and as the workers — both always, so
// that when one is refused the other's outcome tells whether the trust policy forgot
// that principal — and records both steps.
func (r *run) assumeRoles() {
	p, w := r.platform, r.workers
	if r.blocked {
		r.step(p, StepAssumeRole, nil)
		r.step(w, StepAssumeRole, nil)
		return
	}
	if r.s.S3Compatible() {
		creds := credentials.NewStaticCredentialsProvider(r.s.AccessKeyID, r.s.SecretAccessKey, "")
		p.s3, w.s3 = r.newS3Client(p, creds), r.newS3Client(w, creds)
		msg := "no role to assume: the access keys sign the requests to the S3-compatible endpoint directly (S3-compatible servers have no STS)"
		r.record(Step{Name: StepAssumeRole, Principal: p.name, Status: StatusSkipped, Message: msg})
		r.record(Step{Name: StepAssumeRole, Principal: w.name, Status: StatusSkipped, Message: msg})
		return
	}
	var perr, werr error
	pst := r.try(p, StepAssumeRole, func(ctx context.Context) (outcome, error) {
		out, err := r.assumeRole(ctx, p)
		perr = err
		return out, err
	})
	separate := r.o.WorkerRoleARN != ""
	var wst Step
	if separate {
		wst = r.try(w, StepAssumeRole, func(ctx context.Context) (outcome, error) {
			out, err := r.assumeRole(ctx, w)
			werr = err
			return out, err
		})
	} else {
		wst = Step{Name: StepAssumeRole, Principal: w.name, Status: StatusSkipped,
			Message: "the sync workers have no principal of their own on this installation (no LAKEPORT_WORKER_ROLE_ARN): they use the platform's session"}
		w.s3, w.failed = p.s3, perr != nil
	}
	// Re-explain each failure knowing whether the other principal got in.
	if perr != nil && separate && werr == nil {
		r.explainWith(&pst, perr, true)
	}
	if werr != nil && perr == nil {
		r.explainWith(&wst, werr, true)
	}
	r.record(pst)
	r.record(wst)
	if perr == nil {
		r.probeExternalID(p)
	}
}

// explainWith explains a failed assume_role again, knowing whether the other
// principal assumed the role.
func (r *run) explainWith(st *Step, err error, otherOK bool) {
	ctx, cancel := context.WithTimeout(r.ctx, time.Second)
	defer cancel()
	var pe *principalError
	if errors.As(err, &pe) {
		pe.otherOK = otherOK
	}
	*st = Step{Name: st.Name, Principal: st.Principal, Status: StatusFailed, DurationMS: st.DurationMS}
	r.explain(ctx, st, err)
}

func (r *run) assumeRole(ctx context.Context, p *principal) (outcome, error) {
	client, err := r.stsClient(ctx, p.access)
	if err != nil {
		return outcome{}, &failure{cause: CausePlatformCredentials, message: "lakeport could not load its own AWS credentials to call STS: " + err.Error(),
			hint: "this is a problem of the lakeport installation, not of the bucket; contact the platform operator"}
	}
	creds, err := storage.AssumeRoleProvider(client, r.s, p.access).Retrieve(ctx)
	if err != nil {
		return outcome{}, &principalError{who: p.name, err: err}
	}
	p.s3 = r.newS3Client(p, credentials.StaticCredentialsProvider{Value: creds})
	if p == r.workers {
		return outcome{message: fmt.Sprintf("the sync workers (as %s) assumed %s as session %q with this organization's external ID",
			r.o.WorkerRoleARN, r.s.RoleARN, r.sessionName())}, nil
	}
	return outcome{message: fmt.Sprintf("assumed %s as session %q with this organization's external ID", r.s.RoleARN, r.sessionName())}, nil
}

// probeExternalID tries AssumeRole once more without an external ID. If
// that works too, the trust policy lacks its sts:ExternalId condition.
func (r *run) probeExternalID(p *principal) {
	ctx, cancel := context.WithTimeout(r.ctx, r.o.StepTimeout)
	defer cancel()
	client, err := r.stsClient(ctx, p.access)
	if err != nil {
		return
	}
	_, err = client.AssumeRole(ctx, &sts.AssumeRoleInput{
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

func (r *run) newS3Client(p *principal, creds aws.CredentialsProvider) *s3.Client {
	opts := append([]func(*s3.Options){func(o *s3.Options) { o.Retryer = retryer() }}, r.o.S3Options...)
	return storage.NewS3ClientWithCredentials(r.s, creds, p.access.S3HTTPClient(r.s), opts...)
}

func (r *run) headBucket(ctx context.Context) (outcome, error) {
	c := r.platform.s3
	out, err := c.HeadBucket(ctx, &s3.HeadBucketInput{Bucket: aws.String(r.s.Bucket)})
	if err != nil {
		// A HEAD response has no body, so its error has no code or message.
		// Ask the same question (s3:ListBucket) with a GET to learn them.
		if ctx.Err() == nil && HTTPStatus(err) != 0 {
			_, lerr := c.ListObjectsV2(ctx, &s3.ListObjectsV2Input{Bucket: aws.String(r.s.Bucket), MaxKeys: aws.Int32(1), Prefix: aws.String(objectPrefix)})
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

func (r *run) putObject(ctx context.Context, p *principal) (outcome, error) {
	nonce := make([]byte, 8)
	_, _ = rand.Read(nonce)
	p.body = fmt.Appendf(nil, "lakeport connection test (%s)\nwritten: %s\nsession: %s\nnonce: %s\n"+
		"lakeport deletes this object right after writing it; if it is still here, it is safe to delete.\n",
		p.name, r.o.Now().UTC().Format(time.RFC3339), r.sessionName(), hex.EncodeToString(nonce))
	in := &s3.PutObjectInput{
		Bucket:        aws.String(r.s.Bucket),
		Key:           aws.String(p.key),
		Body:          bytes.NewReader(p.body),
		ContentLength: aws.Int64(int64(len(p.body))),
		ContentType:   aws.String("text/plain; charset=utf-8"),
	}
	if r.s.KMSKeyARN != "" {
		in.ServerSideEncryption = s3types.ServerSideEncryptionAwsKms
		in.SSEKMSKeyId = aws.String(r.s.KMSKeyARN)
	}
	p.tried = true
	out, err := p.s3.PutObject(ctx, in)
	if err != nil {
		return outcome{}, err
	}
	p.version = aws.ToString(out.VersionId)
	msg := fmt.Sprintf("wrote %s (%d bytes)", p.key, len(p.body))
	if r.s.KMSKeyARN != "" {
		msg += " with SSE-KMS"
	}
	return outcome{message: msg}, nil
}

func (r *run) getObject(ctx context.Context, p *principal) (outcome, error) {
	out, err := p.s3.GetObject(ctx, &s3.GetObjectInput{Bucket: aws.String(r.s.Bucket), Key: aws.String(p.key)})
	if err != nil {
		return outcome{}, err
	}
	defer out.Body.Close()
	got, err := io.ReadAll(io.LimitReader(out.Body, int64(len(p.body))+1024))
	if err != nil {
		return outcome{}, err
	}
	if !bytes.Equal(got, p.body) {
		return outcome{}, &failure{cause: CauseContentMismatch,
			message: fmt.Sprintf("read back %d bytes that differ from the %d bytes written to %s", len(got), len(p.body), p.key),
			hint:    "something between lakeport and the bucket changes objects (a proxy, or a server-side transformation); lakeport's tables would be corrupted: check the endpoint and the bucket's configuration"}
	}
	if r.s.KMSKeyARN != "" && !r.s.S3Compatible() && out.ServerSideEncryption != s3types.ServerSideEncryptionAwsKms {
		r.warn("the validation object came back without SSE-KMS encryption (%q) although a KMS key is set", out.ServerSideEncryption)
	}
	return outcome{message: fmt.Sprintf("read %s back, contents match", p.key)}, nil
}

func (r *run) listObjects(ctx context.Context, p *principal) (outcome, error) {
	out, err := p.s3.ListObjectsV2(ctx, &s3.ListObjectsV2Input{Bucket: aws.String(r.s.Bucket), Prefix: aws.String(p.prefix)})
	if err != nil {
		return outcome{}, err
	}
	for _, obj := range out.Contents {
		if aws.ToString(obj.Key) == p.key {
			return outcome{message: fmt.Sprintf("listed %s under %s", p.key, p.prefix)}, nil
		}
	}
	return outcome{}, &failure{cause: CauseObjectNotListed,
		message: fmt.Sprintf("listing %s did not show %s, which was just written and read", p.prefix, p.key),
		hint:    "lakeport finds table files by listing; check that the server lists objects consistently (and that no gateway filters listings)"}
}

func (r *run) deleteObject(ctx context.Context, p *principal) (outcome, error) {
	_, err := p.s3.DeleteObject(ctx, &s3.DeleteObjectInput{Bucket: aws.String(r.s.Bucket), Key: aws.String(p.key)})
	if err != nil {
		return outcome{}, err
	}
	if p.version != "" {
		// On a versioned bucket the delete left a delete marker; remove the
		// version too so the bucket keeps nothing. Best effort.
		_, verr := p.s3.DeleteObject(ctx, &s3.DeleteObjectInput{Bucket: aws.String(r.s.Bucket), Key: aws.String(p.key), VersionId: aws.String(p.version)})
		if verr != nil {
			r.warn("the bucket is versioned and the old version %s of %s could not be removed (%s); lakeport needs only s3:DeleteObject, but without s3:DeleteObjectVersion old versions of deleted files stay in the bucket",
				p.version, p.key, codeOr(verr))
		}
	}
	return outcome{message: fmt.Sprintf("deleted %s", p.key)}, nil
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
	who     string // "platform" or "workers"
	err     error
	otherOK bool // the other principal assumed the role
}

func (e *principalError) Error() string { return e.who + ": " + e.err.Error() }
func (e *principalError) Unwrap() error { return e.err }

// headError is a HeadBucket failure with the detail a GET gave.
type headError struct{ head, detail error }

func (e *headError) Error() string { return e.detail.Error() }
func (e *headError) Unwrap() error { return e.detail }
