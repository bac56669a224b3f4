package s3test

import (
	"context"
	"encoding/xml"
	"fmt"
	"net/http"
	"net/http/httptest"
	"net/url"
	"regexp"
	"sync"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/s3"
)

// STS is an httptest server speaking the STS AssumeRole Query API (form
// POST, XML answers and AWS's real error bodies), so the AWS SDK's own code
// runs end to end. versitygw has no STS: the credentials it hands out are
// those of a versitygw user (see Server.CreateUser); the session token it
// adds is ignored by versitygw.
type STS struct {
	*httptest.Server

	mu       sync.Mutex
	roles    map[string]*Role
	requests []STSRequest
}

// Role is a role the fake STS knows: who may assume it and what they get.
type Role struct {
	ARN string
	// ExternalID is the sts:ExternalId the trust policy requires; "" means
	// the trust policy has no such condition (any or no external ID works).
	ExternalID string
	// Trusted are the access key IDs of the callers the trust policy trusts.
	Trusted []string
	// AccessKey, SecretKey are the credentials AssumeRole returns.
	AccessKey, SecretKey string
	// Duration is how long the returned credentials last (default 1h).
	Duration time.Duration
}

// STSRequest is one AssumeRole call the fake received.
type STSRequest struct {
	CallerAccessKey string // from the SigV4 Authorization header
	Form            url.Values
}

// NewSTS starts a fake STS, stopped when the test ends.
func NewSTS(t testing.TB) *STS {
	f := &STS{roles: map[string]*Role{}}
	f.Server = httptest.NewServer(http.HandlerFunc(f.serve))
	t.Cleanup(f.Close)
	return f
}

// AddRole makes a role assumable.
func (f *STS) AddRole(r Role) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.roles[r.ARN] = &r
}

// RemoveRole forgets a role: assuming it is then denied, as STS denies a
// role that does not exist.
func (f *STS) RemoveRole(arn string) {
	f.mu.Lock()
	defer f.mu.Unlock()
	delete(f.roles, arn)
}

// Requests returns the AssumeRole calls received so far.
func (f *STS) Requests() []STSRequest {
	f.mu.Lock()
	defer f.mu.Unlock()
	return append([]STSRequest(nil), f.requests...)
}

var credentialRE = regexp.MustCompile(`Credential=([^/,\s]+)/`)

func (f *STS) serve(w http.ResponseWriter, req *http.Request) {
	reqID := "fake-" + randomHex(8)
	if err := req.ParseForm(); err != nil || req.Method != http.MethodPost {
		stsError(w, http.StatusBadRequest, "Sender", "InvalidAction", "could not parse the request", reqID)
		return
	}
	caller := ""
	if m := credentialRE.FindStringSubmatch(req.Header.Get("Authorization")); m != nil {
		caller = m[1]
	}
	form := req.PostForm
	f.mu.Lock()
	f.requests = append(f.requests, STSRequest{CallerAccessKey: caller, Form: form})
	role := f.roles[form.Get("RoleArn")]
	var copied Role
	if role != nil {
		copied = *role
	}
	f.mu.Unlock()

	if form.Get("Action") != "AssumeRole" || form.Get("Version") != "2011-06-15" {
		stsError(w, http.StatusBadRequest, "Sender", "InvalidAction",
			fmt.Sprintf("Could not find operation %s for version %s", form.Get("Action"), form.Get("Version")), reqID)
		return
	}
	if caller == "" {
		stsError(w, http.StatusForbidden, "Sender", "MissingAuthenticationToken", "Request is missing Authentication Token", reqID)
		return
	}
	name := form.Get("RoleSessionName")
	if len(name) < 2 || len(name) > 64 {
		stsError(w, http.StatusBadRequest, "Sender", "ValidationError",
			"1 validation error detected: Value at 'roleSessionName' failed to satisfy constraint: Member must have length between 2 and 64", reqID)
		return
	}
	denied := fmt.Sprintf("User: arn:aws:iam::111122223333:user/%s is not authorized to perform: sts:AssumeRole on resource: %s", caller, form.Get("RoleArn"))
	trusted := false
	for _, k := range copied.Trusted {
		trusted = trusted || k == caller
	}
	if role == nil || !trusted || (copied.ExternalID != "" && form.Get("ExternalId") != copied.ExternalID) {
		stsError(w, http.StatusForbidden, "Sender", "AccessDenied", denied, reqID)
		return
	}
	d := copied.Duration
	if d == 0 {
		d = time.Hour
	}
	var resp assumeRoleResponse
	resp.Result.User.ARN = fmt.Sprintf("arn:aws:sts::123456789012:assumed-role/fake/%s", name)
	resp.Result.User.ID = "AROAFAKE:" + name
	resp.Result.Credentials.AccessKeyID = copied.AccessKey
	resp.Result.Credentials.SecretAccessKey = copied.SecretKey
	resp.Result.Credentials.SessionToken = "FQoGZXIvYXdzEfake" + randomHex(16)
	resp.Result.Credentials.Expiration = time.Now().Add(d).UTC().Format(time.RFC3339)
	resp.Metadata.RequestID = reqID
	w.Header().Set("Content-Type", "text/xml")
	w.Header().Set("x-amzn-RequestId", reqID)
	_ = xml.NewEncoder(w).Encode(resp)
}

type assumeRoleResponse struct {
	XMLName xml.Name `xml:"https://sts.amazonaws.com/doc/2011-06-15/ AssumeRoleResponse"`
	Result  struct {
		User struct {
			ARN string `xml:"Arn"`
			ID  string `xml:"AssumedRoleId"`
		} `xml:"AssumedRoleUser"`
		Credentials struct {
			AccessKeyID     string `xml:"AccessKeyId"`
			SecretAccessKey string `xml:"SecretAccessKey"`
			SessionToken    string `xml:"SessionToken"`
			Expiration      string `xml:"Expiration"`
		} `xml:"Credentials"`
	} `xml:"AssumeRoleResult"`
	Metadata struct {
		RequestID string `xml:"RequestId"`
	} `xml:"ResponseMetadata"`
}

func stsError(w http.ResponseWriter, status int, typ, code, msg, reqID string) {
	type errorBody struct {
		Type    string `xml:"Type"`
		Code    string `xml:"Code"`
		Message string `xml:"Message"`
	}
	var body struct {
		XMLName   xml.Name  `xml:"https://sts.amazonaws.com/doc/2011-06-15/ ErrorResponse"`
		Error     errorBody `xml:"Error"`
		RequestID string    `xml:"RequestId"`
	}
	body.Error = errorBody{Type: typ, Code: code, Message: msg}
	body.RequestID = reqID
	w.Header().Set("Content-Type", "text/xml")
	w.Header().Set("x-amzn-RequestId", reqID)
	w.WriteHeader(status)
	_ = xml.NewEncoder(w).Encode(body)
}

// IgnoreSessionToken is an s3.Options function that signs with the access
// key and secret of the client's credentials but leaves out their session
// token: versitygw rejects requests that carry one (InvalidToken), while the
// fake STS always returns one, as real STS does.
func IgnoreSessionToken(o *s3.Options) {
	if o.Credentials != nil {
		o.Credentials = noToken{o.Credentials}
	}
}

type noToken struct{ p aws.CredentialsProvider }

func (n noToken) Retrieve(ctx context.Context) (aws.Credentials, error) {
	c, err := n.p.Retrieve(ctx)
	c.SessionToken = ""
	return c, err
}
