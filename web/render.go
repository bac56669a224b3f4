package web

import (
	"bytes"
	"encoding/json"
	"fmt"
	"html/template"
	"io/fs"
	"net/http"
	"strings"
	"time"

	"github.com/dustin/go-humanize"
)

// page is what every template gets.
type page struct {
	Title string
	Nav   string // connectors | query | storage
	S     *session
	Flash string
	Data  any
}

var funcs = template.FuncMap{
	"bytes": func(n int64) string { return humanize.IBytes(uint64(max(n, 0))) },
	"count": func(n int64) string { return humanize.Comma(n) },
	"ago": func(t any) string {
		switch v := t.(type) {
		case time.Time:
			if v.IsZero() {
				return "never"
			}
			return humanize.Time(v)
		case *time.Time:
			if v == nil || v.IsZero() {
				return "never"
			}
			return humanize.Time(*v)
		}
		return ""
	},
	"stamp": func(t any) string {
		switch v := t.(type) {
		case time.Time:
			return v.UTC().Format(time.RFC3339)
		case *time.Time:
			if v != nil {
				return v.UTC().Format(time.RFC3339)
			}
		}
		return ""
	},
	"duration": func(ms int64) string {
		d := time.Duration(ms) * time.Millisecond
		if d < time.Second {
			return fmt.Sprintf("%d ms", ms)
		}
		return d.Round(100 * time.Millisecond).String()
	},
	"json": func(v any) (string, error) {
		b, err := json.MarshalIndent(v, "", "  ")
		return string(b), err
	},
	"join": strings.Join,
	"eq2":  func(a, b any) bool { return fmt.Sprint(a) == fmt.Sprint(b) },
}

// parsePages parses each page template together with the layout.
func parsePages() map[string]*template.Template {
	layout := template.Must(template.New("layout.html").Funcs(funcs).ParseFS(templateFS, "templates/layout.html"))
	names, err := fs.Glob(templateFS, "templates/*.html")
	if err != nil {
		panic(err)
	}
	out := map[string]*template.Template{}
	for _, n := range names {
		name := strings.TrimSuffix(strings.TrimPrefix(n, "templates/"), ".html")
		if name == "layout" {
			continue
		}
		out[name] = template.Must(template.Must(layout.Clone()).ParseFS(templateFS, n))
	}
	return out
}

// render writes a page with status.
func (h *handler) render(w http.ResponseWriter, r *http.Request, status int, name string, p page) {
	if p.S == nil {
		p.S = sessionOf(r)
	}
	if p.S != nil && p.Flash == "" {
		msg, err := h.sessions.TakeSessionFlash(r.Context(), p.S.ID)
		if err != nil {
			h.log.Warn("console: take the session's message", "err", err)
		}
		p.Flash = msg
	}
	var buf bytes.Buffer
	if err := h.pages[name].ExecuteTemplate(&buf, "layout.html", p); err != nil {
		h.log.Error("render page", "page", name, "err", err)
		http.Error(w, "lakeport could not render this page; the server log has the details", http.StatusInternalServerError)
		return
	}
	w.Header().Set("Content-Type", "text/html; charset=utf-8")
	w.Header().Set("Cache-Control", "no-store")
	w.WriteHeader(status)
	w.Write(buf.Bytes())
}

// renderError answers an error as a page, or as JSON for fetch calls.
func (h *handler) renderError(w http.ResponseWriter, r *http.Request, s *session, status int, msg string) {
	if wantsJSON(r) || r.Header.Get("X-CSRF-Token") != "" {
		writeJSON(w, status, map[string]string{"message": msg})
		return
	}
	title := http.StatusText(status)
	if status == 499 || title == "" {
		title = "Request failed"
	}
	h.render(w, r, status, "error", page{Title: title, S: s, Data: map[string]any{"Status": status, "Message": msg}})
}

// flash keeps a message for the session's next page.
func (h *handler) flash(r *http.Request, msg string) {
	if s := sessionOf(r); s != nil {
		if err := h.sessions.SetSessionFlash(r.Context(), s.ID, msg); err != nil {
			h.log.Warn("console: keep a message for the next page", "err", err)
		}
	}
}

func writeJSON(w http.ResponseWriter, status int, v any) {
	w.Header().Set("Content-Type", "application/json")
	w.Header().Set("Cache-Control", "no-store")
	w.WriteHeader(status)
	_ = json.NewEncoder(w).Encode(v)
}
