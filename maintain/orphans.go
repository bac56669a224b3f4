package maintain

import (
	"context"

	"github.com/lakeport/lakeport/lake"
)

// OrphanReport is what RemoveOrphans did.
type OrphanReport struct {
	Removed int `json:"removed"`
	// Examples are up to five of the removed keys.
	Examples []string `json:"examples,omitempty"`
}

// RemoveOrphans deletes the files under t's location in files that no
// snapshot, manifest or listed metadata file references and that were last
// written more than o.OrphanWindow ago (lake.Table.RemoveOrphanFiles, the
// finder a finished sync also uses for its leftovers). Younger files are
// spared whatever they are: a sync or a compaction may have written them
// and not yet committed them.
func RemoveOrphans(ctx context.Context, t *lake.Table, files lake.Files, o Options) (OrphanReport, error) {
	o = o.WithDefaults()
	var rep OrphanReport
	keys, err := t.RemoveOrphanFiles(ctx, files, o.Now().Add(-o.OrphanWindow))
	if err != nil {
		return rep, wrap(t, "remove orphan files", err)
	}
	rep.Removed = len(keys)
	rep.Examples = keys[:min(len(keys), 5)]
	if rep.Removed > 0 {
		o.Logger.Info("removed files no snapshot references", "table", t.Location(), "files", rep.Removed)
	}
	return rep, nil
}
