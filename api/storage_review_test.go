package api_test

import (
	"bytes"
	"context"
	"encoding/json"
	"net/http"
	"strings"
	"testing"

	"github.com/lakeport/lakeport/api"
	"github.com/lakeport/lakeport/client"
	"github.com/lakeport/lakeport/config"
	"github.com/lakeport/lakeport/storage/policy/review"
	"github.com/lakeport/lakeport/store"
)

var platform = config.Platform{AccountID: "111122223333", WorkerPrincipalARN: "arn:aws:iam::111122223333:role/lakeport-sync-worker"}

const reviewRole = "arn:aws:iam::123456789012:role/lakeport-access"

// printedDocs asks the server for the org's documents, as the CLI prints them.
func printedDocs(t *testing.T, c interface {
	StoragePolicy(context.Context, string, string) (api.PolicyView, error)
}) (trust, perms json.RawMessage) {
	t.Helper()
	p, err := c.StoragePolicy(context.Background(), "acme-lake", "")
	if err != nil {
		t.Fatal(err)
	}
	trust, _ = json.Marshal(p.TrustPolicy)
	perms, _ = json.Marshal(p.PermissionPolicy)
	return trust, perms
}

func asText(doc json.RawMessage) json.RawMessage {
	s, _ := json.Marshal(string(doc))
	return s
}

func TestReviewPassesPrintedPoliciesAndFindsProblems(t *testing.T) {
	e := newEnv(t, platform)
	ctx := context.Background()
	trust, perms := printedDocs(t, e.operator)

	// As pasted text and as JSON objects alike.
	for _, req := range []api.ReviewRequest{
		{RoleARN: reviewRole, TrustPolicy: asText(trust), PermissionPolicy: asText(perms)},
		{RoleARN: reviewRole, TrustPolicy: trust, PermissionPolicy: perms},
	} {
		rep, err := e.operator.ReviewStorage(ctx, req)
		if err != nil || !rep.OK || len(rep.Findings) != 0 || rep.Bucket != "acme-lake" || len(rep.Checked) == 0 {
			t.Fatalf("review of lakeport's own documents: %v %+v", err, rep)
		}
	}

	// Every problem at once: no external ID condition, and no s3:PutObject.
	var t2 map[string]any
	_ = json.Unmarshal(trust, &t2)
	delete(t2["Statement"].([]any)[0].(map[string]any), "Condition")
	noCond, _ := json.Marshal(t2)
	noPut := strings.Replace(string(perms), `"s3:PutObject",`, "", 1)
	rep, err := e.operator.ReviewStorage(ctx, api.ReviewRequest{RoleARN: reviewRole, TrustPolicy: asText(noCond), PermissionPolicy: asText(json.RawMessage(noPut))})
	if err != nil || rep.OK {
		t.Fatalf("broken documents: %v %+v", err, rep)
	}
	codes := map[string]string{}
	for _, f := range rep.Findings {
		codes[f.Code] = f.Statement
	}
	if codes[review.CodeExternalIDMissing] != "LakeportAssumeRole" || len(rep.Errors()) != 2 {
		t.Fatalf("findings = %+v", rep.Findings)
	}
	if _, ok := codes[review.CodeMissingAction]; !ok {
		t.Fatalf("findings = %+v", rep.Findings)
	}

	// A member may review: it reads and changes nothing.
	tok, err := e.operator.CreateToken(ctx, store.RoleMember)
	if err != nil {
		t.Fatal(err)
	}
	member := client.New(e.url, tok.Token)
	if rep, err := member.ReviewStorage(ctx, api.ReviewRequest{RoleARN: reviewRole, TrustPolicy: trust, PermissionPolicy: perms}); err != nil || !rep.OK {
		t.Fatalf("review by a member: %v %+v", err, rep)
	}
}

// TestReviewUsesTheCallersExternalID: the hostile tenant. Org B pastes org A's
// trust policy (A's external ID): B's review must not pass it, because lakeport
// assumes B's storage role only with B's external ID; and B cannot choose the
// external ID the review uses.
func TestReviewUsesTheCallersExternalID(t *testing.T) {
	e := newEnv(t, platform)
	ctx := context.Background()
	trustA, perms := printedDocs(t, e.operator)
	orgB := e.newOrg(t, "beta")
	rep, err := orgB.ReviewStorage(ctx, api.ReviewRequest{RoleARN: reviewRole, TrustPolicy: trustA, PermissionPolicy: perms})
	if err != nil {
		t.Fatal(err)
	}
	if rep.OK || len(rep.Findings) != 1 || rep.Findings[0].Code != review.CodeExternalIDMismatch {
		t.Fatalf("org B's review of org A's trust policy: %+v", rep)
	}
	trustB, _ := printedDocs(t, orgB)
	if rep, err := orgB.ReviewStorage(ctx, api.ReviewRequest{RoleARN: reviewRole, TrustPolicy: trustB, PermissionPolicy: perms}); err != nil || !rep.OK {
		t.Fatalf("org B's own documents: %v %+v", err, rep)
	}

	// No field of the request can name an external ID.
	body := `{"role_arn":"` + reviewRole + `","trust_policy":` + string(trustA) + `,"permission_policy":` + string(perms) + `,"external_id":"anything"}`
	req, _ := http.NewRequest(http.MethodPost, e.url+"/api/v1/storage/review", bytes.NewReader([]byte(body)))
	req.Header.Set("Authorization", "Bearer "+orgB.Token)
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	var apiErr api.Error
	_ = json.NewDecoder(resp.Body).Decode(&apiErr)
	if resp.StatusCode != 400 || !strings.Contains(apiErr.Message, "never takes one from a request") {
		t.Fatalf("external_id in a review request: HTTP %d %+v", resp.StatusCode, apiErr)
	}
}

func TestReviewBadInput(t *testing.T) {
	e := newEnv(t, platform)
	ctx := context.Background()
	trust, perms := printedDocs(t, e.operator)
	for _, c := range []struct {
		req   api.ReviewRequest
		field string
	}{
		{api.ReviewRequest{TrustPolicy: trust, PermissionPolicy: perms}, "role_arn"},
		{api.ReviewRequest{RoleARN: "arn:aws:iam::123456789012:user/x", TrustPolicy: trust, PermissionPolicy: perms}, "role_arn"},
		{api.ReviewRequest{RoleARN: reviewRole, PermissionPolicy: perms}, "trust_policy"},
		{api.ReviewRequest{RoleARN: reviewRole, TrustPolicy: trust}, "permission_policy"},
		{api.ReviewRequest{RoleARN: reviewRole, TrustPolicy: json.RawMessage(`[1]`), PermissionPolicy: perms}, "trust_policy"},
		{api.ReviewRequest{RoleARN: reviewRole, TrustPolicy: trust, PermissionPolicy: perms, Bucket: "Not_A_Bucket"}, "bucket"},
		{api.ReviewRequest{RoleARN: reviewRole, TrustPolicy: trust, PermissionPolicy: perms, KMSKeyARN: "alias/x"}, "kms_key_arn"},
	} {
		_, err := e.operator.ReviewStorage(ctx, c.req)
		ae := wantCode(t, err, 400, "invalid_input")
		if len(ae.Body.Fields) == 0 || ae.Body.Fields[0].Field != c.field {
			t.Errorf("%+v: fields %+v, want %s", c.req, ae.Body.Fields, c.field)
		}
	}
	// A pasted document that is not a policy is a finding, not an error.
	rep, err := e.operator.ReviewStorage(ctx, api.ReviewRequest{RoleARN: reviewRole, TrustPolicy: asText(json.RawMessage(`{"Statement":`)), PermissionPolicy: perms})
	if err != nil || rep.OK || rep.Findings[0].Code != review.CodeInvalidDocument || rep.Findings[0].Document != review.DocTrust {
		t.Fatalf("unparsable trust policy: %v %+v", err, rep)
	}

	noPlatform := newEnv(t, config.Platform{})
	_, err = noPlatform.operator.ReviewStorage(ctx, api.ReviewRequest{RoleARN: reviewRole, TrustPolicy: trust, PermissionPolicy: perms})
	wantCode(t, err, 409, "platform_not_configured")
}

func TestReviewDefaultsToTheSavedBucket(t *testing.T) {
	e := newEnv(t, platform)
	ctx := context.Background()
	key := "arn:aws:kms:eu-west-1:123456789012:key/1234abcd-12ab-34cd-56ef-1234567890ab"
	org, err := e.store.OrgByName(ctx, "default")
	if err != nil {
		t.Fatal(err)
	}
	if err := e.store.PutStorageSetting(ctx, store.StorageSetting{OrgID: org.ID, Mode: "customer_hosted", Bucket: "saved-lake", Region: "eu-west-1",
		RoleARN: reviewRole, KMSKeyARN: key}); err != nil {
		t.Fatal(err)
	}
	trust, perms := printedDocs(t, e.operator) // for acme-lake: wrong bucket, and no KMS statement
	rep, err := e.operator.ReviewStorage(ctx, api.ReviewRequest{RoleARN: reviewRole, TrustPolicy: trust, PermissionPolicy: perms})
	if err != nil || rep.Bucket != "saved-lake" || rep.KMSKeyARN != key || rep.OK {
		t.Fatalf("review against the saved setting: %v %+v", err, rep)
	}
	var kms, narrow bool
	for _, f := range rep.Findings {
		kms = kms || f.Code == review.CodeKMSActionMissing
		narrow = narrow || f.Code == review.CodeResourceTooNarrow
	}
	if !kms || !narrow {
		t.Fatalf("findings = %+v", rep.Findings)
	}
}
