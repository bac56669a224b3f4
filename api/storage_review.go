package api

import (
	"bytes"
	"encoding/json"
	"net/http"

	"github.com/lakeport/lakeport/storage"
	"github.com/lakeport/lakeport/storage/policy/review"
	"github.com/lakeport/lakeport/store"
)

// ReviewRequest is POST /api/v1/storage/review: the documents an admin
// proposes, before anything is saved. Each document is its JSON text (a
// string, as pasted) or the JSON object itself. Bucket, region and KMS key
// default to the saved setting's when no bucket is given; otherwise to what
// the permission policy names.
type ReviewRequest struct {
	RoleARN          string          `json:"role_arn"`
	TrustPolicy      json.RawMessage `json:"trust_policy"`
	PermissionPolicy json.RawMessage `json:"permission_policy"`
	BucketPolicy     json.RawMessage `json:"bucket_policy,omitempty"`
	KMSKeyPolicy     json.RawMessage `json:"kms_key_policy,omitempty"`
	Bucket           string          `json:"bucket,omitempty"`
	Region           string          `json:"region,omitempty"`
	KMSKeyARN        string          `json:"kms_key_arn,omitempty"`
}

// reviewStorage answers a review.Report: 200 with every finding (a failing
// review is an answer, not an error); 400 for missing or malformed inputs.
func (s *Server) reviewStorage(w http.ResponseWriter, r *http.Request) {
	var req ReviewRequest
	if !decode(w, r, &req) {
		return
	}
	c := callerOf(r)
	docs := map[string][]byte{}
	var fields []storage.FieldError
	if req.RoleARN == "" {
		fields = append(fields, storage.FieldError{Field: "role_arn", Message: "required: the ARN of the IAM role lakeport is to assume"})
	} else if _, err := storage.ParseRoleARN(req.RoleARN); err != nil {
		fields = append(fields, storage.FieldError{Field: "role_arn", Message: err.Error()})
	}
	for _, d := range []struct {
		field    string
		raw      json.RawMessage
		required bool
	}{{"trust_policy", req.TrustPolicy, true}, {"permission_policy", req.PermissionPolicy, true},
		{"bucket_policy", req.BucketPolicy, false}, {"kms_key_policy", req.KMSKeyPolicy, false}} {
		doc, ok := documentText(d.raw)
		switch {
		case !ok:
			fields = append(fields, storage.FieldError{Field: d.field, Message: "must be the policy's JSON text (a string) or the JSON object itself"})
		case len(doc) == 0 && d.required:
			fields = append(fields, storage.FieldError{Field: d.field, Message: "required: paste the " + map[string]string{"trust_policy": "role's trust policy", "permission_policy": "role's permission policy"}[d.field]})
		}
		docs[d.field] = doc
	}
	if req.Bucket != "" {
		if err := storage.CheckBucketName(req.Bucket); err != nil {
			fields = append(fields, storage.FieldError{Field: "bucket", Message: err.Error()})
		}
	}
	if req.KMSKeyARN != "" {
		if _, err := storage.ParseKMSKeyARN(req.KMSKeyARN); err != nil {
			fields = append(fields, storage.FieldError{Field: "kms_key_arn", Message: err.Error()})
		}
	}
	if len(fields) > 0 {
		writeJSON(w, http.StatusBadRequest, Error{Code: "invalid_input", Message: fields[0].Error(), Fields: fields})
		return
	}
	if !s.Platform.Configured() {
		platformNotConfigured(w, "a trust policy cannot be reviewed")
		return
	}
	if req.Bucket == "" {
		st, err := s.Store.StorageSetting(r.Context(), c.Org.ID)
		if err != nil {
			s.internal(w, r, err)
			return
		}
		if st.Mode == string(storage.ModeCustomerHosted) && st.Endpoint == "" {
			req.Bucket, req.Region = st.Bucket, firstNonEmpty(req.Region, st.Region)
			req.KMSKeyARN = firstNonEmpty(req.KMSKeyARN, st.KMSKeyARN)
		}
	}
	writeJSON(w, http.StatusOK, review.Review(reviewInput(req, docs, s, c.Org)))
}

func reviewInput(req ReviewRequest, docs map[string][]byte, s *Server, org store.Org) review.Input {
	return review.Input{
		RoleARN: req.RoleARN, TrustPolicy: docs["trust_policy"], PermissionPolicy: docs["permission_policy"],
		BucketPolicy: docs["bucket_policy"], KeyPolicy: docs["kms_key_policy"],
		Bucket: req.Bucket, Region: req.Region, KMSKeyARN: req.KMSKeyARN,
		Platform:   review.Platform{AccountID: s.Platform.AccountID, WorkerPrincipalARN: s.Platform.WorkerPrincipalARN},
		ExternalID: org.ExternalID, // always the caller's organization's, never the request's
	}
}

// documentText reads a document field: a JSON string holding the policy's
// text, or the policy's JSON object. Absent or null is empty.
func documentText(raw json.RawMessage) ([]byte, bool) {
	raw = bytes.TrimSpace(raw)
	switch {
	case len(raw) == 0 || bytes.Equal(raw, []byte("null")):
		return nil, true
	case raw[0] == '"':
		var s string
		if err := json.Unmarshal(raw, &s); err != nil {
			return nil, false
		}
		return bytes.TrimSpace([]byte(s)), true
	case raw[0] == '{':
		return raw, true
	}
	return nil, false
}

func firstNonEmpty(a, b string) string {
	if a != "" {
		return a
	}
	return b
}
