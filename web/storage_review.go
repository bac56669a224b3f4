package web

import (
	"encoding/json"
	"net/http"
	"strings"

	"github.com/lakeport/lakeport/api"
	"github.com/lakeport/lakeport/client"
	"github.com/lakeport/lakeport/storage/policy/review"
)

// reviewView is the Data Storage page's policy review box: what was pasted
// and the review of it (lakeport storage review in the console).
type reviewView struct {
	RoleARN, Trust, Permission, BucketPolicy, KeyPolicy string
	Report                                              *review.Report
	Error                                               string
}

// storageReview reviews pasted policies with the API and shows every finding
// on the storage page. Nothing is saved; members may review too.
func (h *handler) storageReview(w http.ResponseWriter, r *http.Request) {
	f := r.PostFormValue
	rv := &reviewView{RoleARN: strings.TrimSpace(f("review_role_arn")), Trust: f("trust_policy"), Permission: f("permission_policy"),
		BucketPolicy: f("bucket_policy"), KeyPolicy: f("kms_key_policy")}
	text := func(s string) json.RawMessage {
		if strings.TrimSpace(s) == "" {
			return nil
		}
		b, _ := json.Marshal(s)
		return b
	}
	rep, err := h.apiFor(r).ReviewStorage(r.Context(), api.ReviewRequest{RoleARN: rv.RoleARN,
		TrustPolicy: text(rv.Trust), PermissionPolicy: text(rv.Permission), BucketPolicy: text(rv.BucketPolicy), KMSKeyPolicy: text(rv.KeyPolicy)})
	if e, ok := client.AsError(err); ok && e.Status < 500 {
		rv.Error = e.Body.Message
	} else if err != nil {
		h.apiError(w, r, err)
		return
	} else {
		rv.Report = &rep
	}
	h.showStorage(w, r, http.StatusOK, &storageForm{Review: rv})
}
