package validation

import (
	"context"
	"crypto/x509"
	"errors"
	"net"
	"regexp"
	"strings"
	"syscall"

	awshttp "github.com/aws/aws-sdk-go-v2/aws/transport/http"
	"github.com/aws/smithy-go"
)

// Causes: stable machine codes for why a step failed.
const (
	CauseInvalidInput        = "invalid_input"
	CauseBucketNotFound      = "bucket_not_found"
	CauseWrongRegion         = "wrong_region"
	CauseRoleNotAssumable    = "role_not_assumable"
	CauseTrustPolicy         = "trust_policy"
	CauseMissingS3Permission = "missing_s3_permission"
	CauseKMSKeyUnusable      = "kms_key_unusable"
	CauseExplicitDeny        = "explicit_deny"
	CauseBadCredentials      = "bad_credentials"
	CausePlatformCredentials = "platform_credentials"
	CauseEndpointUnreachable = "endpoint_unreachable"
	CauseEndpointNotAllowed  = "endpoint_not_allowed"
	CauseTimeout             = "timeout"
	CauseCanceled            = "canceled"
	CauseContentMismatch     = "content_mismatch"
	CauseObjectNotFound      = "object_not_found"
	CauseObjectNotListed     = "object_not_listed"
	CausePlatformConfig      = "platform_config"
	CauseServiceError        = "service_error"
	CauseUnexpectedResponse  = "unexpected_response"
)

// ErrorCode returns the AWS error code of err ("AccessDenied",
// "NoSuchBucket", ...), or "" when err carries none.
func ErrorCode(err error) string {
	var ae smithy.APIError
	if errors.As(err, &ae) {
		return ae.ErrorCode()
	}
	return ""
}

// errorMessage returns the AWS error message of err, or "".
func errorMessage(err error) string {
	var ae smithy.APIError
	if errors.As(err, &ae) {
		return ae.ErrorMessage()
	}
	return ""
}

// RequestID returns the AWS request ID of the response err came from, or "".
func RequestID(err error) string {
	var re interface{ ServiceRequestID() string }
	if errors.As(err, &re) {
		return re.ServiceRequestID()
	}
	return ""
}

// HTTPStatus returns the HTTP status of the response err came from, or 0
// when there was no response.
func HTTPStatus(err error) int {
	var re *awshttp.ResponseError
	if errors.As(err, &re) && re.Response != nil {
		return re.Response.StatusCode
	}
	return 0
}

// responseHeader returns a header of the response err came from.
func responseHeader(err error, name string) string {
	var re *awshttp.ResponseError
	if errors.As(err, &re) && re.Response != nil && re.Response.Response != nil {
		return re.Response.Header.Get(name)
	}
	return ""
}

// IsAccessDenied reports whether the service refused the request for lack
// of permission (S3 or STS AccessDenied, or a bodiless 403 to a HEAD).
func IsAccessDenied(err error) bool {
	switch ErrorCode(err) {
	case "AccessDenied", "AccessDeniedException", "AllAccessDisabled":
		return true
	case "Forbidden":
		return HTTPStatus(err) == 403
	}
	return false
}

// IsNoSuchBucket reports whether the bucket does not exist (NoSuchBucket, or
// a 404 to HeadBucket).
func IsNoSuchBucket(err error) bool {
	switch ErrorCode(err) {
	case "NoSuchBucket":
		return true
	case "NotFound":
		return HTTPStatus(err) == 404
	}
	return false
}

// IsNoSuchKey reports whether the object does not exist.
func IsNoSuchKey(err error) bool { return ErrorCode(err) == "NoSuchKey" }

var expectingRegion = regexp.MustCompile(`expecting ['"]([a-z0-9-]+)['"]`)

// BucketRegion returns the bucket's real region as the error response gives
// it: the x-amz-bucket-region header, or the region AuthorizationHeaderMalformed
// says it expected.
func BucketRegion(err error) string {
	if r := responseHeader(err, "x-amz-bucket-region"); r != "" {
		return r
	}
	if m := expectingRegion.FindStringSubmatch(errorMessage(err)); m != nil {
		return m[1]
	}
	return ""
}

// IsRegionMismatch reports whether the request went to the wrong region:
// a 301 PermanentRedirect (or a bodiless 301 to HEAD), or
// AuthorizationHeaderMalformed about the region.
func IsRegionMismatch(err error) bool {
	switch ErrorCode(err) {
	case "PermanentRedirect", "MovedPermanently", "IllegalLocationConstraintException":
		return true
	case "AuthorizationHeaderMalformed":
		return strings.Contains(strings.ToLower(errorMessage(err)), "region")
	}
	return HTTPStatus(err) == 301
}

// IsBadCredentials reports whether the keys (or the temporary credentials)
// that signed the request were rejected.
func IsBadCredentials(err error) bool {
	switch ErrorCode(err) {
	case "InvalidAccessKeyId", "SignatureDoesNotMatch", "ExpiredToken", "ExpiredTokenException",
		"InvalidClientTokenId", "InvalidToken", "TokenRefreshRequired", "UnrecognizedClientException",
		"IncompleteSignature", "AuthFailure", "InvalidSecurity":
		return true
	}
	return false
}

// IsKMSError reports whether S3 could not use the KMS key: a KMS.* or
// KMSAccessDenied code, or an AccessDenied that names a kms: action or
// the KMS key.
func IsKMSError(err error) bool {
	code := ErrorCode(err)
	switch {
	case strings.HasPrefix(code, "KMS"):
		return true
	case IsAccessDenied(err):
		msg := strings.ToLower(errorMessage(err))
		return strings.Contains(msg, "kms:") || strings.Contains(msg, "kms key") ||
			strings.Contains(msg, "customer master key") || strings.Contains(msg, ":kms:")
	}
	return false
}

// mentionsKMS reports whether an AccessDenied message mentions KMS at all.
func mentionsKMS(err error) bool {
	return strings.Contains(strings.ToLower(errorMessage(err)), "kms")
}

// Policy types named by AWS's enhanced AccessDenied messages.
const (
	PolicyResourceBased      = "resource-based policy"
	PolicyIdentityBased      = "identity-based policy"
	PolicySCP                = "service control policy"
	PolicyRCP                = "resource control policy"
	PolicyVPCEndpoint        = "VPC endpoint policy"
	PolicyPermissionBoundary = "permissions boundary"
	PolicySession            = "session policy"
)

// Denial is what an enhanced AccessDenied message says: who was denied which
// action on which resource, and by which kind of policy.
type Denial struct {
	Principal  string
	Action     string
	Resource   string
	Explicit   bool   // "with an explicit deny in ..." rather than "because no ... allows"
	PolicyType string // one of the Policy* constants, or "" when the message names none
}

var (
	deniedHead     = regexp.MustCompile(`(?i)User: (\S+) is not authorized to perform: (\S+?)(?: on resource: "?([^"\s]+)"?)?(?:\s|$|\.)`)
	explicitDenyIn = regexp.MustCompile(`(?i)with an explicit deny in (?:a|an|the) (.+?)\.?\s*$`)
	noPolicyAllows = regexp.MustCompile(`(?i)because no (.+?) allows the (\S+?) action`)
)

// AccessDenial parses the enhanced AccessDenied message of err. ok is false
// when err is not an AccessDenied or its message names no policy type.
func AccessDenial(err error) (d Denial, ok bool) {
	if !IsAccessDenied(err) {
		return Denial{}, false
	}
	msg := errorMessage(err)
	if m := deniedHead.FindStringSubmatch(msg); m != nil {
		d.Principal, d.Action, d.Resource = m[1], m[2], m[3]
	}
	switch {
	case explicitDenyIn.MatchString(msg):
		d.Explicit = true
		d.PolicyType = policyType(explicitDenyIn.FindStringSubmatch(msg)[1])
	case noPolicyAllows.MatchString(msg):
		m := noPolicyAllows.FindStringSubmatch(msg)
		d.PolicyType = policyType(m[1])
		if d.Action == "" {
			d.Action = m[2]
		}
	case strings.Contains(strings.ToLower(msg), "explicit deny"):
		d.Explicit = true
	}
	return d, d.Action != "" || d.Explicit || d.PolicyType != ""
}

// policyType maps the words of a message to one of the Policy* constants.
func policyType(words string) string {
	w := strings.ToLower(words)
	switch {
	case strings.Contains(w, "resource-based"):
		return PolicyResourceBased
	case strings.Contains(w, "identity-based"):
		return PolicyIdentityBased
	case strings.Contains(w, "service control"):
		return PolicySCP
	case strings.Contains(w, "resource control"):
		return PolicyRCP
	case strings.Contains(w, "vpc endpoint"):
		return PolicyVPCEndpoint
	case strings.Contains(w, "permissions boundary"):
		return PolicyPermissionBoundary
	case strings.Contains(w, "session policy"):
		return PolicySession
	}
	return strings.TrimSpace(words)
}

// IsExplicitDeny reports whether a policy explicitly denied the request and,
// when the message says, which kind of policy.
func IsExplicitDeny(err error) (policy string, ok bool) {
	d, found := AccessDenial(err)
	if !found || !d.Explicit {
		return "", false
	}
	return d.PolicyType, true
}

// IsTimeout reports whether the request ran out of time.
func IsTimeout(err error) bool {
	if errors.Is(err, context.DeadlineExceeded) {
		return true
	}
	var ne net.Error
	return errors.As(err, &ne) && ne.Timeout()
}

// IsUnreachable reports whether no connection could be made: connection
// refused or reset, no such host, no route, or a TLS certificate problem.
func IsUnreachable(err error) bool {
	var dnsErr *net.DNSError
	if errors.As(err, &dnsErr) {
		return true
	}
	if errors.Is(err, syscall.ECONNREFUSED) || errors.Is(err, syscall.ECONNRESET) ||
		errors.Is(err, syscall.EHOSTUNREACH) || errors.Is(err, syscall.ENETUNREACH) {
		return true
	}
	var opErr *net.OpError
	if errors.As(err, &opErr) && opErr.Op == "dial" {
		return true
	}
	return isTLSError(err)
}

func isTLSError(err error) bool {
	var unknownAuth x509.UnknownAuthorityError
	var hostErr x509.HostnameError
	var certErr x509.CertificateInvalidError
	return errors.As(err, &unknownAuth) || errors.As(err, &hostErr) || errors.As(err, &certErr)
}
