package s3test

import (
	"context"
	"encoding/json"
	"encoding/xml"
	"fmt"
	"net/http"
	"net/http/httptest"
	"net/url"
	"regexp"
	"slices"
	"strings"
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
//
// It checks the caller of each AssumeRole, known by the access key that signed
// the call: either against a role's list of trusted access keys, or, as IAM
// does, against a trust policy document naming principals (see Role.TrustPolicy),
// with the caller's principal ARN given by AddCaller or, for credentials this
// STS handed out, the role they belong to. So a role chain (the platform assumes
// the workers' role, whose credentials assume the customer's role) is checked
// at every hop.
type STS struct {
	*httptest.Server

	mu       sync.Mutex
	roles    map[string]*Role
	callers  map[string]string // access key → principal ARN
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
	// TrustPolicy, when set, is the role's trust policy document (IAM JSON)
	// and replaces ExternalID and Trusted: an Allow statement for
	// sts:AssumeRole whose Principal.AWS names the caller (its ARN, or its
	// account as "arn:aws:iam::ACCOUNT:root" or "ACCOUNT") and whose
	// StringEquals / StringLike conditions on sts:ExternalId hold lets it
	// assume the role; a Deny statement that matches refuses it.
	TrustPolicy string
	// AccessKey, SecretKey are the credentials AssumeRole returns.
	AccessKey, SecretKey string
	// Duration is how long the returned credentials last (default 1h).
	Duration time.Duration
}

// STSRequest is one AssumeRole call the fake received.
type STSRequest struct {
	CallerAccessKey string // from the SigV4 Authorization header
	Caller          string // the caller's principal ARN, "" when unknown
	Form            url.Values
	Denied          bool // the call was answered AccessDenied
}

// NewSTS starts a fake STS, stopped when the test ends.
func NewSTS(t testing.TB) *STS {
	f := &STS{roles: map[string]*Role{}, callers: map[string]string{}}
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

// AddCaller says whose credentials accessKey is: principalARN, like
// arn:aws:iam::111122223333:user/lakeport-platform. Trust policies are
// checked against it.
func (f *STS) AddCaller(accessKey, principalARN string) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.callers[accessKey] = principalARN
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
	principal := f.callers[caller]
	f.requests = append(f.requests, STSRequest{CallerAccessKey: caller, Caller: principal, Form: form})
	n := len(f.requests) - 1
	role := f.roles[form.Get("RoleArn")]
	var copied Role
	if role != nil {
		copied = *role
	}
	f.mu.Unlock()
	deny := func(msg string) {
		f.mu.Lock()
		f.requests[n].Denied = true
		f.mu.Unlock()
		stsError(w, http.StatusForbidden, "Sender", "AccessDenied", msg, reqID)
	}

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
	who := principal
	if who == "" {
		who = "arn:aws:iam::111122223333:user/" + caller
	}
	denied := fmt.Sprintf("User: %s is not authorized to perform: sts:AssumeRole on resource: %s", who, form.Get("RoleArn"))
	if role == nil {
		deny(denied)
		return
	}
	if copied.TrustPolicy != "" {
		ok, err := trustAllows(copied.TrustPolicy, principal, form.Get("ExternalId"))
		if err != nil {
			stsError(w, http.StatusInternalServerError, "Receiver", "InternalFailure", "s3test: role "+copied.ARN+": "+err.Error(), reqID)
			return
		}
		if !ok {
			deny(denied)
			return
		}
	} else {
		trusted := false
		for _, k := range copied.Trusted {
			trusted = trusted || k == caller
		}
		if !trusted || (copied.ExternalID != "" && form.Get("ExternalId") != copied.ExternalID) {
			deny(denied)
			return
		}
	}
	f.mu.Lock()
	f.callers[copied.AccessKey] = copied.ARN // an assumed-role session is trusted as its role
	f.mu.Unlock()
	d := copied.Duration
	if d == 0 {
		d = time.Hour
	}
	var resp assumeRoleResponse
	resp.Result.User.ARN = assumedRoleARN(copied.ARN, name)
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

// assumedRoleARN is the ARN STS gives a session of role roleARN.
func assumedRoleARN(roleARN, session string) string {
	parts := strings.SplitN(roleARN, ":", 6)
	if len(parts) != 6 {
		return "arn:aws:sts::123456789012:assumed-role/fake/" + session
	}
	name := parts[5][strings.LastIndex(parts[5], "/")+1:]
	return fmt.Sprintf("arn:%s:sts::%s:assumed-role/%s/%s", parts[1], parts[4], name, session)
}

// trustPolicy is the part of an IAM trust policy the fake evaluates.
type trustPolicy struct {
	Statement []struct {
		Effect    string
		Principal struct {
			AWS stringList
		}
		Action    stringList
		Condition map[string]map[string]stringList
	}
}

// stringList is IAM's "a string or a list of strings".
type stringList []string

func (l *stringList) UnmarshalJSON(b []byte) error {
	var one string
	if err := json.Unmarshal(b, &one); err == nil {
		*l = stringList{one}
		return nil
	}
	var many []string
	if err := json.Unmarshal(b, &many); err != nil {
		return err
	}
	*l = many
	return nil
}

// trustAllows evaluates doc for an sts:AssumeRole by principal with externalID:
// an explicit Deny wins, then an Allow must match.
func trustAllows(doc, principal, externalID string) (bool, error) {
	var p trustPolicy
	if err := json.Unmarshal([]byte(doc), &p); err != nil {
		return false, fmt.Errorf("trust policy: %w", err)
	}
	allowed := false
	for _, st := range p.Statement {
		if !slices.ContainsFunc(st.Action, func(a string) bool { return a == "sts:AssumeRole" || a == "sts:*" || a == "*" }) {
			continue
		}
		if !slices.ContainsFunc(st.Principal.AWS, func(want string) bool { return principalMatches(want, principal) }) {
			continue
		}
		if !conditionsHold(st.Condition, externalID) {
			continue
		}
		switch st.Effect {
		case "Deny":
			return false, nil
		case "Allow":
			allowed = true
		}
	}
	return allowed, nil
}

// principalMatches reports whether a trust policy's principal want names caller:
// "*", the caller's own ARN, or its account ("ACCOUNT" or arn:…:iam::ACCOUNT:root),
// which IAM reads as "any principal of that account".
func principalMatches(want, caller string) bool {
	if caller == "" {
		return false
	}
	if want == "*" || want == caller {
		return true
	}
	parts := strings.SplitN(caller, ":", 6)
	if len(parts) != 6 {
		return false
	}
	account := parts[4]
	return want == account || strings.HasSuffix(want, ":iam::"+account+":root")
}

// conditionsHold checks the sts:ExternalId conditions (the only key a lakeport
// trust policy uses); any other condition key fails closed.
func conditionsHold(conds map[string]map[string]stringList, externalID string) bool {
	for op, keys := range conds {
		for key, values := range keys {
			if !strings.EqualFold(key, "sts:ExternalId") {
				return false
			}
			ok := false
			for _, v := range values {
				switch op {
				case "StringEquals":
					ok = ok || externalID == v
				case "StringLike":
					ok = ok || (externalID != "" && iamLike(v, externalID))
				default:
					return false
				}
			}
			if !ok {
				return false
			}
		}
	}
	return true
}

// iamLike is IAM's StringLike: * matches any run of characters, ? any one.
func iamLike(pattern, s string) bool {
	var re strings.Builder
	re.WriteString("^")
	for _, r := range pattern {
		switch r {
		case '*':
			re.WriteString(".*")
		case '?':
			re.WriteString(".")
		default:
			re.WriteString(regexp.QuoteMeta(string(r)))
		}
	}
	re.WriteString("$")
	return regexp.MustCompile(re.String()).MatchString(s)
}
