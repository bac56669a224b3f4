package api

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"strings"
	"time"

	"github.com/lakeport/lakeport/config"
	"github.com/lakeport/lakeport/migration"
	"github.com/lakeport/lakeport/storage"
	"github.com/lakeport/lakeport/storage/policy"
	"github.com/lakeport/lakeport/store"
	"github.com/lakeport/lakeport/validation"
)

// HealthView is the last background check of customer-hosted storage.
type HealthView struct {
	OK        bool      `json:"ok"`
	Cause     string    `json:"cause,omitempty"`
	Message   string    `json:"message,omitempty"`
	CheckedAt time.Time `json:"checked_at"`
	Paused    bool      `json:"syncs_paused"`
}

// StorageView is GET /api/v1/storage: the org's setting and the values an admin needs
// from lakeport to set up a customer-hosted bucket. The secret access key is never shown.
type StorageView struct {
	Mode               storage.Mode     `json:"mode"`
	Setting            *storage.Setting `json:"setting,omitempty"`
	SecretAccessKeySet bool             `json:"secret_access_key_set,omitempty"`
	ValidatedAt        *time.Time       `json:"validated_at,omitempty"`
	UpdatedAt          *time.Time       `json:"updated_at,omitempty"`
	Platform           config.Platform  `json:"platform"`
	PlatformConfigured bool             `json:"platform_configured"`
	Health             *HealthView      `json:"health,omitempty"`
	ExternalID         string           `json:"external_id"`
}

func (s *Server) storageView(st store.StorageSetting, org store.Org) StorageView {
	v := StorageView{Mode: storage.Mode(st.Mode), Platform: s.Platform, PlatformConfigured: s.Platform.Configured(), ExternalID: org.ExternalID}
	if st.Mode == string(storage.ModeCustomerHosted) {
		v.Setting = &storage.Setting{Bucket: st.Bucket, Region: st.Region, RoleARN: st.RoleARN, KMSKeyARN: st.KMSKeyARN,
			Endpoint: st.Endpoint, AccessKeyID: st.AccessKeyID}
		v.SecretAccessKeySet = st.SecretAccessKeySealed != ""
	}
	if !st.ValidatedAt.IsZero() {
		t := st.ValidatedAt
		v.ValidatedAt = &t
	}
	if !st.UpdatedAt.IsZero() {
		t := st.UpdatedAt
		v.UpdatedAt = &t
	}
	return v
}

func (s *Server) showStorage(w http.ResponseWriter, r *http.Request) {
	c := callerOf(r)
	st, err := s.Store.StorageSetting(r.Context(), c.Org.ID)
	if err != nil {
		s.internal(w, r, err)
		return
	}
	v := s.storageView(st, c.Org)
	if hs, ok := s.Store.(store.Health); ok && v.Mode == storage.ModeCustomerHosted {
		if h, err := hs.StorageHealth(r.Context(), c.Org.ID); err == nil {
			v.Health = &HealthView{OK: h.OK, Cause: h.Cause, Message: h.Message, CheckedAt: h.CheckedAt, Paused: !h.OK}
		}
	}
	writeJSON(w, http.StatusOK, v)
}

// PolicyView is GET /api/v1/storage/policy: both IAM documents, filled in.
type PolicyView struct {
	Bucket           string          `json:"bucket"`
	KMSKeyARN        string          `json:"kms_key_arn,omitempty"`
	PermissionPolicy policy.Document `json:"permission_policy"`
	TrustPolicy      policy.Document `json:"trust_policy"`
}

func (s *Server) storagePolicy(w http.ResponseWriter, r *http.Request) {
	c := callerOf(r)
	st, err := s.Store.StorageSetting(r.Context(), c.Org.ID)
	if err != nil {
		s.internal(w, r, err)
		return
	}
	bucket, key := r.URL.Query().Get("bucket"), r.URL.Query().Get("kms_key_arn")
	if bucket == "" {
		bucket = st.Bucket
	}
	if key == "" && r.URL.Query().Get("bucket") == "" {
		key = st.KMSKeyARN
	}
	var fields []storage.FieldError
	if bucket == "" {
		fields = append(fields, storage.FieldError{Field: "bucket", Message: "required: no bucket is saved yet, so give the bucket the policy is for (--bucket)"})
	} else if err := storage.CheckBucketName(bucket); err != nil {
		fields = append(fields, storage.FieldError{Field: "bucket", Message: err.Error()})
	}
	partition := ""
	if key != "" {
		arn, err := storage.ParseKMSKeyARN(key)
		if err != nil {
			fields = append(fields, storage.FieldError{Field: "kms_key_arn", Message: err.Error()})
		}
		partition = arn.Partition
	}
	if len(fields) > 0 {
		writeJSON(w, http.StatusBadRequest, Error{Code: "invalid_input", Message: fields[0].Error(), Fields: fields})
		return
	}
	if !s.Platform.Configured() {
		platformNotConfigured(w, "there is no trust policy to write")
		return
	}
	perm, err := policy.Permissions(partition, bucket, key)
	if err != nil {
		s.internal(w, r, err)
		return
	}
	trust, err := policy.Trust("", s.Platform.AccountID, s.Platform.WorkerPrincipalARN, c.Org.ExternalID)
	if err != nil {
		s.internal(w, r, err)
		return
	}
	writeJSON(w, http.StatusOK, PolicyView{Bucket: bucket, KMSKeyARN: key, PermissionPolicy: perm, TrustPolicy: trust})
}

// Storage is what the API needs of organizations' storage (storage.Resolver).
type Storage interface {
	// Test connection reaches the bucket as each principal.
	validation.Principals
	// Save stores a customer-hosted setting that passed Test connection.
	Save(ctx context.Context, org store.Org, set storage.Setting, validatedAt time.Time) (store.StorageSetting, error)
	// UseManaged switches the organization back to managed storage.
	UseManaged(ctx context.Context, org store.Org) (store.StorageSetting, error)
}

var _ Storage = (*storage.Resolver)(nil)

func (s *Server) validationOptions(org store.Org) validation.Options {
	o := validation.For(s.Storage, org)
	o.StepTimeout, o.PlatformAccountID, o.WorkerPrincipalARN = s.StepTimeout, s.Platform.AccountID, s.Platform.WorkerPrincipalARN
	return o
}

// testStorage runs Test connection. With "Accept: text/event-stream" it answers
// Server-Sent Events: an "event: step" per step as it finishes (a validation.Step), then
// "event: report" with the whole report; otherwise the report as JSON.
func (s *Server) testStorage(w http.ResponseWriter, r *http.Request) {
	var set storage.Setting
	if !decode(w, r, &set) {
		return
	}
	c := callerOf(r)
	o := s.validationOptions(c.Org)
	var events *eventStream
	if acceptsEventStream(r) {
		events = newEventStream(w)
		o.OnStep = func(st validation.Step) { events.send("step", st) }
	}
	report := s.Validate(r.Context(), set, o)
	s.Metrics.Validated(report.OK, firstCause(report))
	if events != nil {
		events.send("report", report)
		return
	}
	writeJSON(w, http.StatusOK, report)
}

// acceptsEventStream reports whether the request asks for Server-Sent Events.
func acceptsEventStream(r *http.Request) bool {
	for _, part := range strings.Split(r.Header.Get("Accept"), ",") {
		mt, _, _ := strings.Cut(part, ";")
		if strings.EqualFold(strings.TrimSpace(mt), "text/event-stream") {
			return true
		}
	}
	return false
}

// eventStream writes Server-Sent Events, each flushed as it is sent. A client that went
// away is not an error: the events after it are dropped.
type eventStream struct {
	w      http.ResponseWriter
	rc     *http.ResponseController
	broken bool
}

// newEventStream answers 200 with the event-stream headers.
func newEventStream(w http.ResponseWriter) *eventStream {
	w.Header().Set("Content-Type", "text/event-stream")
	w.Header().Set("Cache-Control", "no-store")
	w.Header().Set("X-Accel-Buffering", "no") // a proxy in front must not hold the events back
	w.WriteHeader(http.StatusOK)
	return &eventStream{w: w, rc: http.NewResponseController(w)}
}

// send writes one event whose data is v as JSON (one line: JSON escapes newlines).
func (e *eventStream) send(event string, v any) {
	if e.broken {
		return
	}
	data, err := json.Marshal(v)
	if err != nil {
		e.broken = true
		return
	}
	if _, err := fmt.Fprintf(e.w, "event: %s\ndata: %s\n\n", event, data); err != nil {
		e.broken = true
		return
	}
	if err := e.rc.Flush(); err != nil {
		e.broken = true
	}
}

// SaveResponse is PUT /api/v1/storage's answer: the saved setting and the passing report
// that allowed it.
type SaveResponse struct {
	Storage StorageView       `json:"storage"`
	Report  validation.Report `json:"report"`
}

func (s *Server) saveStorage(w http.ResponseWriter, r *http.Request) {
	var set storage.Setting
	if !decode(w, r, &set) {
		return
	}
	if fields := set.Check(); len(fields) > 0 {
		writeJSON(w, http.StatusBadRequest, Error{Code: "invalid_input", Message: fields[0].Error() + " (nothing was saved)", Fields: fields})
		return
	}
	c := callerOf(r)
	// Save only with a passing Test connection of exactly these settings.
	report := s.Validate(r.Context(), set, s.validationOptions(c.Org))
	s.Metrics.Validated(report.OK, firstCause(report))
	if !report.OK {
		writeJSON(w, http.StatusUnprocessableEntity, Error{Code: "validation_failed",
			Message: "Test connection failed, so the setting was not saved: " + firstFailure(report), Report: &report})
		return
	}
	now := time.Now().UTC()
	st, err := s.Storage.Save(r.Context(), c.Org, set, now)
	if err != nil {
		s.internal(w, r, err)
		return
	}
	if hs, ok := s.Store.(store.Health); ok {
		// The passing test is the newest check: syncs to this storage may run.
		_ = hs.PutStorageHealth(r.Context(), store.StorageHealth{OrgID: c.Org.ID, OK: true, CheckedAt: now})
		s.Metrics.Health(c.Org.ID, true)
	}
	s.Logger.Info("storage setting saved", "org", c.Org.ID, "bucket", set.Bucket, "region", set.Region)
	writeJSON(w, http.StatusOK, SaveResponse{Storage: s.storageView(st, c.Org), Report: report})
}

func (s *Server) useManaged(w http.ResponseWriter, r *http.Request) {
	c := callerOf(r)
	st, err := s.Storage.UseManaged(r.Context(), c.Org)
	if err != nil {
		s.internal(w, r, err)
		return
	}
	writeJSON(w, http.StatusOK, s.storageView(st, c.Org))
}

func firstFailure(r validation.Report) string {
	for _, st := range r.Steps {
		if st.Status == validation.StatusFailed {
			return strings.TrimSpace(st.Principal+" "+st.Name) + ": " + st.Message
		}
	}
	return "no step passed"
}

func firstCause(r validation.Report) string {
	for _, st := range r.Steps {
		if st.Status == validation.StatusFailed {
			return st.Cause
		}
	}
	return ""
}

func fieldErr(field string, err error) []storage.FieldError {
	return []storage.FieldError{{Field: field, Message: err.Error()}}
}

// MigrateRequest is POST /api/v1/storage/migrate.
type MigrateRequest struct {
	// DeleteSource deletes each connector's old copy after its migration succeeded.
	DeleteSource bool `json:"delete_source"`
}

// migrateStorage moves every connector bound to an earlier storage to the
// organization's current storage. With "Accept: text/event-stream" it answers
// Server-Sent Events: an "event: progress" per step (a migration.Event), then
// "event: report" with the report (and "error" when a connector failed);
// otherwise the report as JSON: 200 when every connector moved, 409
// migration_failed with the report when one did not, 409 migration_running when a
// migration of the organization is already under way.
func (s *Server) migrateStorage(w http.ResponseWriter, r *http.Request) {
	if s.Migrations == nil {
		writeError(w, http.StatusNotImplemented, "not_available", "this server does not migrate storage")
		return
	}
	var req MigrateRequest
	if r.ContentLength != 0 && !decode(w, r, &req) {
		return
	}
	c := callerOf(r)
	opts := migration.Options{DeleteSource: req.DeleteSource}
	var events *eventStream
	if acceptsEventStream(r) {
		events = newEventStream(w)
		opts.OnEvent = func(e migration.Event) { events.send("progress", e) }
	}
	rep, err := s.Migrations.Migrate(r.Context(), c.Org, opts)
	if err != nil {
		s.Logger.Warn("storage migration failed", "org", c.Org.ID, "err", err)
	}
	out := MigrateResponse{Report: rep}
	if err != nil {
		out.Error = err.Error()
	}
	if events != nil {
		events.send("report", out)
		return
	}
	if errors.Is(err, migration.ErrRunning) {
		writeError(w, http.StatusConflict, "migration_running", err.Error())
		return
	}
	if err != nil {
		writeJSON(w, http.StatusConflict, Error{Code: "migration_failed", Message: "the migration did not finish: " + err.Error() +
			" (connectors that moved stay moved; run the migration again to resume the others)", Migration: &rep})
		return
	}
	writeJSON(w, http.StatusOK, out)
}

// MigrateResponse is the migration's report, and why it stopped when it did.
type MigrateResponse struct {
	Report migration.Report `json:"report"`
	Error  string           `json:"error,omitempty"`
}

// platformNotConfigured answers a request that needs lakeport's own AWS identity (its
// principals name the trust policy) on an install that has none; why says what cannot
// be done without it.
func platformNotConfigured(w http.ResponseWriter, why string) {
	writeError(w, http.StatusConflict, "platform_not_configured",
		"this lakeport install has no AWS identity, so "+why+": the operator sets LAKEPORT_AWS_ACCOUNT_ID and LAKEPORT_WORKER_PRINCIPAL_ARN (or --aws-account-id and --worker-principal-arn) and restarts lakeport serve")
}
