package validation

import (
	"context"
	"fmt"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/credentials"
	"github.com/aws/aws-sdk-go-v2/service/s3"
	"github.com/aws/aws-sdk-go-v2/service/sts"

	"github.com/lakeport/lakeport/storage"
)

const (
	tRole    = "arn:aws:iam::123456789012:role/lakeport-access"
	tKey     = "arn:aws:kms:us-east-1:123456789012:key/1234abcd-12ab-34cd-56ef-1234567890ab"
	tSession = "arn:aws:sts::123456789012:assumed-role/lakeport-access/lakeport-org-42"
)

// s3Error writes an error the way S3 does: status, request ID headers and
// the XML <Error> body (none for HEAD).
func s3Error(w http.ResponseWriter, r *http.Request, status int, code, msg string, extra map[string]string) {
	w.Header().Set("x-amz-request-id", "4442587FB7D0A2F9")
	w.Header().Set("x-amz-id-2", "hostid+example=")
	for k, v := range extra {
		if !strings.HasPrefix(k, "<") {
			w.Header().Set(k, v)
		}
	}
	w.Header().Set("Content-Type", "application/xml")
	w.WriteHeader(status)
	if r.Method == http.MethodHead {
		return
	}
	more := ""
	for k, v := range extra {
		if strings.HasPrefix(k, "<") {
			more += k + v + "</" + k[1:]
		}
	}
	fmt.Fprintf(w, `<?xml version="1.0" encoding="UTF-8"?>`+"\n"+
		`<Error><Code>%s</Code><Message>%s</Message>%s<RequestId>4442587FB7D0A2F9</RequestId><HostId>hostid+example=</HostId></Error>`, code, msg, more)
}

func denied(action, resource, tail string) string {
	return fmt.Sprintf(`User: %s is not authorized to perform: %s on resource: &quot;%s&quot; %s`, tSession, action, resource, tail)
}

func TestExplainS3Errors(t *testing.T) {
	obj := "arn:aws:s3:::acme-data/.lakeport/validation.txt"
	for _, tc := range []struct {
		name    string
		step    string
		kms     bool
		status  int
		code    string
		msg     string
		extra   map[string]string
		cause   string
		inMsg   []string
		inHint  []string
		errCode string
	}{
		{name: "implicit deny identity policy", step: StepPutObject, status: 403, code: "AccessDenied",
			msg:   denied("s3:PutObject", obj, "because no identity-based policy allows the s3:PutObject action"),
			cause: CauseMissingS3Permission, inMsg: []string{"s3:PutObject", "identity-based policy", tRole}, inHint: []string{"permission policy", "arn:aws:s3:::acme-data/*"}},
		{name: "implicit deny bucket policy (cross-account)", step: StepGetObject, status: 403, code: "AccessDenied",
			msg:   denied("s3:GetObject", obj, "because no resource-based policy allows the s3:GetObject action"),
			cause: CauseMissingS3Permission, inMsg: []string{"s3:GetObject", "resource-based policy"}, inHint: []string{"bucket policy"}},
		{name: "explicit deny SCP", step: StepPutObject, status: 403, code: "AccessDenied",
			msg:   denied("s3:PutObject", obj, "with an explicit deny in a service control policy"),
			cause: CauseExplicitDeny, inMsg: []string{"s3:PutObject", "service control policy"}, inHint: []string{"Organizations"}},
		{name: "explicit deny bucket policy", step: StepDeleteObject, status: 403, code: "AccessDenied",
			msg:   denied("s3:DeleteObject", obj, "with an explicit deny in a resource-based policy"),
			cause: CauseExplicitDeny, inMsg: []string{"s3:DeleteObject", "resource-based policy"}, inHint: []string{"bucket policy of acme-data"}},
		{name: "explicit deny VPC endpoint", step: StepGetObject, status: 403, code: "AccessDenied",
			msg:   denied("s3:GetObject", obj, "with an explicit deny in a VPC endpoint policy"),
			cause: CauseExplicitDeny, inMsg: []string{"s3:GetObject", "VPC endpoint policy"}, inHint: []string{"VPC endpoint"}},
		{name: "explicit deny boundary", step: StepListObjects, status: 403, code: "AccessDenied",
			msg:   denied("s3:ListBucket", "arn:aws:s3:::acme-data", "with an explicit deny in a permissions boundary"),
			cause: CauseExplicitDeny, inMsg: []string{"s3:ListBucket", "permissions boundary"}, inHint: []string{"boundary"}},
		{name: "plain access denied on list", step: StepListObjects, status: 403, code: "AccessDenied", msg: "Access Denied",
			cause: CauseMissingS3Permission, inMsg: []string{"s3:ListBucket", "arn:aws:s3:::acme-data"}, inHint: []string{"s3:ListBucket", "permission policy"}},
		{name: "head bucket forbidden", step: StepHeadBucket, status: 403, code: "AccessDenied", msg: "Access Denied",
			cause: CauseMissingS3Permission, inMsg: []string{"s3:ListBucket"}},
		{name: "kms action denied", step: StepPutObject, kms: true, status: 403, code: "AccessDenied",
			msg:   denied("kms:GenerateDataKey", tKey, "because no identity-based policy allows the kms:GenerateDataKey action"),
			cause: CauseKMSKeyUnusable, inMsg: []string{tKey, "encrypt"}, inHint: []string{"kms:GenerateDataKey", "kms:Encrypt", "kms:Decrypt", "kms:DescribeKey", "key policy"}},
		{name: "kms key disabled", step: StepPutObject, kms: true, status: 400, code: "KMS.DisabledException", msg: tKey + " is disabled.",
			cause: CauseKMSKeyUnusable, inMsg: []string{"disabled"}, errCode: "KMS.DisabledException"},
		{name: "kms key not found", step: StepPutObject, kms: true, status: 400, code: "KMS.NotFoundException", msg: "Invalid keyId " + tKey,
			cause: CauseKMSKeyUnusable},
		{name: "kms ciphertext on read", step: StepGetObject, kms: true, status: 403, code: "AccessDenied",
			msg:   "The ciphertext refers to a customer master key that does not exist, does not exist in this region, or you are not allowed to access.",
			cause: CauseKMSKeyUnusable, inMsg: []string{"decrypt"}},
		{name: "permanent redirect", step: StepListObjects, status: 301, code: "PermanentRedirect",
			msg:   "The bucket you are attempting to access must be addressed using the specified endpoint. Please send all future requests to this endpoint.",
			extra: map[string]string{"x-amz-bucket-region": "eu-west-1", "<Endpoint>": "acme-data.s3.eu-west-1.amazonaws.com", "<Bucket>": "acme-data"},
			cause: CauseWrongRegion, inMsg: []string{"eu-west-1"}, inHint: []string{"set region to eu-west-1"}},
		{name: "head bucket 301", step: StepHeadBucket, status: 301, code: "PermanentRedirect", msg: "The bucket you are attempting to access must be addressed using the specified endpoint.",
			extra: map[string]string{"x-amz-bucket-region": "ap-southeast-5"},
			cause: CauseWrongRegion, inMsg: []string{"ap-southeast-5"}},
		{name: "authorization header malformed", step: StepListObjects, status: 400, code: "AuthorizationHeaderMalformed",
			msg:   "The authorization header is malformed; the region 'us-east-1' is wrong; expecting 'us-west-2'",
			extra: map[string]string{"<Region>": "us-west-2"},
			cause: CauseWrongRegion, inMsg: []string{"us-west-2"}},
		{name: "expired token", step: StepPutObject, status: 400, code: "ExpiredToken", msg: "The provided token has expired.",
			cause: CauseBadCredentials, inMsg: []string{"expired"}},
		{name: "no such bucket", step: StepGetObject, status: 404, code: "NoSuchBucket", msg: "The specified bucket does not exist",
			cause: CauseBucketNotFound, inMsg: []string{"acme-data"}},
		{name: "head 404", step: StepHeadBucket, status: 404, code: "NoSuchBucket", msg: "The specified bucket does not exist",
			cause: CauseBucketNotFound},
		{name: "no such key", step: StepGetObject, status: 404, code: "NoSuchKey", msg: "The specified key does not exist.",
			cause: CauseObjectNotFound},
		{name: "slow down", step: StepPutObject, status: 503, code: "SlowDown", msg: "Please reduce your request rate.",
			cause: CauseServiceError, inMsg: []string{"SlowDown", "503"}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
				s3Error(w, r, tc.status, tc.code, tc.msg, tc.extra)
			}))
			defer srv.Close()
			set := storage.Setting{Bucket: "acme-data", Region: "us-east-1", RoleARN: tRole}
			if tc.kms {
				set.KMSKeyARN = tKey
			}
			r := newRun(context.Background(), set, Options{StepTimeout: 5 * time.Second,
				S3Options: []func(*s3.Options){func(o *s3.Options) { o.BaseEndpoint = aws.String(srv.URL); o.UsePathStyle = true }}})
			p := r.platform
			p.s3 = r.newS3Client(p, credentials.NewStaticCredentialsProvider("ASIAEXAMPLE", "secret", "token"))
			p.body = []byte("x")
			fns := map[string]func(context.Context) (outcome, error){
				StepHeadBucket:   r.headBucket,
				StepPutObject:    func(ctx context.Context) (outcome, error) { return r.putObject(ctx, p) },
				StepGetObject:    func(ctx context.Context) (outcome, error) { return r.getObject(ctx, p) },
				StepListObjects:  func(ctx context.Context) (outcome, error) { return r.listObjects(ctx, p) },
				StepDeleteObject: func(ctx context.Context) (outcome, error) { return r.deleteObject(ctx, p) },
			}
			r.always(p, tc.step, fns[tc.step])
			st := r.report.Steps[0]
			if st.Status != StatusFailed || st.Cause != tc.cause {
				t.Fatalf("status %s cause %q, want failed %q: %+v", st.Status, st.Cause, tc.cause, st)
			}
			want := tc.errCode
			if want == "" {
				want = tc.code
			}
			if st.ErrorCode != want || st.RequestID != "4442587FB7D0A2F9" {
				t.Errorf("error code %q request ID %q, want %q and 4442587FB7D0A2F9", st.ErrorCode, st.RequestID, want)
			}
			for _, s := range tc.inMsg {
				if !strings.Contains(st.Message, s) {
					t.Errorf("message %q lacks %q", st.Message, s)
				}
			}
			for _, s := range tc.inHint {
				if !strings.Contains(st.Hint, s) {
					t.Errorf("hint %q lacks %q", st.Hint, s)
				}
			}
			if st.Message == "" || st.Hint == "" {
				t.Errorf("empty message or hint: %+v", st)
			}
		})
	}
}

func TestExplainSTSErrors(t *testing.T) {
	for _, tc := range []struct {
		status     int
		code, msg  string
		cause      string
		hintOrMsg  string
		workerSide bool
	}{
		{403, "AccessDenied", "User: arn:aws:iam::111122223333:user/x is not authorized to perform: sts:AssumeRole on resource: " + tRole, CauseRoleNotAssumable, "external ID", false},
		{403, "AccessDenied", "User: arn:aws:iam::111122223333:role/workers is not authorized to perform: sts:AssumeRole on resource: " + tRole, CauseTrustPolicy, "sync workers", true},
		{403, "InvalidClientTokenId", "The security token included in the request is invalid.", CausePlatformCredentials, "lakeport installation", false},
		{400, "ExpiredToken", "The security token included in the request is expired", CausePlatformCredentials, "lakeport installation", false},
		{403, "RegionDisabledException", "STS is not activated in this region for account:111122223333.", CausePlatformConfig, "not activated", false},
	} {
		t.Run(tc.code, func(t *testing.T) {
			srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
				w.Header().Set("x-amzn-RequestId", "c6104cbe-af31-11e0-8154-cbc7ccf896c7")
				w.Header().Set("Content-Type", "text/xml")
				w.WriteHeader(tc.status)
				fmt.Fprintf(w, `<ErrorResponse xmlns="https://sts.amazonaws.com/doc/2011-06-15/"><Error><Type>Sender</Type><Code>%s</Code><Message>%s</Message></Error><RequestId>c6104cbe-af31-11e0-8154-cbc7ccf896c7</RequestId></ErrorResponse>`, tc.code, tc.msg)
			}))
			defer srv.Close()
			set := storage.Setting{Bucket: "acme-data", Region: "us-east-1", RoleARN: tRole}
			a := storage.Access{ExternalID: "ext-id-1", SessionName: "lakeport-org-1", STSEndpoint: srv.URL, Credentials: credentials.NewStaticCredentialsProvider("A", "B", "")}
			client, err := storage.NewSTSClient(context.Background(), set, a, func(o *sts.Options) { o.Retryer = retryer() })
			if err != nil {
				t.Fatal(err)
			}
			_, err = storage.AssumeRoleProvider(client, set, a).Retrieve(context.Background())
			who := "platform"
			if tc.workerSide {
				who = "workers"
			}
			r := newRun(context.Background(), set, Options{Access: a, StepTimeout: time.Second})
			st := Step{Name: StepAssumeRole}
			r.explain(context.Background(), &st, &principalError{who: who, err: err, otherOK: tc.workerSide})
			if st.Cause != tc.cause || st.ErrorCode != tc.code || st.RequestID != "c6104cbe-af31-11e0-8154-cbc7ccf896c7" {
				t.Fatalf("got %+v, want cause %q code %q", st, tc.cause, tc.code)
			}
			if !strings.Contains(st.Message+st.Hint, tc.hintOrMsg) {
				t.Errorf("%q not in %+v", tc.hintOrMsg, st)
			}
		})
	}
}

func TestAccessDenial(t *testing.T) {
	for _, tc := range []struct {
		msg string
		d   Denial
	}{
		{`User: arn:aws:sts::1:assumed-role/r/s is not authorized to perform: s3:PutObject on resource: "arn:aws:s3:::b/k" with an explicit deny in a resource-based policy`,
			Denial{Principal: "arn:aws:sts::1:assumed-role/r/s", Action: "s3:PutObject", Resource: "arn:aws:s3:::b/k", Explicit: true, PolicyType: PolicyResourceBased}},
		{`User: arn:aws:iam::1:user/u is not authorized to perform: s3:GetObject on resource: "arn:aws:s3:::b/k" because no VPC endpoint policy allows the s3:GetObject action`,
			Denial{Principal: "arn:aws:iam::1:user/u", Action: "s3:GetObject", Resource: "arn:aws:s3:::b/k", PolicyType: PolicyVPCEndpoint}},
		{`User: arn:aws:iam::1:user/u is not authorized to perform: s3:ListBucket on resource: "arn:aws:s3:::b" with an explicit deny in a resource control policy.`,
			Denial{Principal: "arn:aws:iam::1:user/u", Action: "s3:ListBucket", Resource: "arn:aws:s3:::b", Explicit: true, PolicyType: PolicyRCP}},
		{`User: arn:aws:iam::1:user/u is not authorized to perform: sts:AssumeRole on resource: arn:aws:iam::2:role/r`,
			Denial{Principal: "arn:aws:iam::1:user/u", Action: "sts:AssumeRole", Resource: "arn:aws:iam::2:role/r"}},
	} {
		srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			s3Error(w, r, 403, "AccessDenied", strings.ReplaceAll(tc.msg, `"`, "&quot;"), nil)
		}))
		c := storage.NewS3ClientWithCredentials(storage.Setting{Region: "us-east-1"}, credentials.NewStaticCredentialsProvider("a", "b", ""), nil,
			func(o *s3.Options) {
				o.BaseEndpoint = aws.String(srv.URL)
				o.UsePathStyle = true
				o.Retryer = retryer()
			})
		_, err := c.ListObjectsV2(context.Background(), &s3.ListObjectsV2Input{Bucket: aws.String("b")})
		srv.Close()
		d, ok := AccessDenial(err)
		if !ok || d != tc.d {
			t.Errorf("AccessDenial(%q) = %+v, %v; want %+v", tc.msg, d, ok, tc.d)
		}
	}
}
