package review

import (
	"encoding/json"
	"fmt"
	"strings"

	"github.com/lakeport/lakeport/storage/policy/iam"
)

// describeCondition writes a condition as it reads in JSON:
// StringEquals {"sts:ExternalId": "x"}.
func describeCondition(c iam.Condition) string {
	var v string
	if len(c.Values) == 1 {
		v = fmt.Sprintf("%q", c.Values[0])
	} else {
		v = jsonList(c.Values)
	}
	return fmt.Sprintf("%s {%q: %s}", c.Operator, c.Key, v)
}

func describeConditions(cs []iam.Condition) string {
	parts := make([]string, len(cs))
	for i, c := range cs {
		parts[i] = describeCondition(c)
	}
	return strings.Join(parts, ", ")
}

func jsonList(vals []string) string {
	b, _ := json.Marshal(vals)
	return string(b)
}

func actionList(st iam.Statement) string {
	if st.NotAction != nil {
		return "every action except " + strings.Join(st.NotAction, ", ")
	}
	return strings.Join(st.Action, ", ")
}

func resourceList(st iam.Statement) string {
	if st.NotResource != nil {
		return "every resource except " + strings.Join(st.NotResource, ", ")
	}
	return strings.Join(st.Resource, ", ")
}

// keyReason says what lakeport's requests carry for a condition key, and why.
func keyReason(key string, r *reviewer) string {
	k := strings.ToLower(key)
	switch {
	case k == "aws:sourcevpce" || k == "aws:sourcevpc" || k == "aws:vpcsourceip":
		return "lakeport reaches AWS from its own network, never through a VPC endpoint in your VPC, so its requests carry no " + key
	case k == "aws:principalorgid" || k == "aws:principalorgpaths":
		return "lakeport's principals belong to lakeport's AWS account, outside your AWS Organization (the role's own session is in your account: an organization condition on S3 or KMS holds only if account " + r.roleAcct + " is in that organization)"
	case k == "aws:multifactorauthpresent" || k == "aws:multifactorauthage":
		return "lakeport calls AWS from software with temporary credentials, without MFA"
	case k == "aws:sourcearn" || k == "aws:sourceaccount" || k == "aws:sourceorgid" || k == "aws:sourceorgpaths":
		return "these keys are set only when an AWS service acts for a resource; lakeport calls with the role's own credentials"
	case k == "aws:username":
		return "a role session has no aws:username"
	case k == "aws:securetransport":
		return "lakeport always calls AWS over TLS (aws:SecureTransport is true)"
	case k == "aws:sourceip":
		return "lakeport's source addresses are its operator's, unknown to this review"
	case k == "aws:principalarn":
		return "lakeport's requests come from " + r.in.RoleARN + " (on S3 and KMS) and from lakeport's own principals (on sts:AssumeRole)"
	case k == "aws:principalaccount":
		return "lakeport's sts:AssumeRole comes from account " + r.in.Platform.AccountID + "; its S3 and KMS requests from the role's account " + r.roleAcct
	case strings.HasPrefix(k, "aws:principaltag/") || strings.HasPrefix(k, "aws:resourcetag/"):
		return "tags are not part of the documents reviewed"
	case k == "aws:requestedregion" || k == "kms:viaservice":
		if r.region == "" {
			return "the bucket's region was not given (--region)"
		}
		return "lakeport's requests go to region " + r.region + " (S3 asks KMS as s3." + r.region + ".amazonaws.com)"
	case k == "s3:prefix":
		return "lakeport lists " + validationDir + " (Test connection) and each connector's top-level prefix like " + connectorDir + "; HeadBucket carries no prefix"
	case strings.HasPrefix(k, "s3:x-amz-server-side-encryption"):
		if r.keyARN == "" {
			return "no KMS key is set, so lakeport sends no SSE-KMS headers"
		}
		return "lakeport sends x-amz-server-side-encryption: aws:kms with the key " + r.keyARN
	case k == "s3:tlsversion":
		return "lakeport may negotiate TLS 1.2 (its minimum)"
	case k == "sts:externalid":
		return "lakeport always sends this organization's external ID " + r.in.ExternalID
	case strings.HasPrefix(k, "kms:encryptioncontext"):
		return "S3's encryption context is the object's (or, with S3 Bucket Keys, the bucket's) ARN"
	}
	return "lakeport's request does not carry " + key + " with such a value"
}
