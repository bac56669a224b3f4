package s3test_test

import (
	"context"
	"fmt"
	"testing"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/credentials"
	"github.com/aws/aws-sdk-go-v2/service/sts"

	"github.com/lakeport/lakeport/s3test"
)

func assume(t *testing.T, f *s3test.STS, creds aws.CredentialsProvider, role, externalID string) (aws.Credentials, error) {
	t.Helper()
	c := sts.New(sts.Options{Region: "us-east-1", Credentials: creds, BaseEndpoint: aws.String(f.URL)})
	in := &sts.AssumeRoleInput{RoleArn: aws.String(role), RoleSessionName: aws.String("test-session")}
	if externalID != "" {
		in.ExternalId = aws.String(externalID)
	}
	out, err := c.AssumeRole(context.Background(), in)
	if err != nil {
		return aws.Credentials{}, err
	}
	return aws.Credentials{AccessKeyID: *out.Credentials.AccessKeyId, SecretAccessKey: *out.Credentials.SecretAccessKey, SessionToken: *out.Credentials.SessionToken}, nil
}

func trust(principals, externalID string) string {
	return fmt.Sprintf(`{"Version":"2012-10-17","Statement":[{"Effect":"Allow","Principal":{"AWS":%s},"Action":"sts:AssumeRole",
		"Condition":{"StringEquals":{"sts:ExternalId":%q}}}]}`, principals, externalID)
}

// The trust policy is checked against the caller at each hop of a role chain.
func TestSTSTrustPolicyAndRoleChain(t *testing.T) {
	const (
		platform = "arn:aws:iam::111122223333:user/lakeport-platform"
		workers  = "arn:aws:iam::444455556666:role/lakeport-workers"
		customer = "arn:aws:iam::999988887777:role/lakeport-access"
	)
	f := s3test.NewSTS(t)
	f.AddCaller("PLATFORMKEY", platform)
	f.AddRole(s3test.Role{ARN: workers, AccessKey: "WORKERKEY", SecretKey: "w",
		TrustPolicy: `{"Statement":[{"Effect":"Allow","Principal":{"AWS":"arn:aws:iam::111122223333:root"},"Action":"sts:AssumeRole"}]}`})
	f.AddRole(s3test.Role{ARN: customer, AccessKey: "CUSTKEY", SecretKey: "c",
		TrustPolicy: trust(`["arn:aws:iam::111122223333:root","`+workers+`"]`, "ext-1")})
	platformCreds := credentials.NewStaticCredentialsProvider("PLATFORMKEY", "p", "")

	if _, err := assume(t, f, platformCreds, customer, "ext-1"); err != nil {
		t.Fatalf("the platform (named by its account): %v", err)
	}
	w, err := assume(t, f, platformCreds, workers, "")
	if err != nil {
		t.Fatalf("platform → workers' role: %v", err)
	}
	if _, err := assume(t, f, credentials.StaticCredentialsProvider{Value: w}, customer, "ext-1"); err != nil {
		t.Fatalf("workers' role → customer role: %v", err)
	}
	reqs := f.Requests()
	if last := reqs[len(reqs)-1]; last.Caller != workers || last.CallerAccessKey != "WORKERKEY" {
		t.Errorf("the second hop's caller is %q (%s), want the workers' role", last.Caller, last.CallerAccessKey)
	}
	if _, err := assume(t, f, credentials.StaticCredentialsProvider{Value: w}, customer, "ext-2"); err == nil {
		t.Error("another external ID was accepted")
	}
	if _, err := assume(t, f, credentials.NewStaticCredentialsProvider("STRANGER", "s", ""), customer, "ext-1"); err == nil {
		t.Error("an unknown caller was accepted")
	}

	// A trust policy that forgets the workers' principal.
	f.AddRole(s3test.Role{ARN: customer, AccessKey: "CUSTKEY", SecretKey: "c",
		TrustPolicy: trust(`"arn:aws:iam::111122223333:root"`, "ext-1")})
	if _, err := assume(t, f, credentials.StaticCredentialsProvider{Value: w}, customer, "ext-1"); err == nil {
		t.Error("the workers assumed a role whose trust policy does not name them")
	}
	if _, err := assume(t, f, platformCreds, customer, "ext-1"); err != nil {
		t.Errorf("the platform: %v", err)
	}
	if !f.Requests()[len(f.Requests())-2].Denied {
		t.Error("the refused call is not marked denied")
	}

	// An explicit deny beats an allow.
	f.AddRole(s3test.Role{ARN: customer, AccessKey: "CUSTKEY", SecretKey: "c", TrustPolicy: `{"Statement":[
		{"Effect":"Allow","Principal":{"AWS":"*"},"Action":"sts:AssumeRole"},
		{"Effect":"Deny","Principal":{"AWS":"` + workers + `"},"Action":"sts:*"}]}`})
	if _, err := assume(t, f, credentials.StaticCredentialsProvider{Value: w}, customer, ""); err == nil {
		t.Error("an explicit deny of the workers did not refuse them")
	}
	if _, err := assume(t, f, platformCreds, customer, ""); err != nil {
		t.Errorf("the platform under Principal *: %v", err)
	}
}
