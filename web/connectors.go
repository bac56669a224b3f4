package web

import (
	"encoding/json"
	"fmt"
	"net/http"
	"net/url"
	"sort"
	"strings"
	"time"

	"github.com/go-chi/chi/v5"

	"github.com/lakeport/lakeport/api"
	"github.com/lakeport/lakeport/client"
	"github.com/lakeport/lakeport/connector"
	"github.com/lakeport/lakeport/protocol"
)

type connectorsData struct {
	Connectors  []connector.View
	Storage     api.StorageView
	Unavailable string
}

func (h *handler) connectorsPage(w http.ResponseWriter, r *http.Request) {
	c := h.apiFor(r)
	list, err := c.Connectors(r.Context())
	d := connectorsData{}
	if e, ok := client.AsError(err); ok && e.Status == http.StatusNotImplemented {
		d.Unavailable = e.Body.Message
	} else if err != nil {
		h.apiError(w, r, err)
		return
	}
	d.Connectors = list
	d.Storage, _ = c.Storage(r.Context())
	h.render(w, r, http.StatusOK, "connectors", page{Title: "Connectors", Nav: "connectors", Data: d})
}

// streamChoice is one discovered stream on the create form.
type streamChoice struct {
	Name     string
	Selected bool
	Modes    []string // "incremental:append_dedup", "full_refresh:overwrite", ...
	Mode     string
	Cursor   string
	Key      string
}

type newConnectorData struct {
	Name        string
	Sources     []api.SourceView
	Source      string // the chosen source reference
	Other       bool   // an exec: or image: reference, typed
	Manifest    bool   // an Airbyte declarative manifest, pasted or uploaded
	ManifestDoc string // its text
	Fields      []field
	ConfigJSON  string // for sources without a spec (exec:, image:)
	Streams     []streamChoice
	Discovered  bool
	StreamsText string // typed stream specs when discovery is not available
	NoDiscover  string
	Errors      []string
	NameError   string
}

// modesOf lists the sync mode pairs a stream supports, lakeport's default first.
func modesOf(s protocol.Stream) []string {
	var out []string
	for _, m := range s.SupportedSyncModes {
		if m == protocol.Incremental {
			if len(s.SourceDefinedPrimaryKey) > 0 {
				out = append(out, "incremental:append_dedup")
			}
			out = append(out, "incremental:append")
		}
	}
	for _, m := range s.SupportedSyncModes {
		if m == protocol.FullRefresh {
			out = append(out, "full_refresh:overwrite", "full_refresh:append")
		}
	}
	return out
}

func (h *handler) newConnectorPage(w http.ResponseWriter, r *http.Request) {
	d, err := h.newConnectorForm(r, false)
	if err != nil {
		h.apiError(w, r, err)
		return
	}
	h.render(w, r, http.StatusOK, "connector_new", page{Title: "New connector", Nav: "connectors", Data: d})
}

// newConnectorForm builds the create form from the sources' specs and, when posted,
// the typed values.
func (h *handler) newConnectorForm(r *http.Request, posted bool) (*newConnectorData, error) {
	sources, err := h.apiFor(r).Sources(r.Context())
	if err != nil {
		return nil, err
	}
	d := &newConnectorData{ConfigJSON: "{}"}
	for _, s := range sources {
		if s.Kind == "builtin" || (s.Kind == "manifest" && s.Spec != nil) {
			d.Sources = append(d.Sources, s)
		}
	}
	get := r.URL.Query().Get
	if posted {
		get = r.PostFormValue
	}
	d.Name, d.Source = strings.TrimSpace(get("name")), get("source")
	if d.Source == "" && len(d.Sources) > 0 {
		d.Source = d.Sources[0].Name
	}
	if d.Source == "other" {
		d.Other, d.Source = true, strings.TrimSpace(get("source_ref"))
	}
	if d.Source == "manifest" || strings.HasPrefix(d.Source, "manifest:") {
		// The manifest travels in the form: the server never reads a path.
		d.Manifest, d.Source, d.ManifestDoc = true, "manifest:console.yaml", get("manifest_text")
	}
	if d.Name == "" && !d.Other && !d.Manifest && !posted {
		d.Name = d.Source
	}
	if cj := get("config_json"); cj != "" {
		d.ConfigJSON = cj
	}
	d.StreamsText = get("streams_text")
	for _, s := range d.Sources {
		if s.Name == d.Source && s.Spec != nil && !d.Other {
			if d.Fields, err = schemaFields(s.Spec.ConnectionSpecification); err != nil {
				d.Errors = append(d.Errors, err.Error())
			}
		}
	}
	var form url.Values
	if posted {
		form = r.PostForm
	}
	fill(d.Fields, form, posted)
	return d, nil
}

func (d *newConnectorData) config() json.RawMessage {
	if d.Other || d.Manifest || d.Fields == nil {
		return json.RawMessage(strings.TrimSpace(d.ConfigJSON))
	}
	return configJSON(d.Fields)
}

func (h *handler) createConnector(w http.ResponseWriter, r *http.Request) {
	d, err := h.newConnectorForm(r, true)
	if err != nil {
		h.apiError(w, r, err)
		return
	}
	c := h.apiFor(r)
	ctx := r.Context()
	if (d.Other || d.Manifest) && !json.Valid(d.config()) {
		d.Errors = append(d.Errors, "config: not valid JSON; give the source's config as a JSON object, e.g. {}")
		h.render(w, r, http.StatusBadRequest, "connector_new", page{Title: "New connector", Nav: "connectors", Data: d})
		return
	}
	// Streams: from discovery of exactly this source and config.
	cat, derr := discoverSource(ctx, c, d.Source, d.config(), d.ManifestDoc)
	if e, ok := client.AsError(derr); ok && (e.Status == http.StatusNotFound || e.Status == http.StatusMethodNotAllowed) {
		d.NoDiscover = "This lakeport server cannot list a source's streams before the connector exists. Leave the box empty for every stream with lakeport's modes, or type stream specs."
	} else if derr != nil {
		h.connectorFormError(w, r, d, derr)
		return
	} else {
		d.Discovered = true
		for _, s := range cat.Streams {
			sc := streamChoice{Name: s.Name, Modes: modesOf(s), Selected: true, Cursor: strings.Join(s.DefaultCursorField, ".")}
			for _, k := range s.SourceDefinedPrimaryKey {
				sc.Key = strings.Join(k, ".")
			}
			if r.PostFormValue("action") == "create" {
				sc.Selected = r.PostFormValue("stream."+s.Name) == "on"
				sc.Mode = r.PostFormValue("mode." + s.Name)
			}
			if sc.Mode == "" && len(sc.Modes) > 0 {
				sc.Mode = sc.Modes[0]
			}
			d.Streams = append(d.Streams, sc)
		}
	}
	if r.PostFormValue("action") != "create" {
		h.render(w, r, http.StatusOK, "connector_new", page{Title: "New connector", Nav: "connectors", Data: d})
		return
	}
	req := connector.CreateRequest{Name: d.Name, Source: d.Source, Config: d.config(), Manifest: d.ManifestDoc}
	if d.Discovered {
		for _, s := range d.Streams {
			if s.Selected {
				req.Streams = append(req.Streams, s.Name+":"+s.Mode)
			}
		}
		if len(req.Streams) == 0 {
			d.Errors = append(d.Errors, "streams: choose at least one stream to sync")
			h.render(w, r, http.StatusBadRequest, "connector_new", page{Title: "New connector", Nav: "connectors", Data: d})
			return
		}
	} else {
		for _, s := range strings.FieldsFunc(d.StreamsText, func(r rune) bool { return r == ',' || r == '\n' || r == ' ' }) {
			req.Streams = append(req.Streams, s)
		}
	}
	v, err := c.CreateConnector(ctx, req)
	if err != nil {
		h.connectorFormError(w, r, d, err)
		return
	}
	h.flash(r, fmt.Sprintf("Created connector %s, writing to %s/%s/. Sync it to fill its tables.", v.Name, strings.TrimSuffix(v.Warehouse, "/"), v.Name))
	http.Redirect(w, r, "/connectors/"+url.PathEscape(v.Name), http.StatusSeeOther)
}

// connectorFormError shows the API's refusal on the form, each field error next to its
// input where there is one.
func (h *handler) connectorFormError(w http.ResponseWriter, r *http.Request, d *newConnectorData, err error) {
	e, ok := client.AsError(err)
	if !ok || e.Status >= 500 && e.Status != http.StatusBadGateway {
		h.apiError(w, r, err)
		return
	}
	errs := map[string]string{}
	for _, f := range e.Body.Fields {
		errs[f.Field] = f.Message
	}
	if msg, ok := errs["name"]; ok {
		d.NameError = msg
		delete(errs, "name")
	}
	markErrors(d.Fields, errs)
	for k, v := range errs {
		d.Errors = append(d.Errors, k+": "+v)
	}
	if len(e.Body.Fields) == 0 {
		d.Errors = append(d.Errors, e.Body.Message)
	}
	sort.Strings(d.Errors)
	h.render(w, r, e.Status, "connector_new", page{Title: "New connector", Nav: "connectors", Data: d})
}

type connectorData struct {
	C     connector.View
	Runs  []connector.RunView
	Stale bool
	Admin bool
}

func (h *handler) connectorPage(w http.ResponseWriter, r *http.Request) {
	c := h.apiFor(r)
	name := chi.URLParam(r, "name")
	v, err := c.Connector(r.Context(), name)
	if err != nil {
		h.apiError(w, r, err)
		return
	}
	runs, err := c.Runs(r.Context(), name, 25)
	if err != nil {
		h.apiError(w, r, err)
		return
	}
	d := connectorData{C: v, Runs: runs, Admin: sessionOf(r).Admin()}
	if st, err := c.Storage(r.Context()); err == nil {
		d.Stale = boundElsewhere(st, v)
	}
	h.render(w, r, http.StatusOK, "connector", page{Title: v.Name, Nav: "connectors", Data: d})
}

func (h *handler) syncConnector(w http.ResponseWriter, r *http.Request) {
	run, err := h.apiFor(r).StartSync(r.Context(), chi.URLParam(r, "name"))
	if err != nil {
		h.apiError(w, r, err)
		return
	}
	http.Redirect(w, r, "/runs/"+url.PathEscape(run.ID), http.StatusSeeOther)
}

func (h *handler) setupConnector(w http.ResponseWriter, r *http.Request) {
	v, err := h.apiFor(r).SetupConnector(r.Context(), chi.URLParam(r, "name"))
	if err != nil {
		h.apiError(w, r, err)
		return
	}
	h.flash(r, fmt.Sprintf("Connector %s now writes to %s/%s/. Its data in the previous storage stays there.", v.Name, strings.TrimSuffix(v.Warehouse, "/"), v.Name))
	next := r.PostFormValue("next")
	if next != "/settings/storage" {
		next = "/connectors/" + url.PathEscape(v.Name)
	}
	http.Redirect(w, r, next, http.StatusSeeOther)
}

type deleteData struct {
	C        connector.View
	Tables   []connector.TableInfo
	Location string
	Runs     int
	Error    string
	Report   *connector.DeleteReport
}

func (h *handler) deleteData(r *http.Request) (*deleteData, error) {
	c := h.apiFor(r)
	name := chi.URLParam(r, "name")
	v, err := c.Connector(r.Context(), name)
	if err != nil {
		return nil, err
	}
	d := &deleteData{C: v, Location: strings.TrimSuffix(v.Warehouse, "/") + "/" + v.Name + "/"}
	if tables, err := c.Tables(r.Context()); err == nil {
		for _, t := range tables {
			if t.Connector == v.Name {
				d.Tables = append(d.Tables, t)
			}
		}
	}
	if runs, err := c.Runs(r.Context(), name, 1000); err == nil {
		d.Runs = len(runs)
	}
	return d, nil
}

func (h *handler) deleteConnectorPage(w http.ResponseWriter, r *http.Request) {
	d, err := h.deleteData(r)
	if err != nil {
		h.apiError(w, r, err)
		return
	}
	h.render(w, r, http.StatusOK, "connector_delete", page{Title: "Delete " + d.C.Name, Nav: "connectors", Data: d})
}

func (h *handler) deleteConnector(w http.ResponseWriter, r *http.Request) {
	name := chi.URLParam(r, "name")
	if r.PostFormValue("confirm") != name {
		d, err := h.deleteData(r)
		if err != nil {
			h.apiError(w, r, err)
			return
		}
		d.Error = "Type the connector's name, " + name + ", to confirm."
		h.render(w, r, http.StatusBadRequest, "connector_delete", page{Title: "Delete " + name, Nav: "connectors", Data: d})
		return
	}
	rep, err := h.apiFor(r).DeleteConnector(r.Context(), name)
	if err != nil {
		h.apiError(w, r, err)
		return
	}
	h.log.Info("console deleted a connector", "org", sessionOf(r).OrgID, "connector", name)
	h.render(w, r, http.StatusOK, "connector_deleted", page{Title: "Deleted " + name, Nav: "connectors", Data: rep})
}

// runProgress is one event of a run's live progress.
type runProgress struct {
	ID         string        `json:"id"`
	Connector  string        `json:"connector"`
	Status     string        `json:"status"`
	Done       bool          `json:"done"`
	Records    int64         `json:"records"`
	Bytes      int64         `json:"bytes"`
	RecordRate float64       `json:"records_per_second"`
	ByteRate   float64       `json:"bytes_per_second"`
	ElapsedMS  int64         `json:"elapsed_ms"`
	Percent    int           `json:"percent"` // -1: unknown (no earlier run to estimate from)
	Estimate   int64         `json:"estimate,omitempty"`
	Streams    []streamStats `json:"streams"`
	Error      string        `json:"error,omitempty"`
	// Attempts counts the processes that took the run on (more than one: resumed).
	Attempts int `json:"attempts"`
}

type streamStats struct {
	Name      string `json:"name"`
	Records   int64  `json:"records"`
	Bytes     int64  `json:"bytes"`
	Committed int64  `json:"committed"`
	Mode      string `json:"mode"`
	// Status is the source's last stream status; Changes the table's schema changes.
	Status  string   `json:"status,omitempty"`
	Changes []string `json:"changes,omitempty"`
}

// progressOf computes a run's progress; estimate is the records of the connector's
// last successful run (0: unknown). A running run is never shown at 100%.
func progressOf(v connector.RunView, estimate int64) runProgress {
	p := runProgress{ID: v.ID, Connector: v.Connector, Status: v.Status, Records: v.Records, Bytes: v.Bytes, ElapsedMS: v.DurationMS, Error: v.Error, Percent: -1, Estimate: estimate, Streams: []streamStats{}, Attempts: v.Attempts}
	p.Done = v.Status == "succeeded" || v.Status == "failed"
	if v.DurationMS > 0 {
		secs := float64(v.DurationMS) / 1000
		p.RecordRate, p.ByteRate = float64(v.Records)/secs, float64(v.Bytes)/secs
	}
	switch {
	case v.Status == "succeeded":
		p.Percent = 100
	case v.Status == "queued":
		p.Percent = 0
	case estimate > 0:
		p.Percent = int(min(99, v.Records*100/estimate))
	}
	var streams map[string]streamStats
	if len(v.Streams) > 0 && json.Unmarshal(v.Streams, &streams) == nil {
		for name, s := range streams {
			s.Name = name
			p.Streams = append(p.Streams, s)
		}
		sort.Slice(p.Streams, func(i, j int) bool { return p.Streams[i].Name < p.Streams[j].Name })
	}
	return p
}

// estimateOf returns the records of the connector's newest successful run other than
// runID, the yardstick of a running sync's percentage.
func (h *handler) estimateOf(r *http.Request, c *client.Client, connectorName, runID string) int64 {
	if connectorName == "" {
		return 0
	}
	runs, err := c.Runs(r.Context(), connectorName, 10)
	if err != nil {
		return 0
	}
	for _, run := range runs {
		if run.ID != runID && run.Status == "succeeded" && run.Records > 0 {
			return run.Records
		}
	}
	return 0
}

type runData struct {
	P   runProgress
	Run connector.RunView
}

func (h *handler) runPage(w http.ResponseWriter, r *http.Request) {
	c := h.apiFor(r)
	v, err := c.Run(r.Context(), chi.URLParam(r, "id"))
	if err != nil {
		h.apiError(w, r, err)
		return
	}
	p := progressOf(v, h.estimateOf(r, c, v.Connector, v.ID))
	h.render(w, r, http.StatusOK, "run", page{Title: "Run " + v.ID, Nav: "connectors", Data: runData{P: p, Run: v}})
}

// runEvents streams a run's progress as server-sent events ("progress", then "done")
// by asking the API for the run every SyncPoll until it finishes.
func (h *handler) runEvents(w http.ResponseWriter, r *http.Request) {
	c := h.apiFor(r)
	id := chi.URLParam(r, "id")
	v, err := c.Run(r.Context(), id)
	if err != nil {
		h.apiError(w, r, err)
		return
	}
	estimate := h.estimateOf(r, c, v.Connector, v.ID)
	rc := http.NewResponseController(w)
	w.Header().Set("Content-Type", "text/event-stream")
	w.Header().Set("Cache-Control", "no-store")
	w.Header().Set("X-Accel-Buffering", "no")
	w.WriteHeader(http.StatusOK)
	tick := time.NewTicker(h.cfg.SyncPoll)
	defer tick.Stop()
	var last []byte
	for n := 0; ; n++ {
		p := progressOf(v, estimate)
		b, _ := json.Marshal(p)
		event := "progress"
		if p.Done {
			event = "done"
		}
		if event == "done" || string(b) != string(last) || n%10 == 0 {
			if _, err := fmt.Fprintf(w, "event: %s\ndata: %s\n\n", event, b); err != nil {
				return
			}
			if err := rc.Flush(); err != nil {
				return
			}
			last = b
		}
		if p.Done {
			return
		}
		select {
		case <-r.Context().Done():
			return
		case <-tick.C:
		}
		if v, err = c.Run(r.Context(), id); err != nil {
			if r.Context().Err() == nil {
				fmt.Fprintf(w, "event: failure\ndata: %q\n\n", err.Error())
				rc.Flush()
			}
			return
		}
	}
}
