// Package policy writes the two IAM documents an admin pastes into AWS to give lakeport a
// customer-hosted bucket: the permission policy on the role, and the role's trust policy.
package policy

import (
	"errors"
	"strings"
)

// Document is an IAM policy document; it marshals to the JSON AWS expects.
type Document struct {
	Version   string      `json:"Version"`
	Statement []Statement `json:"Statement"`
}

// Statement is one IAM policy statement.
type Statement struct {
	Sid       string     `json:"Sid"`
	Effect    string     `json:"Effect"`
	Principal *Principal `json:"Principal,omitempty"`
	Action    []string   `json:"Action"`
	Resource  []string   `json:"Resource,omitempty"`
	Condition Condition  `json:"Condition,omitempty"`
}

// Principal names AWS principals.
type Principal struct {
	AWS []string `json:"AWS"`
}

// Condition is operator → key → value.
type Condition map[string]map[string]string

// S3Actions are the bucket and object actions lakeport needs, as the setup guide lists them:
// HeadBucket and listings are s3:ListBucket; multipart uploads of large data files are
// s3:PutObject, and s3:AbortMultipartUpload removes the parts of one that failed;
// s3:GetBucketLocation lets tools that use the role find the bucket's region.
var S3Actions = []string{"s3:GetObject*", "s3:PutObject", "s3:DeleteObject", "s3:ListBucket*", "s3:AbortMultipartUpload", "s3:GetBucketLocation"}

// KMSActions are needed on the bucket's KMS key when objects are encrypted with SSE-KMS.
var KMSActions = []string{"kms:Decrypt", "kms:Encrypt", "kms:GenerateDataKey", "kms:DescribeKey"}

// Permissions returns the role's permission policy for bucket, with a KMS statement when
// kmsKeyARN is set. partition is "aws", "aws-cn" or "aws-us-gov" ("" means "aws").
func Permissions(partition, bucket, kmsKeyARN string) (Document, error) {
	if bucket == "" {
		return Document{}, errors.New("policy: bucket is required")
	}
	if partition == "" {
		partition = "aws"
	}
	d := Document{Version: "2012-10-17", Statement: []Statement{{
		Sid:    "LakeportBucketAccess",
		Effect: "Allow",
		Action: S3Actions,
		Resource: []string{
			"arn:" + partition + ":s3:::" + bucket,
			"arn:" + partition + ":s3:::" + bucket + "/*",
		},
	}}}
	if kmsKeyARN != "" {
		d.Statement = append(d.Statement, Statement{
			Sid: "LakeportKMSKey", Effect: "Allow", Action: KMSActions, Resource: []string{kmsKeyARN},
		})
	}
	return d, nil
}

// Trust returns the role's trust policy: both of the platform's principals may assume the
// role, and only with the organization's external ID.
func Trust(partition, accountID, workerPrincipalARN, externalID string) (Document, error) {
	switch {
	case accountID == "":
		return Document{}, errors.New("policy: the platform's AWS account ID is not configured")
	case workerPrincipalARN == "":
		return Document{}, errors.New("policy: the sync workers' principal ARN is not configured")
	case externalID == "":
		return Document{}, errors.New("policy: the organization has no external ID")
	}
	if partition == "" {
		partition = partitionOf(workerPrincipalARN)
	}
	return Document{Version: "2012-10-17", Statement: []Statement{{
		Sid:       "LakeportAssumeRole",
		Effect:    "Allow",
		Principal: &Principal{AWS: []string{"arn:" + partition + ":iam::" + accountID + ":root", workerPrincipalARN}},
		Action:    []string{"sts:AssumeRole"},
		Condition: Condition{"StringEquals": {"sts:ExternalId": externalID}},
	}}}, nil
}

func partitionOf(arn string) string {
	if parts := strings.SplitN(arn, ":", 3); len(parts) == 3 && parts[0] == "arn" && parts[1] != "" {
		return parts[1]
	}
	return "aws"
}
