package syncer_test

import (
	"context"
	"encoding/json"
	"path/filepath"
	"strings"
	"testing"

	"github.com/lakeport/lakeport/source"
	"github.com/lakeport/lakeport/syncer"
)

func globalLine(lsn int) string {
	return `{"type":"STATE","state":{"type":"GLOBAL","global":{"shared_state":{"lsn":` + itoa(lsn) + `},"stream_states":[{"stream_descriptor":{"name":"teams"},"stream_state":{}},{"stream_descriptor":{"name":"users"},"stream_state":{}}]}}}`
}

func recLine(stream string, id int) string {
	return `{"type":"RECORD","record":{"stream":"` + stream + `","data":{"id":` + itoa(id) + `},"emitted_at":1}}`
}

func itoa(n int) string { b, _ := json.Marshal(n); return string(b) }

// A GLOBAL state covers every table, but tables commit one by one: a sync that dies
// between two of them leaves one table a state ahead. The next sync resumes from the
// older state, and the table that is ahead takes none of the records sent again until
// the source re-sends the state it holds: every record once in every table.
func TestGlobalStateResumeWithATableAhead(t *testing.T) {
	dir := t.TempDir()
	l := openLake(t, dir)
	f := fixture{Streams: []fixtureStream{
		{Name: "teams", JSONSchema: json.RawMessage(`{"type":"object","properties":{"id":{"type":"integer"}}}`), Sync: "incremental:append"},
		{Name: "users", JSONSchema: json.RawMessage(`{"type":"object","properties":{"id":{"type":"integer"}}}`), Sync: "incremental:append"},
	}}
	src := source.FromInProcess("replay", replay{})
	job := func(s fixtureSync, id string) syncer.Job {
		return syncer.Job{Source: src, Config: replayConfig(s), Catalog: f.catalog(t), Lake: l, Namespace: "cdc",
			Location: "file://" + filepath.Join(dir, "warehouse", "cdc"), SyncID: id}
	}
	first := fixtureSync{Lines: []string{recLine("users", 1), recLine("teams", 10), globalLine(1),
		recLine("users", 2), recLine("teams", 11), globalLine(2)}}
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	// Tables commit in name order: teams@1, users@1, teams@2, then the process "dies".
	_, err := syncer.Run(ctx, job(first, "one"), syncer.Options{BatchRows: 1, Progress: func(p syncer.Progress) {
		n := 0
		for _, s := range p.Streams {
			n += s.Commits
		}
		if n >= 3 {
			cancel()
		}
	}})
	if err == nil {
		t.Fatal("the first sync was meant to die between the tables' commits of its second state")
	}
	if got := strings.Join(sorted(column(t, l, "cdc", "teams", "id")), ","); got != "10,11" {
		t.Fatalf("teams after the crash: %s, want 10,11 (committed with the second state)", got)
	}
	if got := strings.Join(sorted(column(t, l, "cdc", "users", "id")), ","); got != "1" {
		t.Fatalf("users after the crash: %s, want 1 (its table holds the first state)", got)
	}
	// The source is handed the older state and sends everything after it again.
	second := fixtureSync{StateIn: json.RawMessage(`[` + strings.TrimSuffix(strings.TrimPrefix(globalLine(1), `{"type":"STATE","state":`), `}`) + `]`),
		Lines: []string{recLine("users", 2), recLine("teams", 11), globalLine(2), recLine("users", 3), recLine("teams", 12), globalLine(3)}}
	res, err := syncer.Run(context.Background(), job(second, "two"), syncer.Options{BatchRows: 1})
	if err != nil {
		t.Fatal(err)
	}
	if got := strings.Join(sorted(column(t, l, "cdc", "teams", "id")), ","); got != "10,11,12" {
		t.Fatalf("teams: %s, want 10,11,12: a record written twice or lost", got)
	}
	if got := strings.Join(sorted(column(t, l, "cdc", "users", "id")), ","); got != "1,2,3" {
		t.Fatalf("users: %s, want 1,2,3", got)
	}
	if res.Streams["teams"].Skipped != 1 {
		t.Errorf("teams skipped %d records sent again, want 1", res.Streams["teams"].Skipped)
	}
	// Both tables now hold the third state.
	third := fixtureSync{StateIn: json.RawMessage(`[` + strings.TrimSuffix(strings.TrimPrefix(globalLine(3), `{"type":"STATE","state":`), `}`) + `]`)}
	if _, err := syncer.Run(context.Background(), job(third, "three"), syncer.Options{}); err != nil {
		t.Fatal(err)
	}
}
