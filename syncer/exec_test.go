package syncer_test

import (
	"context"
	"encoding/json"
	"path/filepath"
	"strings"
	"testing"

	"github.com/lakeport/lakeport/lake"
	"github.com/lakeport/lakeport/protocol"
	"github.com/lakeport/lakeport/source"
	"github.com/lakeport/lakeport/source/sourcetest"
	"github.com/lakeport/lakeport/syncer"
)

// testSource is the protocol test program (see package sourcetest).
func testSource(t *testing.T) string { return sourcetest.Program(t) }

type execEnv struct {
	t    *testing.T
	lake *lake.Lake
	dir  string
	src  source.Source
	n    int
	// discover, when set, is the config used to discover streams (faults apply to reads).
	discover string
}

func newExecEnv(t *testing.T) *execEnv {
	src, err := source.Open("exec:" + testSource(t))
	if err != nil {
		t.Fatal(err)
	}
	dir := t.TempDir()
	return &execEnv{t: t, lake: openLake(t, dir), dir: dir, src: src}
}

// sync discovers with cfg, configures streams with modes (stream → "sync:dest"; all
// streams incremental append when empty) and runs a sync.
func (e *execEnv) sync(cfg string, modes map[string]string) (syncer.Result, error) {
	e.t.Helper()
	ctx := context.Background()
	dcfg := cfg
	if e.discover != "" {
		dcfg = e.discover
	}
	disc, err := e.src.Discover(ctx, json.RawMessage(dcfg))
	if err != nil {
		e.t.Fatal(err)
	}
	var specs []string
	for _, s := range disc.Streams {
		m := modes[s.Name]
		if m == "" {
			m = "incremental:append"
		}
		specs = append(specs, s.Name+":"+m)
	}
	cat, err := syncer.Select(disc, specs)
	if err != nil {
		e.t.Fatal(err)
	}
	e.n++
	return syncer.Run(ctx, syncer.Job{Source: e.src, Config: json.RawMessage(cfg), Catalog: cat, Lake: e.lake,
		Namespace: "app", Location: "file://" + filepath.Join(e.dir, "warehouse", "app"), SyncID: "sync-" + string(rune('a'+e.n))}, syncer.Options{})
}

func (e *execEnv) rows(table, col string) []string {
	e.t.Helper()
	return column(e.t, e.lake, "app", table, col)
}

const usersSchema = `{"type":"object","properties":{"id":{"type":"integer"},"name":{"type":["null","string"]}}}`

func TestFaultsLeaveOnlyCommittedData(t *testing.T) {
	e := newExecEnv(t)
	good := `{"api_key":"k","state":true,"streams":[{"name":"users","json_schema":` + usersSchema + `,"records":[{"id":1,"name":"a"},{"id":2,"name":"b"}]}]}`
	if _, err := e.sync(good, nil); err != nil {
		t.Fatalf("first sync: %v", err)
	}
	e.discover = good
	faults := []struct {
		name, extra, wantErr string
	}{
		{"non-zero exit", `"exit_code":3,"stderr":"boom: API quota exceeded"`, "API quota exceeded"},
		{"malformed line", `"malformed":true`, "malformed"},
		{"unknown stream", `"unknown_stream":true`, "ghost"},
		{"oversized record", `"oversized":17000000`, "limit"},
	}
	for _, f := range faults {
		t.Run(f.name, func(t *testing.T) {
			// The failing run emits new records and a STATE before failing (except for the
			// faults that come first): none of them may become visible.
			cfg := `{"api_key":"k","state":true,` + f.extra + `,"streams":[{"name":"users","json_schema":` + usersSchema + `,"records":[{"id":3,"name":"c"}]}]}`
			_, err := e.sync(cfg, nil)
			if err == nil || !strings.Contains(err.Error(), f.wantErr) {
				t.Fatalf("sync with %s: err = %v, want one mentioning %q", f.name, err, f.wantErr)
			}
			if got := sorted(e.rows("users", "id")); !equal(got, []string{"1", "2"}) {
				t.Fatalf("after a failed sync the table holds ids %v, want only the committed [1 2]", got)
			}
		})
	}
}

func TestModesAndOddData(t *testing.T) {
	e := newExecEnv(t)
	odd := `{"type":"object","properties":{"id":{"type":"integer"},"naïve name":{"type":["null","string"]},"with.dot":{"type":["null","number"]},"年齢":{"type":["null","integer"]},"tags":{"type":["null","array"]}}}`
	cfg := func(records string) string {
		return `{"api_key":"k","state":true,"streams":[` +
			`{"name":"users","json_schema":` + usersSchema + `,"records":` + records + `},` +
			`{"name":"snapshot","json_schema":` + usersSchema + `,"records":` + records + `},` +
			`{"name":"log","json_schema":` + usersSchema + `,"records":` + records + `},` +
			`{"name":"odd","json_schema":` + odd + `,"records":[{"id":1,"naïve name":"zoë 🚀","with.dot":1.5,"年齢":30,"tags":["a","b"]},{"id":2,"naïve name":null},{"id":3}]}]}`
	}
	modes := map[string]string{"users": "incremental:append_dedup", "snapshot": "full_refresh:overwrite", "log": "full_refresh:append"}
	if _, err := e.sync(cfg(`[{"id":1,"name":"a"},{"id":2,"name":"b"}]`), modes); err != nil {
		t.Fatal(err)
	}
	if _, err := e.sync(cfg(`[{"id":2,"name":"b2"},{"id":3,"name":"c"}]`), modes); err != nil {
		t.Fatal(err)
	}
	if got := sorted(e.rows("users", "name")); !equal(got, []string{"a", "b2", "c"}) {
		t.Errorf("append_dedup: names %v, want one row per id with the latest value [a b2 c]", got)
	}
	if got := sorted(e.rows("snapshot", "name")); !equal(got, []string{"b2", "c"}) {
		t.Errorf("overwrite: names %v, want only the last sync's [b2 c]", got)
	}
	if got := sorted(e.rows("log", "name")); !equal(got, []string{"a", "b", "b2", "c"}) {
		t.Errorf("full refresh append: names %v, want both syncs' rows", got)
	}
	// Unicode and odd field names keep their values; null and missing both read as null.
	names := e.rows("odd", "naïve name")
	ages := e.rows("odd", "年齢")
	dots := e.rows("odd", "with.dot")
	tags := e.rows("odd", "tags")
	ids := e.rows("odd", "id")
	byID := map[string][4]string{}
	for i, id := range ids {
		byID[id] = [4]string{names[i], ages[i], dots[i], tags[i]}
	}
	if len(ids) != 6 { // incremental append, synced twice
		t.Fatalf("odd: %d rows, want 6", len(ids))
	}
	if v := byID["1"]; v[0] != "zoë 🚀" || v[1] != "30" || v[2] != "1.5" || !strings.Contains(v[3], `"a"`) {
		t.Errorf("odd id 1 = %q", v)
	}
	if v := byID["2"]; v[0] != "(null)" {
		t.Errorf("odd id 2 (explicit null) = %q, want null", v)
	}
	if v := byID["3"]; v[0] != "(null)" || v[1] != "(null)" {
		t.Errorf("odd id 3 (missing fields) = %q, want nulls", v)
	}

	// An empty sync commits nothing new and loses nothing.
	empty := strings.ReplaceAll(cfg(`[]`), `"records":[{"id":1,"naïve name":"zoë 🚀","with.dot":1.5,"年齢":30,"tags":["a","b"]},{"id":2,"naïve name":null},{"id":3}]`, `"records":[]`)
	if _, err := e.sync(empty, modes); err != nil {
		t.Fatal(err)
	}
	if got := len(e.rows("users", "id")); got != 3 {
		t.Errorf("after an empty sync users has %d rows, want 3", got)
	}
	if got := len(e.rows("snapshot", "id")); got != 0 {
		t.Errorf("after an empty full refresh overwrite snapshot has %d rows, want 0", got)
	}
}

func TestSchemaEvolutionAcrossSyncs(t *testing.T) {
	e := newExecEnv(t)
	v1 := `{"api_key":"k","state":true,"streams":[{"name":"users","json_schema":` + usersSchema + `,"records":[{"id":1,"name":"a"}]}]}`
	v2schema := `{"type":"object","properties":{"id":{"type":"integer"},"name":{"type":["null","string"]},"plan":{"type":["null","string"]},"seats":{"type":["null","integer"]}}}`
	v2 := `{"api_key":"k","state":true,"streams":[{"name":"users","json_schema":` + v2schema + `,"records":[{"id":2,"name":"b","plan":"pro","seats":"many"}]}]}`
	if res, err := e.sync(v1, nil); err != nil {
		t.Fatal(err)
	} else if c := res.Streams["users"].Changes; len(c) != 0 {
		t.Fatalf("a new table reports schema changes %q", c)
	}
	res, err := e.sync(v2, nil)
	if err != nil {
		t.Fatal(err)
	}
	// The run reports what changed against the table as it was (issue 14.2: the syncer
	// once compared the stream's schema with itself and reported nothing).
	changes := strings.Join(res.Streams["users"].Changes, "\n")
	for _, want := range []string{`column "plan" added`, `column "seats" added`} {
		if !strings.Contains(changes, want) {
			t.Errorf("schema changes of the run = %q, want one saying %s", changes, want)
		}
	}
	if res, err := e.sync(v2, nil); err != nil {
		t.Fatal(err)
	} else if c := res.Streams["users"].Changes; len(c) != 0 {
		t.Errorf("a sync with an unchanged schema reports changes %q", c)
	}
	v3schema := `{"type":"object","properties":{"id":{"type":"integer"},"name":{"type":["null","string"]},"plan":{"type":["null","string"]},"seats":{"type":["null","string"]}}}`
	v3 := `{"api_key":"k","state":true,"streams":[{"name":"users","json_schema":` + v3schema + `,"records":[]}]}`
	if res, err := e.sync(v3, nil); err != nil {
		t.Fatal(err)
	} else if c := strings.Join(res.Streams["users"].Changes, "\n"); !strings.Contains(c, `column "seats" stays long`) {
		t.Errorf("a type change Iceberg cannot follow: changes = %q, want the column kept as long", c)
	}
	plans := e.rows("users", "plan")
	ids := e.rows("users", "id")
	metas := e.rows("users", "_lakeport_meta")
	for i, id := range ids {
		switch id {
		case "1":
			if plans[i] != "(null)" {
				t.Errorf("row synced before the column existed: plan = %q, want null", plans[i])
			}
		case "2":
			if plans[i] != "pro" {
				t.Errorf("new column: plan = %q, want pro", plans[i])
			}
			if !strings.Contains(metas[i], "many") {
				t.Errorf("a value that did not fit its type must be kept in the meta column: %q", metas[i])
			}
		}
	}
}

func TestManyStreams(t *testing.T) {
	e := newExecEnv(t)
	var parts []string
	for i := 0; i < 40; i++ {
		parts = append(parts, `{"name":"s`+string(rune('a'+i%26))+string(rune('a'+i/26))+`","json_schema":`+usersSchema+`,"records":[{"id":1},{"id":2}]}`)
	}
	cfg := `{"api_key":"k","state":true,"streams":[` + strings.Join(parts, ",") + `]}`
	res, err := e.sync(cfg, nil)
	if err != nil {
		t.Fatal(err)
	}
	if len(res.Streams) != 40 || res.Records != 80 {
		t.Fatalf("synced %d streams, %d records; want 40, 80", len(res.Streams), res.Records)
	}
	tables, err := e.lake.ListTables(context.Background(), "app")
	if err != nil || len(tables) != 40 {
		t.Fatalf("tables = %d, %v", len(tables), err)
	}
}

var _ = protocol.TypeRecord
