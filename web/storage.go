package web

import (
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"strings"

	"github.com/lakeport/lakeport/api"
	"github.com/lakeport/lakeport/client"
	"github.com/lakeport/lakeport/connector"
	"github.com/lakeport/lakeport/storage"
	"github.com/lakeport/lakeport/validation"
)

// stepLabels name Test connection's steps for people, in the order they run, each by
// its key: principal/name (a step is taken by the platform or the sync workers).
var stepLabels = []struct{ Name, Label string }{
	{"/" + validation.StepCheckInputs, "Check the values"},
	{"platform/" + validation.StepAssumeRole, "Platform: assume the role with this organization's external ID"},
	{"workers/" + validation.StepAssumeRole, "Sync workers: assume the role, as their own role"},
	{"platform/" + validation.StepHeadBucket, "Platform: reach the bucket and confirm its region"},
	{"platform/" + validation.StepPutObject, "Platform: write .lakeport/validation.txt"},
	{"platform/" + validation.StepGetObject, "Platform: read it back"},
	{"platform/" + validation.StepListObjects, "Platform: list .lakeport/"},
	{"platform/" + validation.StepDeleteObject, "Platform: delete it"},
	{"workers/" + validation.StepPutObject, "Sync workers: write under a connector prefix (" + validation.WorkersPrefix + ")"},
	{"workers/" + validation.StepGetObject, "Sync workers: read it back"},
	{"workers/" + validation.StepListObjects, "Sync workers: list " + validation.WorkersPrefix},
	{"workers/" + validation.StepDeleteObject, "Sync workers: delete it"},
}

func stepLabel(name string) string {
	for _, s := range stepLabels {
		if s.Name == name {
			return s.Label
		}
	}
	return name
}

// storageForm is what the Data Storage form shows and posts.
type storageForm struct {
	Mode          storage.Mode
	Setting       storage.Setting
	SecretSet     bool // a secret access key is saved (never shown)
	S3Compatible  bool
	TestedOK      bool // the shown values passed Test connection in this session: Save is on
	ReportVisible bool
	Report        *validation.Report
	Error         string
	Review        *reviewView // the policy review box, after a review
}

type storageData struct {
	View       api.StorageView
	Form       storageForm
	Regions    []string
	Steps      []struct{ Name, Label string }
	StepLabels map[string]string
	Policy     *policyJSON
	PolicyErr  string
	Stale      []connector.View
	Current    string
}

type policyJSON struct {
	Bucket     string `json:"bucket"`
	Permission string `json:"permission_policy"`
	Trust      string `json:"trust_policy"`
	Error      string `json:"error,omitempty"`
}

func settingFromForm(r *http.Request) (storage.Mode, storage.Setting) {
	f := func(k string) string { return strings.TrimSpace(r.PostFormValue(k)) }
	set := storage.Setting{Bucket: f("bucket"), Region: f("region"), RoleARN: f("role_arn"), KMSKeyARN: f("kms_key_arn"),
		Endpoint: f("endpoint"), AccessKeyID: f("access_key_id"), SecretAccessKey: r.PostFormValue("secret_access_key")}
	if set.Endpoint == "" {
		// Access keys belong to an S3-compatible endpoint only; a role reaches AWS.
		set.AccessKeyID, set.SecretAccessKey = "", ""
	} else {
		set.RoleARN = ""
	}
	return storage.Mode(f("mode")), set
}

// sameSetting reports whether a and b are the same values, secret included.
func sameSetting(a, b storage.Setting) bool { return a == b }

func (h *handler) storagePage(w http.ResponseWriter, r *http.Request) {
	h.showStorage(w, r, http.StatusOK, nil)
}

// showStorage renders the page; form is nil for the saved values.
func (h *handler) showStorage(w http.ResponseWriter, r *http.Request, status int, form *storageForm) {
	ctx := r.Context()
	c := h.apiFor(r)
	view, err := c.Storage(ctx)
	if err != nil {
		h.apiError(w, r, err)
		return
	}
	if form == nil || form.Mode == "" { // no form posted (a review keeps the saved values)
		var rv *reviewView
		if form != nil {
			rv = form.Review
		}
		form = &storageForm{Mode: view.Mode, SecretSet: view.SecretAccessKeySet, Review: rv}
		if view.Setting != nil {
			form.Setting = *view.Setting
		}
		form.S3Compatible = form.Setting.Endpoint != ""
	}
	d := storageData{View: view, Form: *form, Regions: storage.Regions(), Steps: stepLabels, StepLabels: map[string]string{}}
	for _, s := range stepLabels {
		d.StepLabels[s.Name] = s.Label
	}
	if form.Setting.Region != "" && storage.PartitionOf(form.Setting.Region) == "" {
		d.Regions = append([]string{form.Setting.Region}, d.Regions...)
	}
	d.Policy = h.policyFor(r, c, form.Setting.Bucket, form.Setting.KMSKeyARN)
	d.Current = "Managed by lakeport"
	if view.Mode == storage.ModeCustomerHosted && view.Setting != nil {
		d.Current = "s3://" + view.Setting.Bucket + " (" + view.Setting.Region + ")"
	}
	// Connectors still bound to the storage the organization used before.
	if list, err := c.Connectors(ctx); err == nil {
		for _, cv := range list {
			if boundElsewhere(view, cv) {
				d.Stale = append(d.Stale, cv)
			}
		}
	}
	h.render(w, r, status, "storage", page{Title: "Data Storage", Nav: "storage", Data: d})
}

// boundElsewhere reports whether connector cv still writes to storage other than the
// organization's current one (it then needs `setup` before it syncs again).
func boundElsewhere(v api.StorageView, cv connector.View) bool {
	if v.Mode == storage.ModeCustomerHosted && v.Setting != nil {
		return strings.TrimSuffix(cv.Warehouse, "/") != "s3://"+v.Setting.Bucket
	}
	return cv.StorageMode != string(storage.ModeManaged)
}

// policyFor fills both IAM documents for bucket; a nil answer with no bucket.
func (h *handler) policyFor(r *http.Request, c *client.Client, bucket, kms string) *policyJSON {
	if bucket == "" {
		return nil
	}
	p, err := c.StoragePolicy(r.Context(), bucket, kms)
	if err != nil {
		msg := err.Error()
		if e, ok := client.AsError(err); ok && len(e.Body.Fields) > 0 {
			msg = e.Body.Fields[0].Error()
		}
		return &policyJSON{Bucket: bucket, Error: msg}
	}
	perm, _ := json.MarshalIndent(p.PermissionPolicy, "", "  ")
	trust, _ := json.MarshalIndent(p.TrustPolicy, "", "  ")
	return &policyJSON{Bucket: p.Bucket, Permission: string(perm), Trust: string(trust)}
}

// storagePolicy answers the policy documents for the typed bucket (fetch, as you type).
func (h *handler) storagePolicy(w http.ResponseWriter, r *http.Request) {
	q := r.URL.Query()
	p := h.policyFor(r, h.apiFor(r), strings.TrimSpace(q.Get("bucket")), strings.TrimSpace(q.Get("kms_key_arn")))
	if p == nil {
		p = &policyJSON{Error: "bucket: type the bucket's name to fill in the policies"}
	}
	writeJSON(w, http.StatusOK, p)
}

// testResult is the JSON answer of Test connection for the page's script.
type testResult struct {
	Report  *validation.Report `json:"report,omitempty"`
	Labels  map[string]string  `json:"labels"`
	CanSave bool               `json:"can_save"`
	Message string             `json:"message,omitempty"`
}

func (h *handler) storageTest(w http.ResponseWriter, r *http.Request) {
	_, set := settingFromForm(r)
	if wantsEvents(r) {
		h.storageTestEvents(w, r, set)
		return
	}
	report, err := h.apiFor(r).TestStorage(r.Context(), set)
	if err != nil {
		h.apiError(w, r, err)
		return
	}
	h.rememberTest(r, set, report)
	if wantsJSON(r) {
		writeJSON(w, http.StatusOK, testResult{Report: &report, Labels: testLabels(), CanSave: report.OK})
		return
	}
	set.SecretAccessKey = "" // never echoed into the page; Save takes it from the session
	h.showStorage(w, r, http.StatusOK, &storageForm{Mode: storage.ModeCustomerHosted, Setting: set, S3Compatible: set.Endpoint != "",
		TestedOK: report.OK, ReportVisible: true, Report: &report})
}

// storageTestEvents relays Test connection's steps to the page as Server-Sent Events as
// the API finishes them: "step" per step (a validation.Step), then "report" (a
// testResult), or "failure" with a message when the test stopped on the way. An error
// before the first step (no session, a member) is answered as without events.
func (h *handler) storageTestEvents(w http.ResponseWriter, r *http.Request, set storage.Setting) {
	var rc *http.ResponseController
	send := func(event string, v any) {
		if rc == nil {
			rc = http.NewResponseController(w)
			w.Header().Set("Content-Type", "text/event-stream")
			w.Header().Set("Cache-Control", "no-store")
			w.Header().Set("X-Accel-Buffering", "no")
			w.WriteHeader(http.StatusOK)
		}
		b, _ := json.Marshal(v)
		if _, err := fmt.Fprintf(w, "event: %s\ndata: %s\n\n", event, b); err == nil {
			_ = rc.Flush()
		}
	}
	report, err := h.apiFor(r).TestStorageEvents(r.Context(), set, func(st validation.Step) { send("step", st) })
	if err != nil {
		if rc == nil {
			h.apiError(w, r, err)
			return
		}
		if r.Context().Err() == nil {
			send("failure", testResult{Labels: testLabels(), Message: "Test connection stopped before it finished: " + err.Error()})
		}
		h.rememberTest(r, set, validation.Report{})
		return
	}
	// Save is allowed from here on: the session knows before the page does.
	h.rememberTest(r, set, report)
	send("report", testResult{Report: &report, Labels: testLabels(), CanSave: report.OK})
}

// rememberTest keeps set as the session's tested values when report passed, and
// forgets any earlier passing test otherwise.
func (h *handler) rememberTest(r *http.Request, set storage.Setting, report validation.Report) {
	var tested *storage.Setting
	if report.OK {
		tested = &set
	}
	if err := h.setTested(context.WithoutCancel(r.Context()), sessionOf(r), tested); err != nil {
		h.log.Error("console: keep the tested storage setting", "err", err)
	}
}

func (h *handler) forgetTest(r *http.Request) {
	if err := h.setTested(context.WithoutCancel(r.Context()), sessionOf(r), nil); err != nil {
		h.log.Error("console: forget the tested storage setting", "err", err)
	}
}

func testLabels() map[string]string {
	labels := map[string]string{}
	for _, st := range stepLabels {
		labels[st.Name] = st.Label
	}
	return labels
}

// wantsEvents reports whether the page asked for Server-Sent Events.
func wantsEvents(r *http.Request) bool {
	return strings.Contains(r.Header.Get("Accept"), "text/event-stream")
}

func (h *handler) storageSave(w http.ResponseWriter, r *http.Request) {
	s := sessionOf(r)
	mode, set := settingFromForm(r)
	if mode == storage.ModeManaged {
		h.storageUseManaged(w, r)
		return
	}
	tested, err := h.tested(r.Context(), s)
	if err != nil {
		h.apiError(w, r, err)
		return
	}
	if tested != nil && set.SecretAccessKey == "" && set.Endpoint != "" {
		set.SecretAccessKey = tested.SecretAccessKey // the no-script page does not echo it
	}
	// A member's save goes on to the API, which refuses it for every client alike.
	if s.Admin() && (tested == nil || !sameSetting(*tested, set)) {
		shown := set
		shown.SecretAccessKey = ""
		h.showStorage(w, r, http.StatusConflict, &storageForm{Mode: storage.ModeCustomerHosted, Setting: shown, S3Compatible: set.Endpoint != "",
			Error: "Run Test connection with exactly these values first: Save is allowed only after a passing test of the values shown."})
		return
	}
	resp, err := h.apiFor(r).SaveStorage(r.Context(), set)
	if err != nil {
		if e, ok := client.AsError(err); ok && e.Body.Report != nil {
			h.forgetTest(r)
			shown := set
			shown.SecretAccessKey = ""
			h.showStorage(w, r, http.StatusUnprocessableEntity, &storageForm{Mode: storage.ModeCustomerHosted, Setting: shown, S3Compatible: set.Endpoint != "",
				ReportVisible: true, Report: e.Body.Report, Error: e.Body.Message})
			return
		}
		h.apiError(w, r, err)
		return
	}
	h.forgetTest(r)
	h.log.Info("console saved a storage setting", "org", s.OrgID, "bucket", resp.Storage.Setting.Bucket)
	h.flash(r, "Saved: new syncs write to s3://"+set.Bucket+". Connectors set up on the previous storage are listed below until you re-run their setup.")
	http.Redirect(w, r, "/settings/storage", http.StatusSeeOther)
}

func (h *handler) storageUseManaged(w http.ResponseWriter, r *http.Request) {
	if _, err := h.apiFor(r).UseManaged(r.Context()); err != nil {
		h.apiError(w, r, err)
		return
	}
	h.flash(r, "Saved: new syncs write to the managed warehouse.")
	http.Redirect(w, r, "/settings/storage", http.StatusSeeOther)
}
