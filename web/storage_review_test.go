package web_test

import (
	"context"
	"encoding/json"
	"html"
	"net/url"
	"strings"
	"testing"

	"github.com/lakeport/lakeport/client"
)

// TestPolicyReviewBox: pasted policies are reviewed on the Data Storage page,
// every finding shown with its statement and fix; lakeport's own pass.
func TestPolicyReviewBox(t *testing.T) {
	s := startStack(t)
	p, err := client.New(s.URL, s.AdminToken).StoragePolicy(context.Background(), "acme-lake", "")
	if err != nil {
		t.Fatal(err)
	}
	trust, _ := json.Marshal(p.TrustPolicy)
	perms, _ := json.Marshal(p.PermissionPolicy)
	role := "arn:aws:iam::123456789012:role/lakeport-access"

	b := newBrowser(t, s.URL)
	b.signInToken(s.AdminToken)
	if code, body, _ := b.get("/settings/storage"); code != 200 || !strings.Contains(body, `id="review-form"`) {
		t.Fatalf("storage page: %d, no review box", code)
	}
	code, body, _ := b.post("/settings/storage/review", url.Values{"review_role_arn": {role}, "trust_policy": {string(trust)}, "permission_policy": {string(perms)}})
	if code != 200 || !strings.Contains(body, "No problems found.") || !strings.Contains(body, "What the review checked") {
		t.Fatalf("review of lakeport's own policies: %d\n%s", code, body)
	}

	var doc map[string]any
	_ = json.Unmarshal(trust, &doc)
	delete(doc["Statement"].([]any)[0].(map[string]any), "Condition")
	broken, _ := json.Marshal(doc)
	code, body, _ = b.post("/settings/storage/review", url.Values{"review_role_arn": {role}, "trust_policy": {string(broken)},
		"permission_policy": {strings.Replace(string(perms), `"s3:PutObject",`, "", 1)}})
	page := html.UnescapeString(body)
	for _, want := range []string{"These policies would not work as they are.", `data-code="external_id_missing"`, `data-code="missing_action"`,
		"trust policy, statement LakeportAssumeRole", `use exactly "Condition": {"StringEquals": {"sts:ExternalId"`, `add "s3:PutObject" to the Action list of statement LakeportBucketAccess`} {
		if code != 200 || !strings.Contains(page, want) {
			t.Fatalf("review of broken policies lacks %q: %d\n%s", want, code, page)
		}
	}
	// The pasted text stays in the box to fix it there.
	if !strings.Contains(page, `"s3:GetObject*"`) {
		t.Fatal("the pasted permission policy is not kept in its box")
	}
	code, body, _ = b.post("/settings/storage/review", url.Values{"review_role_arn": {"not-an-arn"}, "trust_policy": {string(trust)}, "permission_policy": {string(perms)}})
	if code != 200 || !strings.Contains(body, `id="review-error"`) || !strings.Contains(body, "role ARN") {
		t.Fatalf("bad role ARN: %d\n%s", code, body)
	}
}
