// Package laketest helps tests play a hostile tenant against lake's tables:
// it rewrites a table's manifest, as anyone who can write to the table's
// bucket could, with real Avro written by iceberg-go.
package laketest

import (
	"bytes"
	"context"
	"fmt"

	"github.com/apache/iceberg-go"
	"github.com/apache/iceberg-go/table"
)

// RewriteManifest returns the path of the first manifest of tbl's current
// snapshot and a new content for it in which every data file's path is
// rename(old path). The caller writes the content over the manifest (a local
// file, or an object in the customer's bucket). Counts, sizes and column
// statistics stay those of the original files.
func RewriteManifest(ctx context.Context, tbl *table.Table, rename func(string) string) (manifestPath string, content []byte, err error) {
	snap := tbl.CurrentSnapshot()
	if snap == nil {
		return "", nil, fmt.Errorf("laketest: table %v has no snapshot", tbl.Identifier())
	}
	fs, err := tbl.FS(ctx)
	if err != nil {
		return "", nil, err
	}
	manifests, err := snap.Manifests(fs)
	if err != nil || len(manifests) == 0 {
		return "", nil, fmt.Errorf("laketest: manifests of %v: %v (%d)", tbl.Identifier(), err, len(manifests))
	}
	m := manifests[0]
	f, err := fs.Open(m.FilePath())
	if err != nil {
		return "", nil, err
	}
	entries, err := iceberg.ReadManifest(m, f, true)
	f.Close()
	if err != nil {
		return "", nil, err
	}
	spec := tbl.Spec()
	var out []iceberg.ManifestEntry
	for _, e := range entries {
		df := e.DataFile()
		b, err := iceberg.NewDataFileBuilder(spec, df.ContentType(), rename(df.FilePath()), df.FileFormat(),
			df.Partition(), nil, nil, df.Count(), df.FileSizeBytes())
		if err != nil {
			return "", nil, err
		}
		b.ColumnSizes(df.ColumnSizes()).ValueCounts(df.ValueCounts()).NullValueCounts(df.NullValueCounts()).
			LowerBoundValues(df.LowerBoundValues()).UpperBoundValues(df.UpperBoundValues())
		sid := e.SnapshotID()
		seq, fseq := e.SequenceNum(), e.FileSequenceNum()
		out = append(out, iceberg.NewManifestEntry(e.Status(), &sid, &seq, fseq, b.Build()))
	}
	var buf bytes.Buffer
	if _, err := iceberg.WriteManifest(m.FilePath(), &buf, tbl.Metadata().Version(), spec, tbl.Schema(), snap.SnapshotID, out); err != nil {
		return "", nil, err
	}
	return m.FilePath(), buf.Bytes(), nil
}
