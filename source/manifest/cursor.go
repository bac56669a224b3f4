package manifest

import (
	"fmt"
	"time"

	"github.com/lakeport/lakeport/source/manifest/dtfmt"
	"github.com/lakeport/lakeport/source/manifest/interp"
)

// cursor is a DatetimeBasedCursor: it cuts the time from the start (or the
// stream's state) to the end into slices, and keeps as state the highest
// cursor value seen in records of completed slices.
type cursor struct {
	path                 string
	field                *interp.Template
	format               string
	cursorFormats        []string
	start, end           *minMax
	step, granularity    dtfmt.Duration
	hasStep              bool
	lookback             dtfmt.Duration
	startOpt, endOpt     *requestOption
	startName, endName   string
	dataFeed, clientSide bool
	params               map[string]any
}

// minMax is a datetime with optional bounds (a plain string is just the
// datetime).
type minMax struct {
	datetime, min, max *interp.Template
	format             string
}

func (b *builder) minMax(n node, key, defFormat string) *minMax {
	switch v := n.m[key].(type) {
	case nil:
		return nil
	case string:
		return &minMax{datetime: b.compile(v, n.path+"."+key), format: defFormat}
	}
	c, ok := n.child(key)
	if !ok {
		b.fail(n.path+"."+key, "", "must be a string or a MinMaxDatetime")
		return nil
	}
	m := &minMax{datetime: c.tmpl("datetime"), min: c.tmpl("min_datetime"), max: c.tmpl("max_datetime"), format: c.str("datetime_format")}
	if m.format == "" {
		m.format = defFormat
	}
	if m.datetime == nil {
		b.fail(c.path, "MinMaxDatetime", "needs datetime")
		return nil
	}
	return m
}

func (m *minMax) eval(vars interp.Vars) (time.Time, error) {
	parse := func(t *interp.Template) (time.Time, bool, error) {
		if t == nil {
			return time.Time{}, false, nil
		}
		v, err := t.Eval(vars)
		if err != nil {
			return time.Time{}, false, err
		}
		if v == nil {
			return time.Time{}, false, nil
		}
		if d, ok := v.(interp.Datetime); ok {
			return d.T, true, nil
		}
		s, err := t.Render(vars)
		if err != nil {
			return time.Time{}, false, err
		}
		if m.format != "" {
			if tm, err := dtfmt.Parse(s, m.format); err == nil {
				return tm, true, nil
			}
		}
		tm, err := dtfmt.ParseAny(s)
		return tm, err == nil, err
	}
	t, ok, err := parse(m.datetime)
	if err != nil {
		return time.Time{}, err
	}
	if !ok {
		return time.Time{}, fmt.Errorf("the datetime %q is empty", m.datetime.Source())
	}
	if lo, ok, err := parse(m.min); err == nil && ok && t.Before(lo) {
		t = lo
	}
	if hi, ok, err := parse(m.max); err == nil && ok && t.After(hi) {
		t = hi
	}
	return t, nil
}

func (b *builder) cursor(n node) *cursor {
	if n.typ() != "DatetimeBasedCursor" {
		b.fail(n.path, n.typ(), "is not an incremental sync lakeport supports (DatetimeBasedCursor)")
		return nil
	}
	c := &cursor{path: n.path, field: n.tmpl("cursor_field"), format: n.str("datetime_format"), params: n.params(),
		cursorFormats: toStrings(n.m["cursor_datetime_formats"]), dataFeed: n.boolean("is_data_feed", false),
		clientSide: n.boolean("is_client_side_incremental", false),
		startName:  n.str("partition_field_start"), endName: n.str("partition_field_end")}
	if c.field == nil {
		b.fail(n.path, "DatetimeBasedCursor", "needs cursor_field")
	}
	if c.format == "" {
		b.fail(n.path, "DatetimeBasedCursor", "needs datetime_format")
	}
	if len(c.cursorFormats) == 0 {
		c.cursorFormats = []string{c.format}
	}
	if c.startName == "" {
		c.startName = "start_time"
	}
	if c.endName == "" {
		c.endName = "end_time"
	}
	c.start = b.minMax(n, "start_datetime", c.format)
	if c.start == nil {
		b.fail(n.path, "DatetimeBasedCursor", "needs start_datetime")
	}
	c.end = b.minMax(n, "end_datetime", c.format)
	dur := func(key string) dtfmt.Duration {
		s := n.str(key)
		if s == "" {
			return dtfmt.Duration{}
		}
		if t := n.tmpl(key); t != nil && !t.Static() {
			if v, err := t.Render(interp.Vars{"parameters": c.params}); err == nil {
				s = v
			}
		}
		d, err := dtfmt.ParseDuration(s)
		if err != nil {
			b.fail(n.path+"."+key, "DatetimeBasedCursor", "%v", err)
		}
		return d
	}
	c.step, c.granularity, c.lookback = dur("step"), dur("cursor_granularity"), dur("lookback_window")
	c.hasStep = !c.step.IsZero()
	if c.hasStep && c.step.Approx() <= 0 {
		b.fail(n.path+".step", "DatetimeBasedCursor", "must be a positive duration")
	}
	if o, ok := n.child("start_time_option"); ok {
		c.startOpt = b.requestOption(o)
	}
	if o, ok := n.child("end_time_option"); ok {
		c.endOpt = b.requestOption(o)
	}
	return c
}

// fieldName is the record field the cursor reads.
func (c *cursor) fieldName(rt *run) string {
	s, err := c.field.Render(interp.Vars{"config": rt.config, "parameters": c.params})
	if err != nil {
		return c.field.Source()
	}
	return s
}

// window is one time slice.
type window struct{ start, end time.Time }

// windows returns the slices from the state (or the start) to the end.
func (c *cursor) windows(rt *run, state map[string]any) ([]window, error) {
	vars := interp.Vars{"config": rt.config, "parameters": c.params, "stream_state": state}
	start, err := c.start.eval(vars)
	if err != nil {
		return nil, fmt.Errorf("%s.start_datetime: %w", c.path, err)
	}
	end := rt.client.opts.Now().UTC()
	if c.end != nil {
		if end, err = c.end.eval(vars); err != nil {
			return nil, fmt.Errorf("%s.end_datetime: %w", c.path, err)
		}
	}
	if v, ok := state[c.fieldName(rt)]; ok && v != nil {
		t, err := c.parse(interp.Str(v))
		if err != nil {
			return nil, fmt.Errorf("%s: the stream's state %v cannot be read: %w", c.path, v, err)
		}
		// Resume after the last value seen (one granularity later), less
		// the lookback window the manifest asks for.
		t = c.granularity.AddTo(t, 1)
		t = c.lookback.AddTo(t, -1)
		if t.After(start) {
			start = t
		}
	}
	var out []window
	if !c.hasStep {
		if !start.After(end) {
			out = append(out, window{start, end})
		}
		return out, nil
	}
	for s := start; !s.After(end); {
		next := c.step.AddTo(s, 1)
		e := c.granularity.AddTo(next, -1)
		if e.After(end) || c.granularity.IsZero() && next.After(end) {
			e = end
		}
		if c.granularity.IsZero() && e.After(next) {
			e = next
		}
		out = append(out, window{s, e})
		if !next.After(s) || len(out) > 1_000_000 {
			return nil, fmt.Errorf("%s: step %s makes too many slices", c.path, c.step)
		}
		s = next
	}
	return out, nil
}

func (c *cursor) parse(s string) (time.Time, error) {
	var first error
	for _, f := range c.cursorFormats {
		t, err := dtfmt.Parse(s, f)
		if err == nil {
			return t, nil
		}
		if first == nil {
			first = err
		}
	}
	return time.Time{}, first
}

func (c *cursor) format2(t time.Time) string {
	s, err := dtfmt.Format(t, c.format)
	if err != nil {
		return t.Format(time.RFC3339Nano)
	}
	return s
}

// sliceValues are what the slice gives templates (stream_interval).
func (c *cursor) sliceValues(w window) map[string]any {
	return map[string]any{c.startName: c.format2(w.start), c.endName: c.format2(w.end)}
}

// apply puts the slice's bounds on a request.
func (c *cursor) apply(req *request, vars interp.Vars, w window) error {
	if err := c.startOpt.put(req, vars, c.format2(w.start)); err != nil {
		return err
	}
	return c.endOpt.put(req, vars, c.format2(w.end))
}

// recordTime reads the cursor value of a record.
func (c *cursor) recordTime(field string, rec map[string]any) (time.Time, bool) {
	v, ok := rec[field]
	if !ok || v == nil {
		return time.Time{}, false
	}
	t, err := c.parse(interp.Str(v))
	if err != nil {
		return time.Time{}, false
	}
	return t, true
}
