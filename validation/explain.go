package validation

import (
	"context"
	"errors"
	"fmt"
	"regexp"
	"strings"

	"github.com/lakeport/lakeport/netguard"
	"github.com/lakeport/lakeport/storage"
)

// explain fills in the failed step st from err: the AWS error code and
// request ID, a stable cause, what happened and what to check.
func (r *run) explain(ctx context.Context, st *Step, err error) {
	st.ErrorCode = ErrorCode(err)
	st.RequestID = RequestID(err)

	var f *failure
	var in *inputError
	var pe *principalError
	var he *headError
	switch {
	case errors.As(err, &f):
		st.Cause, st.Message, st.Hint = f.cause, f.message, f.hint
		return
	case errors.As(err, &in):
		msgs := make([]string, len(in.fields))
		for i, fe := range in.fields {
			msgs[i] = fe.Error()
		}
		st.Cause = CauseInvalidInput
		st.Message = "the setting has problems, so no call was made: " + strings.Join(msgs, "; ")
		st.Hint = "fix the fields named above and test again"
		return
	case r.ctx.Err() != nil:
		st.Cause = CauseCanceled
		st.Message = "the test was canceled before this step finished"
		st.Hint = "run the test again"
		return
	case netguard.IsBlocked(err):
		class, _ := netguard.BlockedClass(err)
		st.Cause = CauseEndpointNotAllowed
		st.Message = fmt.Sprintf("%s: lakeport does not connect to %s: it is, or its name resolves to, a %s address", st.Name, r.target(st.Name), class)
		st.Hint = "give the public URL of the S3-compatible server; loopback, link-local, private and unique-local addresses " +
			"(and lakeport's own port) are not reachable for organizations unless the operator of this install allows private networks (network.allow_private)"
		return
	case ctx.Err() == context.DeadlineExceeded || IsTimeout(err):
		st.Cause = CauseTimeout
		st.Message = fmt.Sprintf("%s got no answer from %s within %s", st.Name, r.target(st.Name), r.o.StepTimeout)
		if r.endpointStep(st.Name) {
			st.Message = fmt.Sprintf("%s could not reach the endpoint %s: no answer within %s", st.Name, r.s.Endpoint, r.o.StepTimeout)
		}
		st.Hint = r.timeoutHint(st.Name)
		return
	case r.endpointStep(st.Name) && (IsUnreachable(err) || ErrorCode(err) == ""):
		// An endpoint the organization chose: whatever went wrong below S3
		// (refused, reset, not HTTP, not S3) reads the same, so the report
		// cannot tell an open port from a closed one.
		st.Cause = CauseEndpointUnreachable
		st.Message = fmt.Sprintf("%s could not reach the endpoint %s", st.Name, r.s.Endpoint)
		st.Hint = r.unreachableHint(st.Name)
		return
	case IsUnreachable(err):
		st.Cause = CauseEndpointUnreachable
		st.Message = fmt.Sprintf("%s could not connect to %s: %s", st.Name, r.target(st.Name), rootCause(err))
		st.Hint = r.unreachableHint(st.Name)
		return
	case errors.As(err, &pe):
		r.explainAssumeRole(st, pe)
		return
	case errors.As(err, &he):
		if BucketRegion(he.detail) == "" && BucketRegion(he.head) != "" {
			err = he.head
		} else {
			err = he.detail
		}
		st.ErrorCode = ErrorCode(err)
		st.RequestID = RequestID(err)
	}
	r.explainS3(st, err)
}

// endpointStep reports whether the step talks to an S3-compatible endpoint the
// organization chose, whose answers are summarized, never echoed.
func (r *run) endpointStep(step string) bool { return r.s.S3Compatible() && step != StepAssumeRole }

// target names what a step talks to, for timeouts and connection errors.
func (r *run) target(step string) string {
	if step == StepAssumeRole {
		if r.o.Access.STSEndpoint != "" {
			return "STS at " + r.o.Access.STSEndpoint
		}
		return "AWS STS"
	}
	if r.s.Endpoint != "" {
		return "the S3 endpoint " + r.s.Endpoint
	}
	return "S3 in " + r.s.Region
}

func (r *run) timeoutHint(step string) string {
	if step == StepAssumeRole {
		return "STS did not answer in time; this is usually a network problem on lakeport's side: test again, and if it persists contact the platform operator"
	}
	if r.s.Endpoint != "" {
		return "check that the endpoint URL and port are those of the S3 API (not a console or admin port), that the server is running and not overloaded, and that no firewall silently drops the traffic"
	}
	return "S3 did not answer in time; test again, and if it persists check for network policies between lakeport and S3"
}

func (r *run) unreachableHint(step string) string {
	if step == StepAssumeRole {
		return "lakeport cannot reach STS; this is a problem of the lakeport installation's network, not of the bucket: contact the platform operator"
	}
	if r.s.Endpoint != "" {
		return "check the endpoint URL (scheme, host name and port), that the server is running and reachable from the internet (or lakeport's network), and, for https, that its certificate is valid for the host name"
	}
	return "lakeport cannot reach S3 in this region; check the region and test again"
}

// rootCause returns the innermost error's text, without the SDK's wrapping.
func rootCause(err error) string {
	for {
		next := errors.Unwrap(err)
		if next == nil {
			return err.Error()
		}
		err = next
	}
}

func (r *run) explainAssumeRole(st *Step, pe *principalError) {
	err := pe.err
	roleAccount := ""
	if parts := strings.SplitN(r.s.RoleARN, ":", 6); len(parts) == 6 {
		roleAccount = parts[4]
	}
	var wre *storage.WorkerRoleError
	switch {
	case errors.As(err, &wre):
		st.Cause = CausePlatformConfig
		st.Message = fmt.Sprintf("the sync workers could not get their own credentials: lakeport's platform could not assume the workers' role %s (%s), "+
			"so they never reached your role", wre.Role, codeOr(wre.Err))
		st.Hint = "this is a problem of the lakeport installation (LAKEPORT_WORKER_ROLE_ARN and that role's trust policy), not of your role: contact the platform operator"
	case IsAccessDenied(err) && pe.who == PrincipalWorkers && pe.otherOK:
		st.Cause = CauseTrustPolicy
		st.Message = fmt.Sprintf("lakeport's platform principal could assume %s, but the sync workers' principal %s could not (STS: AccessDenied): "+
			"the role's trust policy does not trust the sync workers, so every sync would fail", r.s.RoleARN, orText(r.o.WorkerPrincipalARN, "(shown on the storage settings page)"))
		st.Hint = "add the sync workers' principal " + orText(r.o.WorkerPrincipalARN, "(shown on the storage settings page)") +
			" to the Principal of the trust policy statement that allows sts:AssumeRole, next to the platform account, with the same sts:ExternalId condition"
	case IsAccessDenied(err) && pe.who == PrincipalPlatform && pe.otherOK:
		st.Cause = CauseTrustPolicy
		st.Message = fmt.Sprintf("the sync workers could assume %s, but lakeport's platform principal (account %s) could not (STS: AccessDenied): "+
			"the role's trust policy does not trust the platform account, so Test connection, queries and cleanup would fail", r.s.RoleARN,
			orText(r.o.PlatformAccountID, "(shown on the storage settings page)"))
		st.Hint = "add the platform's account " + orText(platformRoot(r.s.RoleARN, r.o.PlatformAccountID), "(shown on the storage settings page)") +
			" to the Principal of the trust policy statement that allows sts:AssumeRole, next to the sync workers' principal, with the same sts:ExternalId condition"
	case IsAccessDenied(err):
		st.Cause = CauseRoleNotAssumable
		who := ""
		if d, ok := AccessDenial(err); ok && d.Principal != "" {
			who = fmt.Sprintf(" (STS saw the call from %s)", d.Principal)
		}
		st.Message = fmt.Sprintf("STS refused to let lakeport assume %s%s. STS gives this same AccessDenied when the role does not exist, "+
			"when its trust policy does not trust lakeport's principal, and when the external ID does not match, so it cannot tell which of the three it is", r.s.RoleARN, who)
		st.Hint = fmt.Sprintf("check three things: (1) role_arn is exactly the ARN of an existing role%s; "+
			"(2) the role's trust policy has an Allow statement for sts:AssumeRole whose Principal names both lakeport's platform account %s and the sync workers' principal %s; "+
			"(3) that statement has the condition \"StringEquals\": {\"sts:ExternalId\": %q}, this organization's external ID, exactly. "+
			"lakeport uses the session name %q",
			inAccount(roleAccount), orText(r.o.PlatformAccountID, "(shown on the storage settings page)"),
			orText(r.o.WorkerPrincipalARN, "(shown on the storage settings page)"), r.o.Access.ExternalID, r.sessionName())
	case IsBadCredentials(err):
		st.Cause = CausePlatformCredentials
		st.Message = fmt.Sprintf("STS rejected lakeport's own AWS credentials (%s)", ErrorCode(err))
		st.Hint = "this is a problem of the lakeport installation, not of your role: contact the platform operator"
	case ErrorCode(err) == "RegionDisabledException":
		st.Cause = CausePlatformConfig
		st.Message = "STS is not activated in the region lakeport calls it in (RegionDisabledException)"
		st.Hint = "this is a problem of the lakeport installation: contact the platform operator"
	case ErrorCode(err) == "ValidationError":
		st.Cause = CauseInvalidInput
		st.Message = "STS rejected the request: " + errorMessage(err)
		st.Hint = "check role_arn"
	case ErrorCode(err) == "":
		st.Cause = CausePlatformCredentials
		st.Message = "lakeport could not call STS: " + err.Error()
		st.Hint = "this is a problem of the lakeport installation, not of your role: contact the platform operator"
	default:
		st.Cause = CauseServiceError
		st.Message = fmt.Sprintf("STS answered %s: %s", ErrorCode(err), errorMessage(err))
		st.Hint = "test again; if it persists, contact the platform operator with the request ID"
	}
}

// platformRoot is the trust policy principal of the platform's account, in the
// partition of role.
func platformRoot(role, account string) string {
	if account == "" {
		return ""
	}
	partition := "aws"
	if parts := strings.SplitN(role, ":", 3); len(parts) == 3 && parts[1] != "" {
		partition = parts[1]
	}
	return "arn:" + partition + ":iam::" + account + ":root"
}

func inAccount(account string) string {
	if account == "" {
		return ""
	}
	return " in account " + account
}

func orText(v, alt string) string {
	if v == "" {
		return alt
	}
	return v
}

// stepAction is the S3 permission each step needs.
var stepAction = map[string]string{
	StepHeadBucket:   "s3:ListBucket",
	StepListObjects:  "s3:ListBucket",
	StepPutObject:    "s3:PutObject",
	StepGetObject:    "s3:GetObject",
	StepDeleteObject: "s3:DeleteObject",
}

// resourceFor returns the ARN a step's permission applies to.
func (r *run) resourceFor(step string) string {
	partition := "aws"
	if parts := strings.SplitN(r.s.RoleARN, ":", 3); len(parts) == 3 {
		partition = parts[1]
	}
	if step == StepHeadBucket || step == StepListObjects {
		return fmt.Sprintf("arn:%s:s3:::%s", partition, r.s.Bucket)
	}
	return fmt.Sprintf("arn:%s:s3:::%s/*", partition, r.s.Bucket)
}

// principal names who made the S3 calls, for messages.
func (r *run) principal() string {
	if r.s.S3Compatible() {
		return "the access key " + r.s.AccessKeyID
	}
	return "the role " + r.s.RoleARN
}

func (r *run) explainS3(st *Step, err error) {
	action := stepAction[st.Name]
	code := ErrorCode(err)
	switch {
	case IsBadCredentials(err):
		st.Cause = CauseBadCredentials
		if r.s.S3Compatible() {
			st.Message = fmt.Sprintf("the server rejected the access keys (%s): %s", code, credentialsMeaning(code))
			st.Hint = "check access_key_id and secret_access_key: copy both again from the server (they are case-sensitive), and check that the key is active and not expired"
		} else {
			st.Message = fmt.Sprintf("S3 rejected the role's temporary credentials (%s): %s", code, credentialsMeaning(code))
			st.Hint = "test again; if it persists, check the role's maximum session duration and contact the platform operator with the request ID"
		}
	case IsRegionMismatch(err):
		st.Cause = CauseWrongRegion
		if real := BucketRegion(err); real != "" && real != r.s.Region {
			st.Message = fmt.Sprintf("the bucket %s is in region %s, not %s", r.s.Bucket, real, r.s.Region)
			st.Hint = fmt.Sprintf("set region to %s (the bucket's region cannot be changed)", real)
		} else {
			st.Message = fmt.Sprintf("the bucket %s is not in region %s (%s)", r.s.Bucket, r.s.Region, code)
			st.Hint = "set region to the region the S3 console shows for the bucket"
		}
	case IsNoSuchBucket(err):
		st.Cause = CauseBucketNotFound
		st.Message = fmt.Sprintf("there is no bucket named %s", r.s.Bucket)
		if r.s.S3Compatible() {
			st.Message += " on " + r.s.Endpoint
			st.Hint = "check the bucket name (exact spelling) and that the bucket exists on this server; create it first if needed"
		} else {
			st.Message += fmt.Sprintf(" (in %s's partition)", r.s.Region)
			st.Hint = "check the bucket name (exact spelling, as the S3 console shows it) and that the bucket exists; lakeport does not create it"
		}
	case IsNoSuchKey(err):
		st.Cause = CauseObjectNotFound
		st.Message = fmt.Sprintf("%s was written but is not there to read", ObjectKey)
		st.Hint = "something removes objects right after they are written (a lifecycle rule or another process); lakeport needs the bucket to itself"
	case IsKMSError(err) || r.s.KMSKeyARN != "" && (st.Name == StepPutObject || st.Name == StepGetObject) && IsAccessDenied(err) && mentionsKMS(err):
		st.Cause = CauseKMSKeyUnusable
		verb := "encrypt the object with"
		if st.Name == StepGetObject {
			verb = "decrypt the object with"
		}
		key := orText(r.s.KMSKeyARN, "the bucket's default KMS key")
		st.Message = fmt.Sprintf("S3 could not %s the KMS key %s (%s)", verb, key, code)
		if !r.s.S3Compatible() {
			st.Message += ": " + errorMessage(err)
		}
		st.Hint = fmt.Sprintf("let %s use the key: it needs kms:GenerateDataKey and kms:Encrypt to write, kms:Decrypt to read, and kms:DescribeKey, "+
			"in its permission policy AND in the key policy of %s (a KMS key policy must allow the role or delegate to the account); "+
			"also check that the key is enabled and in region %s", r.principal(), key, r.s.Region)
	case IsAccessDenied(err):
		r.explainDenied(st, err, action)
	default:
		st.Cause = CauseServiceError
		if code == "" {
			st.Cause = CauseUnexpectedResponse
			st.Message = fmt.Sprintf("%s failed: %s", st.Name, rootCause(err))
		} else {
			st.Message = fmt.Sprintf("%s failed with %s (HTTP %d)", st.Name, code, HTTPStatus(err))
			if !r.s.S3Compatible() {
				st.Message += ": " + errorMessage(err)
			}
		}
		st.Hint = "test again; if it persists, look up the error code in the S3 documentation and check the bucket's configuration"
	}
}

func credentialsMeaning(code string) string {
	switch code {
	case "InvalidAccessKeyId":
		return "the access key ID does not exist on the server"
	case "SignatureDoesNotMatch":
		return "the secret access key does not belong to the access key ID"
	case "ExpiredToken", "ExpiredTokenException", "TokenRefreshRequired":
		return "the credentials have expired"
	case "InvalidToken", "InvalidClientTokenId":
		return "the security token is not valid"
	}
	return "the credentials are not valid"
}

func (r *run) explainDenied(st *Step, err error, action string) {
	d, detailed := AccessDenial(err)
	if d.Action != "" && s3Action.MatchString(d.Action) {
		action = d.Action
	}
	resource := r.resourceFor(st.Name)
	if d.Resource != "" && !r.s.S3Compatible() {
		resource = d.Resource // an endpoint the organization chose is not quoted
	}
	if d.Explicit {
		st.Cause = CauseExplicitDeny
		policy := orText(d.PolicyType, "a policy")
		st.Message = fmt.Sprintf("S3 denied %s on %s to %s with an explicit deny in a %s", action, resource, r.principal(), policy)
		st.Hint = denyHint(d.PolicyType, action, r.s.Bucket)
		return
	}
	st.Cause = CauseMissingS3Permission
	if detailed && d.PolicyType != "" {
		st.Message = fmt.Sprintf("S3 denied %s on %s to %s: no %s allows it", action, resource, r.principal(), d.PolicyType)
	} else {
		st.Message = fmt.Sprintf("S3 denied %s on %s to %s (AccessDenied)", action, resource, r.principal())
	}
	switch {
	case r.s.S3Compatible():
		st.Hint = fmt.Sprintf("give the user of access_key_id the %s permission on bucket %s (make it the bucket's owner, or grant it in the bucket policy), and check that no bucket policy denies it", action, r.s.Bucket)
	case d.PolicyType == PolicyResourceBased:
		st.Hint = fmt.Sprintf("add an Allow statement for %s on %s naming the role to the bucket policy of %s", action, r.resourceFor(st.Name), r.s.Bucket)
	case d.PolicyType == PolicyPermissionBoundary:
		st.Hint = fmt.Sprintf("the role's permissions boundary does not allow %s: add it to the boundary policy", action)
	case d.PolicyType == PolicyVPCEndpoint:
		st.Hint = fmt.Sprintf("a VPC endpoint policy does not allow %s on %s: add it to that policy", action, r.resourceFor(st.Name))
	case d.PolicyType == PolicySCP || d.PolicyType == PolicyRCP:
		st.Hint = fmt.Sprintf("an AWS Organizations %s does not allow %s: ask your organization's administrators to allow it for this role", d.PolicyType, action)
	default:
		st.Hint = fmt.Sprintf("add %s on %s to the role's permission policy; if the policy already allows it, check the bucket policy, "+
			"service control policies and VPC endpoint policies for a Deny", action, r.resourceFor(st.Name))
	}
}

var s3Action = regexp.MustCompile(`^s3:[A-Za-z0-9*]+$`)

func denyHint(policy, action, bucket string) string {
	switch policy {
	case PolicyResourceBased:
		return fmt.Sprintf("the bucket policy of %s has a Deny statement that matches lakeport's request for %s: remove it or narrow it (common causes: a Deny without aws:SourceVpce or aws:SourceIp exceptions, or one that requires another encryption header)", bucket, action)
	case PolicySCP:
		return fmt.Sprintf("an AWS Organizations service control policy denies %s for this account: ask your organization's administrators to exempt the role or the bucket", action)
	case PolicyRCP:
		return fmt.Sprintf("an AWS Organizations resource control policy denies %s on this bucket: ask your organization's administrators to exempt lakeport's role", action)
	case PolicyVPCEndpoint:
		return fmt.Sprintf("a VPC endpoint policy denies %s: add an exception for the bucket %s and the role to that policy", action, bucket)
	case PolicyPermissionBoundary:
		return fmt.Sprintf("the role's permissions boundary denies %s: remove the Deny or attach a boundary that allows it", action)
	case PolicyIdentityBased:
		return fmt.Sprintf("a policy attached to the role denies %s: remove that Deny statement", action)
	case PolicySession:
		return fmt.Sprintf("a session policy denies %s: contact the platform operator", action)
	}
	return fmt.Sprintf("a policy explicitly denies %s: check the bucket policy of %s, the role's policies and permissions boundary, service control policies and VPC endpoint policies for a Deny", action, bucket)
}
