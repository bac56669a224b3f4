package validation_test

import (
	"context"
	"encoding/json"
	"fmt"
	"net"
	"net/http"
	"net/http/httptest"
	"os"
	"reflect"
	"strings"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/credentials"
	"github.com/aws/aws-sdk-go-v2/service/s3"

	"github.com/lakeport/lakeport/s3test"
	"github.com/lakeport/lakeport/storage"
	"github.com/lakeport/lakeport/store"
	"github.com/lakeport/lakeport/validation"
)

func TestMain(m *testing.M) { os.Exit(s3test.Main(m)) }

// allSteps are the steps of a report in order, each "principal/name".
var allSteps = []string{
	"/" + validation.StepCheckInputs, "platform/" + validation.StepAssumeRole, "workers/" + validation.StepAssumeRole,
	"platform/" + validation.StepHeadBucket,
	"platform/" + validation.StepPutObject, "platform/" + validation.StepGetObject, "platform/" + validation.StepListObjects, "platform/" + validation.StepDeleteObject,
	"workers/" + validation.StepPutObject, "workers/" + validation.StepGetObject, "workers/" + validation.StepListObjects, "workers/" + validation.StepDeleteObject,
}

// userBucket creates a versitygw user and a bucket it owns.
func userBucket(t *testing.T, s *s3test.Server, prefix string) (bucket, ak, sk string) {
	t.Helper()
	bucket = s.NewBucket(t, prefix)
	ak, sk = s3test.RandomKey("ak"), s3test.RandomKey("sk")
	s.CreateUser(t, ak, sk)
	s.ChangeBucketOwner(t, bucket, ak)
	return bucket, ak, sk
}

func keySetting(s *s3test.Server, bucket, ak, sk string) storage.Setting {
	return storage.Setting{Bucket: bucket, Region: s.Region, Endpoint: s.Endpoint, AccessKeyID: ak, SecretAccessKey: sk}
}

// wantStatuses checks every step's status, in order.
func wantStatuses(t *testing.T, r validation.Report, want ...validation.Status) {
	t.Helper()
	if len(r.Steps) != len(allSteps) {
		t.Fatalf("report has %d steps, want %d: %s", len(r.Steps), len(allSteps), dump(r))
	}
	for i, st := range r.Steps {
		if st.Principal+"/"+st.Name != allSteps[i] {
			t.Fatalf("step %d is %s/%s, want %s", i, st.Principal, st.Name, allSteps[i])
		}
		if st.Status != want[i] {
			t.Fatalf("step %s is %s, want %s: %s", st.Name, st.Status, want[i], dump(r))
		}
	}
}

func failedStep(t *testing.T, r validation.Report, name, cause string) validation.Step {
	t.Helper()
	st, ok := r.Step(name)
	if !ok || st.Status != validation.StatusFailed {
		t.Fatalf("step %s did not fail: %s", name, dump(r))
	}
	if st.Cause != cause {
		t.Fatalf("step %s failed with cause %q, want %q: %s", name, st.Cause, cause, dump(r))
	}
	if r.OK {
		t.Fatalf("report OK although %s failed", name)
	}
	if st.Message == "" || st.Hint == "" {
		t.Fatalf("step %s has no message or hint: %s", name, dump(r))
	}
	return st
}

func dump(r validation.Report) string {
	b, _ := json.MarshalIndent(r, "", "  ")
	return string(b)
}

func mustContain(t *testing.T, what, s string, subs ...string) {
	t.Helper()
	for _, sub := range subs {
		if !strings.Contains(s, sub) {
			t.Errorf("%s %q does not contain %q", what, s, sub)
		}
	}
}

const (
	P = validation.StatusPassed
	F = validation.StatusFailed
	S = validation.StatusSkipped
)

func TestPassingBucket(t *testing.T) {
	s := s3test.Shared(t)
	bucket, ak, sk := userBucket(t, s, "pass")
	r := validation.Run(context.Background(), keySetting(s, bucket, ak, sk), validation.Options{StepTimeout: 10 * time.Second})
	wantStatuses(t, r, P, S, S, P, P, P, P, P, P, P, P, P)
	if !r.OK {
		t.Fatalf("report not OK: %s", dump(r))
	}
	as, _ := r.Step(validation.StepAssumeRole)
	mustContain(t, "assume_role message", as.Message, "access keys sign the requests")
	if s.ObjectExists(t, bucket, validation.ObjectKey) {
		t.Fatal("the bucket still holds the validation object")
	}
	if len(r.Warnings) != 0 {
		t.Errorf("warnings on a clean bucket: %v", r.Warnings)
	}
}

func TestInvalidInputSkipsEverything(t *testing.T) {
	r := validation.Run(context.Background(), storage.Setting{Bucket: "Bad_Bucket", Region: "us-east-1", RoleARN: "arn:aws:iam::12:role/x"}, validation.Options{})
	wantStatuses(t, r, F, S, S, S, S, S, S, S, S, S, S, S)
	st := failedStep(t, r, validation.StepCheckInputs, validation.CauseInvalidInput)
	mustContain(t, "message", st.Message, "bucket:", "role_arn:", "12 digits")
}

func TestMissingBucket(t *testing.T) {
	s := s3test.Shared(t)
	_, ak, sk := userBucket(t, s, "exists")
	r := validation.Run(context.Background(), keySetting(s, "no-such-bucket-here", ak, sk), validation.Options{StepTimeout: 10 * time.Second})
	wantStatuses(t, r, P, S, S, F, S, S, S, S, S, S, S, S)
	st := failedStep(t, r, validation.StepHeadBucket, validation.CauseBucketNotFound)
	mustContain(t, "message", st.Message, "no-such-bucket-here")
	if st.ErrorCode != "NoSuchBucket" || st.RequestID == "" {
		t.Errorf("error code %q request ID %q, want NoSuchBucket and an ID", st.ErrorCode, st.RequestID)
	}
}

func TestWrongKeys(t *testing.T) {
	s := s3test.Shared(t)
	bucket, ak, _ := userBucket(t, s, "keys")
	for _, tc := range []struct {
		name, ak, sk, code string
	}{
		{"wrong secret", ak, "not-the-secret", "SignatureDoesNotMatch"},
		{"unknown key", "nosuchkey", "whatever", "InvalidAccessKeyId"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			r := validation.Run(context.Background(), keySetting(s, bucket, tc.ak, tc.sk), validation.Options{StepTimeout: 10 * time.Second})
			wantStatuses(t, r, P, S, S, F, S, S, S, S, S, S, S, S)
			st := failedStep(t, r, validation.StepHeadBucket, validation.CauseBadCredentials)
			if st.ErrorCode != tc.code {
				t.Errorf("error code %q, want %q", st.ErrorCode, tc.code)
			}
			mustContain(t, "hint", st.Hint, "access_key_id", "secret_access_key")
			if strings.Contains(dump(r), tc.sk) {
				t.Error("the report shows the secret access key")
			}
		})
	}
}

func denyPolicy(bucket, user, action string) string {
	return `{"Version":"2012-10-17","Statement":[
		{"Effect":"Allow","Principal":{"AWS":["` + user + `"]},"Action":["s3:*"],"Resource":["arn:aws:s3:::` + bucket + `","arn:aws:s3:::` + bucket + `/*"]},
		{"Effect":"Deny","Principal":{"AWS":["` + user + `"]},"Action":["` + action + `"],"Resource":["arn:aws:s3:::` + bucket + `/*"]}]}`
}

func TestBucketPolicyDeniesPut(t *testing.T) {
	s := s3test.Shared(t)
	bucket, ak, sk := userBucket(t, s, "denyput")
	s.PutBucketPolicy(t, bucket, denyPolicy(bucket, ak, "s3:PutObject"))

	r := validation.Run(context.Background(), keySetting(s, bucket, ak, sk), validation.Options{StepTimeout: 10 * time.Second})
	// The bucket was reached, so delete_object runs although put failed.
	wantStatuses(t, r, P, S, S, P, F, S, S, P, F, S, S, P)
	st := failedStep(t, r, validation.StepPutObject, validation.CauseExplicitDeny)
	mustContain(t, "message", st.Message, "s3:PutObject", "resource-based policy")
	mustContain(t, "hint", st.Hint, "bucket policy of "+bucket)
	if st.ErrorCode != "AccessDenied" {
		t.Errorf("error code %q, want AccessDenied", st.ErrorCode)
	}
	if s.ObjectExists(t, bucket, validation.ObjectKey) {
		t.Fatal("the bucket holds a validation object")
	}
}

func TestDeleteAfterFailedRead(t *testing.T) {
	s := s3test.Shared(t)
	bucket, ak, sk := userBucket(t, s, "denyget")
	s.PutBucketPolicy(t, bucket, denyPolicy(bucket, ak, "s3:GetObject"))

	r := validation.Run(context.Background(), keySetting(s, bucket, ak, sk), validation.Options{StepTimeout: 10 * time.Second})
	wantStatuses(t, r, P, S, S, P, P, F, S, P, P, F, S, P)
	st := failedStep(t, r, validation.StepGetObject, validation.CauseExplicitDeny)
	mustContain(t, "message", st.Message, "s3:GetObject")
	if s.ObjectExists(t, bucket, validation.ObjectKey) {
		t.Fatal("the validation object written by put_object was left in the bucket")
	}
}

func TestWrongRegionFromServer(t *testing.T) {
	s := s3test.Shared(t)
	bucket, ak, sk := userBucket(t, s, "region")
	set := keySetting(s, bucket, ak, sk)
	set.Region = "eu-west-1"
	r := validation.Run(context.Background(), set, validation.Options{StepTimeout: 10 * time.Second})
	wantStatuses(t, r, P, S, S, F, S, S, S, S, S, S, S, S)
	st := failedStep(t, r, validation.StepHeadBucket, validation.CauseWrongRegion)
	mustContain(t, "message", st.Message, s.Region)
	mustContain(t, "hint", st.Hint, "set region to "+s.Region)
}

func TestServerNeverAnswers(t *testing.T) {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer l.Close()
	go func() {
		var conns []net.Conn
		defer func() {
			for _, c := range conns {
				c.Close()
			}
		}()
		for {
			c, err := l.Accept()
			if err != nil {
				return
			}
			conns = append(conns, c) // accept, read nothing, answer nothing
		}
	}()

	const timeout = 500 * time.Millisecond
	set := storage.Setting{Bucket: "silent", Region: "us-east-1", Endpoint: "http://" + l.Addr().String(), AccessKeyID: "AKIDEXAMPLE", SecretAccessKey: "secretsecret"}
	start := time.Now()
	r := validation.Run(context.Background(), set, validation.Options{StepTimeout: timeout})
	elapsed := time.Since(start)

	wantStatuses(t, r, P, S, S, F, S, S, S, S, S, S, S, S)
	st := failedStep(t, r, validation.StepHeadBucket, validation.CauseTimeout)
	mustContain(t, "message", st.Message, "no answer", set.Endpoint, timeout.String())
	// A sanity bound, not a benchmark: the step is cut at its timeout.
	if elapsed > 20*timeout {
		t.Errorf("Run took %s with a step timeout of %s", elapsed, timeout)
	}
}

func TestEndpointUnreachable(t *testing.T) {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	addr := l.Addr().String()
	l.Close() // nothing listens here any more
	set := storage.Setting{Bucket: "nobody", Region: "us-east-1", Endpoint: "http://" + addr, AccessKeyID: "AKIDEXAMPLE", SecretAccessKey: "secretsecret"}
	r := validation.Run(context.Background(), set, validation.Options{StepTimeout: 5 * time.Second})
	st := failedStep(t, r, validation.StepHeadBucket, validation.CauseEndpointUnreachable)
	mustContain(t, "message", st.Message, addr)
}

// --- the role path: real SDK against a fake STS, S3 calls to versitygw ---

const (
	roleARN    = "arn:aws:iam::123456789012:role/lakeport-access"
	externalID = "lakeport-org-7f3a9c"
	session    = "lakeport-org-42"
)

type rolePath struct {
	s           *s3test.Server
	sts         *s3test.STS
	bucket      string
	platformKey string
}

func newRolePath(t *testing.T, prefix string) *rolePath {
	s := s3test.Shared(t)
	bucket, ak, sk := userBucket(t, s, prefix)
	f := s3test.NewSTS(t)
	rp := &rolePath{s: s, sts: f, bucket: bucket, platformKey: s3test.RandomKey("PLATFORM")}
	f.AddRole(s3test.Role{ARN: roleARN, ExternalID: externalID, Trusted: []string{rp.platformKey}, AccessKey: ak, SecretKey: sk})
	return rp
}

func (rp *rolePath) setting() storage.Setting {
	return storage.Setting{Bucket: rp.bucket, Region: "us-east-1", RoleARN: roleARN}
}

func (rp *rolePath) options() validation.Options {
	return validation.Options{
		Access: storage.Access{
			ExternalID:  externalID,
			SessionName: session,
			STSEndpoint: rp.sts.URL,
			Credentials: credentials.NewStaticCredentialsProvider(rp.platformKey, "platform-secret", ""),
		},
		StepTimeout:        10 * time.Second,
		PlatformAccountID:  "999988887777",
		WorkerPrincipalARN: "arn:aws:iam::999988887777:role/lakeport-workers",
		S3Options: []func(*s3.Options){func(o *s3.Options) {
			o.BaseEndpoint = aws.String(rp.s.Endpoint)
			o.UsePathStyle = true
			o.RequestChecksumCalculation = aws.RequestChecksumCalculationWhenRequired
			o.ResponseChecksumValidation = aws.ResponseChecksumValidationWhenRequired
		}, s3test.IgnoreSessionToken},
	}
}

func TestRolePathPasses(t *testing.T) {
	rp := newRolePath(t, "role")
	r := validation.Run(context.Background(), rp.setting(), rp.options())
	wantStatuses(t, r, P, P, S, P, P, P, P, P, P, P, P, P)
	if !r.OK || len(r.Warnings) != 0 {
		t.Fatalf("report: %s", dump(r))
	}
	reqs := rp.sts.Requests()
	if len(reqs) == 0 {
		t.Fatal("STS was never called")
	}
	first := reqs[0]
	if got := first.Form.Get("ExternalId"); got != externalID {
		t.Errorf("AssumeRole ExternalId = %q, want %q", got, externalID)
	}
	if got := first.Form.Get("RoleSessionName"); got != session {
		t.Errorf("AssumeRole RoleSessionName = %q, want %q", got, session)
	}
	if got := first.Form.Get("RoleArn"); got != roleARN {
		t.Errorf("AssumeRole RoleArn = %q", got)
	}
	if first.CallerAccessKey != rp.platformKey {
		t.Errorf("STS called with key %q, want the platform's %q", first.CallerAccessKey, rp.platformKey)
	}
	// The probe without an external ID was made, and refused.
	probed := false
	for _, q := range reqs {
		if _, ok := q.Form["ExternalId"]; !ok {
			probed = true
		}
	}
	if !probed {
		t.Error("no AssumeRole without an external ID was tried")
	}
	if rp.s.ObjectExists(t, rp.bucket, validation.ObjectKey) {
		t.Fatal("the bucket still holds the validation object")
	}
}

func TestRolePathSignsWithSTSCredentials(t *testing.T) {
	rp := newRolePath(t, "rolecreds")
	// The same role now hands out credentials versitygw does not know: the
	// S3 calls must fail, which shows they were signed with what STS returned.
	rp.sts.AddRole(s3test.Role{ARN: roleARN, ExternalID: externalID, Trusted: []string{rp.platformKey}, AccessKey: "AKIAUNKNOWNKEY", SecretKey: "unknown-secret"})
	r := validation.Run(context.Background(), rp.setting(), rp.options())
	wantStatuses(t, r, P, P, S, F, S, S, S, S, S, S, S, S)
	st := failedStep(t, r, validation.StepHeadBucket, validation.CauseBadCredentials)
	if st.ErrorCode != "InvalidAccessKeyId" {
		t.Errorf("error code %q, want InvalidAccessKeyId", st.ErrorCode)
	}
}

func TestRolePathDenied(t *testing.T) {
	for _, tc := range []struct {
		name      string
		breakRole func(rp *rolePath)
	}{
		{"external ID mismatch", func(rp *rolePath) {
			rp.sts.AddRole(s3test.Role{ARN: roleARN, ExternalID: "another-orgs-id", Trusted: []string{rp.platformKey}, AccessKey: "x", SecretKey: "y"})
		}},
		{"platform not trusted", func(rp *rolePath) {
			rp.sts.AddRole(s3test.Role{ARN: roleARN, ExternalID: externalID, Trusted: []string{"SOMEONEELSE"}, AccessKey: "x", SecretKey: "y"})
		}},
		{"no such role", func(rp *rolePath) { rp.sts.RemoveRole(roleARN) }},
	} {
		t.Run(tc.name, func(t *testing.T) {
			rp := newRolePath(t, "denied")
			tc.breakRole(rp)
			r := validation.Run(context.Background(), rp.setting(), rp.options())
			wantStatuses(t, r, P, F, S, S, S, S, S, S, S, S, S, S)
			st := failedStep(t, r, validation.StepAssumeRole, validation.CauseRoleNotAssumable)
			if st.ErrorCode != "AccessDenied" || st.RequestID == "" {
				t.Errorf("error code %q request ID %q", st.ErrorCode, st.RequestID)
			}
			mustContain(t, "message", st.Message, roleARN, "trust policy", "external ID", "does not exist")
			mustContain(t, "hint", st.Hint, "(1)", "(2)", "(3)", externalID, session, "999988887777", "arn:aws:iam::999988887777:role/lakeport-workers", "sts:ExternalId")
			if len(r.Warnings) != 0 {
				t.Errorf("warnings: %v", r.Warnings)
			}
		})
	}
}

func TestMissingExternalIDConditionWarns(t *testing.T) {
	rp := newRolePath(t, "noextid")
	// A trust policy without the sts:ExternalId condition.
	ak, sk := s3test.RandomKey("ak"), s3test.RandomKey("sk")
	rp.s.CreateUser(t, ak, sk)
	rp.s.ChangeBucketOwner(t, rp.bucket, ak)
	rp.sts.AddRole(s3test.Role{ARN: roleARN, ExternalID: "", Trusted: []string{rp.platformKey}, AccessKey: ak, SecretKey: sk})

	r := validation.Run(context.Background(), rp.setting(), rp.options())
	if !r.OK {
		t.Fatalf("report not OK: %s", dump(r))
	}
	if len(r.Warnings) != 1 {
		t.Fatalf("warnings = %v, want one about the external ID", r.Warnings)
	}
	mustContain(t, "warning", r.Warnings[0], "sts:ExternalId", externalID, "role ARN")
}

// The two principals of a role chain: the platform (its own key, in account
// 111122223333) and the sync workers (a role in account 444455556666 that the platform
// assumes first).
const (
	platformARN   = "arn:aws:iam::111122223333:user/lakeport-platform"
	workerRoleARN = "arn:aws:iam::444455556666:role/lakeport-sync-worker"
)

// chain sets up the workers' role in rp's STS and returns options for both principals.
func (rp *rolePath) chain(t *testing.T) validation.Options {
	rp.sts.AddCaller(rp.platformKey, platformARN)
	rp.sts.AddRole(s3test.Role{ARN: workerRoleARN, AccessKey: s3test.RandomKey("WORKER"), SecretKey: "worker-secret",
		TrustPolicy: `{"Statement":[{"Effect":"Allow","Principal":{"AWS":"arn:aws:iam::111122223333:root"},"Action":"sts:AssumeRole"}]}`})
	o := rp.options()
	o.PlatformAccountID, o.WorkerPrincipalARN, o.WorkerRoleARN = "111122223333", workerRoleARN, workerRoleARN
	locs := &storage.Resolver{Identity: storage.Identity{STSEndpoint: rp.sts.URL, Credentials: o.Access.Credentials, WorkerRoleARN: workerRoleARN}}
	org := store.Org{ID: "org_42", ExternalID: externalID}
	o.Workers = locs.AccessAs(org, storage.Workers)
	o.Workers.SessionName = session
	return o
}

// trustCustomerRole makes the customer's role trust the given principals (JSON).
func (rp *rolePath) trustCustomerRole(t *testing.T, principals string) {
	ak, sk := s3test.RandomKey("ak"), s3test.RandomKey("sk")
	rp.s.CreateUser(t, ak, sk)
	rp.s.ChangeBucketOwner(t, rp.bucket, ak)
	rp.sts.AddRole(s3test.Role{ARN: roleARN, AccessKey: ak, SecretKey: sk, TrustPolicy: `{"Version":"2012-10-17","Statement":[{"Effect":"Allow",
		"Principal":{"AWS":` + principals + `},"Action":"sts:AssumeRole","Condition":{"StringEquals":{"sts:ExternalId":"` + externalID + `"}}}]}`})
}

// A trust policy without the workers' principal fails Test connection with that cause,
// while the platform's steps pass.
func TestTrustPolicyWithoutWorkers(t *testing.T) {
	rp := newRolePath(t, "noworkers")
	o := rp.chain(t)
	rp.trustCustomerRole(t, `"arn:aws:iam::111122223333:root"`)
	r := validation.Run(context.Background(), rp.setting(), o)
	wantStatuses(t, r, P, P, F, P, P, P, P, P, S, S, S, S)
	st, _ := r.StepOf(validation.PrincipalWorkers, validation.StepAssumeRole)
	if st.Cause != validation.CauseTrustPolicy {
		t.Fatalf("workers' assume_role: cause %q, want trust_policy: %s", st.Cause, dump(r))
	}
	mustContain(t, "message", st.Message, "sync workers", workerRoleARN)
	mustContain(t, "hint", st.Hint, workerRoleARN, "Principal")
	if !r.PrincipalOK(validation.PrincipalPlatform) || r.PrincipalOK(validation.PrincipalWorkers) || r.OK {
		t.Errorf("platform OK %v, workers OK %v, report OK %v", r.PrincipalOK(validation.PrincipalPlatform), r.PrincipalOK(validation.PrincipalWorkers), r.OK)
	}
	// The workers' call came from their role's session, a hop of the chain.
	var sawWorkers bool
	for _, q := range rp.sts.Requests() {
		sawWorkers = sawWorkers || (q.Caller == workerRoleARN && q.Form.Get("RoleArn") == roleARN && q.Denied)
	}
	if !sawWorkers {
		t.Errorf("STS never saw the workers' role try the customer's role: %+v", rp.sts.Requests())
	}
}

// A trust policy without the platform's account names the platform; the workers pass.
func TestTrustPolicyWithoutPlatform(t *testing.T) {
	rp := newRolePath(t, "noplatform")
	o := rp.chain(t)
	rp.trustCustomerRole(t, `"`+workerRoleARN+`"`)
	r := validation.Run(context.Background(), rp.setting(), o)
	wantStatuses(t, r, P, F, P, S, S, S, S, S, P, P, P, P)
	st := failedStep(t, r, validation.StepAssumeRole, validation.CauseTrustPolicy)
	if st.Principal != validation.PrincipalPlatform {
		t.Fatalf("failed step of %q, want platform", st.Principal)
	}
	mustContain(t, "message", st.Message, "platform", "111122223333")
	mustContain(t, "hint", st.Hint, "arn:aws:iam::111122223333:root")
}

// Both principals named: every step of both passes, and the workers write under
// their connector-shaped prefix and leave nothing behind.
func TestTrustPolicyWithBoth(t *testing.T) {
	rp := newRolePath(t, "both")
	o := rp.chain(t)
	rp.trustCustomerRole(t, `["arn:aws:iam::111122223333:root","`+workerRoleARN+`"]`)
	r := validation.Run(context.Background(), rp.setting(), o)
	wantStatuses(t, r, P, P, P, P, P, P, P, P, P, P, P, P)
	put, _ := r.StepOf(validation.PrincipalWorkers, validation.StepPutObject)
	mustContain(t, "workers' put", put.Message, validation.WorkersObjectKey)
	if rp.s.ObjectExists(t, rp.bucket, validation.WorkersObjectKey) || rp.s.ObjectExists(t, rp.bucket, validation.ObjectKey) {
		t.Error("a validation object was left in the bucket")
	}
}

// The workers' own role cannot be assumed: an installation problem, not the customer's.
func TestWorkerRoleNotAssumable(t *testing.T) {
	rp := newRolePath(t, "wrole")
	o := rp.chain(t)
	rp.trustCustomerRole(t, `["arn:aws:iam::111122223333:root","`+workerRoleARN+`"]`)
	rp.sts.RemoveRole(workerRoleARN)
	r := validation.Run(context.Background(), rp.setting(), o)
	st, _ := r.StepOf(validation.PrincipalWorkers, validation.StepAssumeRole)
	if st.Status != validation.StatusFailed || st.Cause != validation.CausePlatformConfig {
		t.Fatalf("workers' assume_role %+v, want platform_config: %s", st, dump(r))
	}
	mustContain(t, "message", st.Message, workerRoleARN)
	mustContain(t, "hint", st.Hint, "operator")
}

// A bucket policy that lets lakeport write only its validation folder passes the
// platform's steps but fails the workers', who write where connectors do.
func TestWorkersCannotWriteConnectorPrefixes(t *testing.T) {
	s := s3test.Shared(t)
	bucket, ak, sk := userBucket(t, s, "wprefix")
	s.PutBucketPolicy(t, bucket, `{"Version":"2012-10-17","Statement":[
		{"Effect":"Allow","Principal":{"AWS":["`+ak+`"]},"Action":["s3:*"],"Resource":["arn:aws:s3:::`+bucket+`","arn:aws:s3:::`+bucket+`/.lakeport/*"]}]}`)
	r := validation.Run(context.Background(), keySetting(s, bucket, ak, sk), validation.Options{StepTimeout: 10 * time.Second})
	wantStatuses(t, r, P, S, S, P, P, P, P, P, F, S, S, F)
	st, _ := r.StepOf(validation.PrincipalWorkers, validation.StepPutObject)
	if st.Cause != validation.CauseMissingS3Permission || !strings.Contains(st.Message+st.Hint, "PutObject") {
		t.Fatalf("workers' put_object: %+v", st)
	}
}

func TestSTSNeverAnswers(t *testing.T) {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer l.Close()
	go func() {
		for {
			c, err := l.Accept()
			if err != nil {
				return
			}
			defer c.Close()
		}
	}()
	o := validation.Options{
		Access:      storage.Access{ExternalID: externalID, SessionName: session, STSEndpoint: "http://" + l.Addr().String(), Credentials: credentials.NewStaticCredentialsProvider("A", "B", "")},
		StepTimeout: 300 * time.Millisecond,
	}
	r := validation.Run(context.Background(), storage.Setting{Bucket: "some-bucket", Region: "us-east-1", RoleARN: roleARN}, o)
	st := failedStep(t, r, validation.StepAssumeRole, validation.CauseTimeout)
	mustContain(t, "message", st.Message, "STS")
}

// TestWrongRegionRedirect runs the role path against an S3 stand-in that
// answers as AWS does for a bucket in another region: 301 with the
// x-amz-bucket-region header (no body to HEAD, PermanentRedirect XML to GET).
func TestWrongRegionRedirect(t *testing.T) {
	aws301 := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("x-amz-bucket-region", "eu-central-1")
		w.Header().Set("x-amz-request-id", "0A49CE4060975EAC")
		w.Header().Set("x-amz-id-2", "MzRISOwyjmnupCzjI1WC06l5TTAzm7/JypPGXLh0OVFGcJaaO3KW/hRAqKOpIEEp")
		w.Header().Set("Content-Type", "application/xml")
		w.WriteHeader(http.StatusMovedPermanently)
		if r.Method != http.MethodHead {
			fmt.Fprint(w, `<?xml version="1.0" encoding="UTF-8"?>`+"\n"+`<Error><Code>PermanentRedirect</Code><Message>The bucket you are attempting to access must be addressed using the specified endpoint. Please send all future requests to this endpoint.</Message><Endpoint>acme-data.s3.eu-central-1.amazonaws.com</Endpoint><Bucket>acme-data</Bucket><RequestId>0A49CE4060975EAC</RequestId><HostId>MzRISOwyjmnupCzjI1WC06l5TTAzm7/JypPGXLh0OVFGcJaaO3KW/hRAqKOpIEEp</HostId></Error>`)
		}
	}))
	defer aws301.Close()

	f := s3test.NewSTS(t)
	f.AddRole(s3test.Role{ARN: roleARN, ExternalID: externalID, Trusted: []string{"PLATFORM"}, AccessKey: "ASIAEXAMPLE", SecretKey: "secret"})
	o := validation.Options{
		Access: storage.Access{ExternalID: externalID, SessionName: session, STSEndpoint: f.URL,
			Credentials: credentials.NewStaticCredentialsProvider("PLATFORM", "platform-secret", "")},
		StepTimeout: 5 * time.Second,
		S3Options:   []func(*s3.Options){func(o *s3.Options) { o.BaseEndpoint = aws.String(aws301.URL); o.UsePathStyle = true }},
	}
	r := validation.Run(context.Background(), storage.Setting{Bucket: "acme-data", Region: "us-east-1", RoleARN: roleARN}, o)
	wantStatuses(t, r, P, P, S, F, S, S, S, S, S, S, S, S)
	st := failedStep(t, r, validation.StepHeadBucket, validation.CauseWrongRegion)
	mustContain(t, "message", st.Message, "acme-data", "eu-central-1", "not us-east-1")
	mustContain(t, "hint", st.Hint, "set region to eu-central-1")
	if st.RequestID != "0A49CE4060975EAC" {
		t.Errorf("request ID %q", st.RequestID)
	}
}

// OnStep sees every step as it finishes, skipped ones included, in the report's order,
// and the report is the one Run returns without it.
func TestOnStepSeesEachStep(t *testing.T) {
	s := s3test.Shared(t)
	bucket, ak, sk := userBucket(t, s, "onstep")
	for _, tc := range []struct {
		name string
		set  storage.Setting
	}{
		{"passing", keySetting(s, bucket, ak, sk)},
		{"missing bucket", keySetting(s, "no-such-bucket-here", ak, sk)},
		{"invalid input", storage.Setting{Bucket: "Bad_Bucket", Region: "us-east-1", RoleARN: "arn:aws:iam::12:role/x"}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			var seen []validation.Step
			o := validation.Options{StepTimeout: 10 * time.Second, OnStep: func(st validation.Step) { seen = append(seen, st) }}
			r := validation.Run(context.Background(), tc.set, o)
			if !reflect.DeepEqual(seen, r.Steps) {
				t.Fatalf("OnStep saw %+v\nthe report has %s", seen, dump(r))
			}
			plain := validation.Run(context.Background(), tc.set, validation.Options{StepTimeout: 10 * time.Second})
			if !reflect.DeepEqual(stable(r), stable(plain)) {
				t.Fatalf("with OnStep the report is %s\nwithout it %s", dump(r), dump(plain))
			}
		})
	}
}

// stable is r without what differs between two runs (durations, request IDs).
func stable(r validation.Report) validation.Report {
	out := r
	out.Steps = nil
	for _, st := range r.Steps {
		st.DurationMS, st.RequestID = 0, ""
		out.Steps = append(out.Steps, st)
	}
	return out
}
