package migration

import (
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/json"
	"fmt"
	"strings"

	"github.com/apache/iceberg-go"
	"github.com/apache/iceberg-go/table"
	"github.com/twmb/avro/atype"

	"github.com/lakeport/lakeport/objstore"
	"github.com/lakeport/lakeport/storage"
)

// rewriter copies one table from one location to another: its data files byte for
// byte, and its metadata — metadata JSON, manifest lists, manifests, which all name
// files by absolute path — rewritten through iceberg-go's readers and writers for the
// new place. Every path it reads must lie under the table's location (from): metadata
// in a customer's bucket is untrusted, and a path elsewhere is refused, not copied.
type rewriter struct {
	src, dst storage.Location
	from, to string // the table's location at src and at dst
	meta     table.Metadata

	manifests map[string]iceberg.ManifestFile // rewritten, by source path
	copied    map[string]bool                 // data files copied, by source path
	files     int
	bytes     int64
}

// mapPath is p at the new place.
func (rw *rewriter) mapPath(p string) (string, error) {
	rest, ok := strings.CutPrefix(p, rw.from+"/")
	if !ok {
		return "", fmt.Errorf("%w: %s is not under the table's location %s", ErrUnsafe, p, rw.from)
	}
	return rw.to + "/" + rest, nil
}

// read reads p, which must lie under the table's location at the source.
func (rw *rewriter) read(ctx context.Context, p string) ([]byte, error) {
	if _, err := rw.mapPath(p); err != nil {
		return nil, err
	}
	key, err := rw.src.Key(p)
	if err != nil {
		return nil, fmt.Errorf("%w: %w", ErrUnsafe, err)
	}
	return rw.src.Bucket.Get(ctx, key)
}

// write writes data at p (at the destination) and reads it back: the copy must have
// the same SHA-256 as what was written.
func (rw *rewriter) write(ctx context.Context, p string, data []byte) error {
	key, err := rw.dst.Key(p)
	if err != nil {
		return err
	}
	if err := rw.dst.Bucket.Put(ctx, key, data); err != nil {
		return err
	}
	back, err := rw.dst.Bucket.Get(ctx, key)
	if err != nil {
		return fmt.Errorf("read %s back: %w", p, err)
	}
	if sha256.Sum256(back) != sha256.Sum256(data) {
		return fmt.Errorf("%w: %s reads back %d bytes with another SHA-256 than the %d written", ErrVerify, p, len(back), len(data))
	}
	return nil
}

// copyFile copies data file df; a file a snapshot still reads must exist and have
// the size its manifest says.
func (rw *rewriter) copyFile(ctx context.Context, df iceberg.DataFile, live bool) (string, error) {
	p := df.FilePath()
	to, err := rw.mapPath(p)
	if err != nil {
		return "", err
	}
	if rw.copied[p] {
		return to, nil
	}
	data, err := rw.read(ctx, p)
	if objstore.IsNotFound(err) && !live {
		// A file an older snapshot deleted and maintenance removed since: no
		// snapshot reads it, and the new manifests keep only its record.
		return to, nil
	}
	if err != nil {
		return "", fmt.Errorf("copy data file %s: %w", p, err)
	}
	if int64(len(data)) != df.FileSizeBytes() {
		return "", fmt.Errorf("%w: data file %s has %d bytes but its manifest says %d", ErrVerify, p, len(data), df.FileSizeBytes())
	}
	if err := rw.write(ctx, to, data); err != nil {
		return "", fmt.Errorf("copy data file %s: %w", p, err)
	}
	rw.copied[p] = true
	rw.files++
	rw.bytes += int64(len(data))
	return to, nil
}

// run copies the table whose current metadata file is metadataLocation and returns
// the location of its metadata file at the new place.
func (rw *rewriter) run(ctx context.Context, metadataLocation string) (string, error) {
	if v := rw.meta.Version(); v != 2 {
		return "", fmt.Errorf("%w: format version %d (lakeport moves format version 2 tables)", ErrUnsupported, v)
	}
	rw.manifests, rw.copied = map[string]iceberg.ManifestFile{}, map[string]bool{}
	for _, snap := range rw.meta.Snapshots() {
		if err := rw.manifestList(ctx, snap); err != nil {
			return "", err
		}
	}
	raw, err := rw.read(ctx, metadataLocation)
	if err != nil {
		return "", fmt.Errorf("read the table metadata %s: %w", metadataLocation, err)
	}
	out, err := rw.metadataJSON(raw)
	if err != nil {
		return "", fmt.Errorf("rewrite the table metadata %s: %w", metadataLocation, err)
	}
	newLoc, err := rw.mapPath(metadataLocation)
	if err != nil {
		return "", err
	}
	if err := rw.write(ctx, newLoc, out); err != nil {
		return "", fmt.Errorf("write the table metadata: %w", err)
	}
	return newLoc, nil
}

// manifestList rewrites the manifest list of snap, and the manifests it lists.
func (rw *rewriter) manifestList(ctx context.Context, snap table.Snapshot) error {
	raw, err := rw.read(ctx, snap.ManifestList)
	if err != nil {
		return fmt.Errorf("read manifest list %s: %w", snap.ManifestList, err)
	}
	files, err := iceberg.ReadManifestList(bytes.NewReader(raw))
	if err != nil {
		return fmt.Errorf("read manifest list %s: %w", snap.ManifestList, err)
	}
	out := make([]iceberg.ManifestFile, 0, len(files))
	for _, mf := range files {
		nf, err := rw.manifest(ctx, mf)
		if err != nil {
			return err
		}
		out = append(out, nf)
	}
	newPath, err := rw.mapPath(snap.ManifestList)
	if err != nil {
		return err
	}
	var buf bytes.Buffer
	seq := snap.SequenceNumber
	if err := iceberg.WriteManifestList(rw.meta.Version(), &buf, snap.SnapshotID, snap.ParentSnapshotID, &seq, 0, out); err != nil {
		return fmt.Errorf("write manifest list %s: %w", newPath, err)
	}
	if err := rw.write(ctx, newPath, buf.Bytes()); err != nil {
		return fmt.Errorf("write manifest list %s: %w", newPath, err)
	}
	return nil
}

// manifest rewrites manifest mf (once, however many snapshots list it), copying the
// data files it names, and returns its manifest list entry at the new place: the
// same counts, sequence numbers and partition summaries, a new path and length.
func (rw *rewriter) manifest(ctx context.Context, mf iceberg.ManifestFile) (iceberg.ManifestFile, error) {
	if nf, ok := rw.manifests[mf.FilePath()]; ok {
		return nf, nil
	}
	if mf.FirstRowID() != nil {
		return nil, fmt.Errorf("%w: manifest %s carries row lineage (format version 3)", ErrUnsupported, mf.FilePath())
	}
	raw, err := rw.read(ctx, mf.FilePath())
	if err != nil {
		return nil, fmt.Errorf("read manifest %s: %w", mf.FilePath(), err)
	}
	entries, err := iceberg.ReadManifest(mf, bytes.NewReader(raw), false)
	if err != nil {
		return nil, fmt.Errorf("read manifest %s: %w", mf.FilePath(), err)
	}
	spec := rw.meta.PartitionSpecByID(int(mf.PartitionSpecID()))
	if spec == nil {
		return nil, fmt.Errorf("manifest %s: partition spec %d is not in the table's metadata", mf.FilePath(), mf.PartitionSpecID())
	}
	schema := rw.meta.CurrentSchema()
	out := make([]iceberg.ManifestEntry, 0, len(entries))
	for _, e := range entries {
		live := e.Status() != iceberg.EntryStatusDELETED
		newPath, err := rw.copyFile(ctx, e.DataFile(), live)
		if err != nil {
			return nil, err
		}
		df, err := relocated(e.DataFile(), newPath, *spec, schema, rw.mapPath)
		if err != nil {
			return nil, fmt.Errorf("manifest %s: %w", mf.FilePath(), err)
		}
		snapID := e.SnapshotID()
		var seq *int64
		if n := e.SequenceNum(); n >= 0 {
			seq = &n
		}
		out = append(out, iceberg.NewManifestEntry(e.Status(), &snapID, seq, e.FileSequenceNum(), df))
	}
	newPath, err := rw.mapPath(mf.FilePath())
	if err != nil {
		return nil, err
	}
	var buf bytes.Buffer
	if _, err := iceberg.WriteManifest(newPath, &buf, rw.meta.Version(), *spec, schema, mf.SnapshotID(), out); err != nil {
		return nil, fmt.Errorf("write manifest %s: %w", newPath, err)
	}
	if err := rw.write(ctx, newPath, buf.Bytes()); err != nil {
		return nil, fmt.Errorf("write manifest %s: %w", newPath, err)
	}
	nf := iceberg.NewManifestFile(mf.Version(), newPath, int64(buf.Len()), mf.PartitionSpecID(), mf.SnapshotID()).
		SequenceNum(mf.SequenceNum(), mf.MinSequenceNum()).Content(mf.ManifestContent()).
		AddedFiles(mf.AddedDataFiles()).ExistingFiles(mf.ExistingDataFiles()).DeletedFiles(mf.DeletedDataFiles()).
		AddedRows(mf.AddedRows()).ExistingRows(mf.ExistingRows()).DeletedRows(mf.DeletedRows()).
		Partitions(mf.Partitions()).KeyMetadata(mf.KeyMetadata()).Build()
	rw.manifests[mf.FilePath()] = nf
	return nf, nil
}

// relocated is df at path, with every other field as it was (a delete file's
// referenced data file mapped too).
func relocated(df iceberg.DataFile, path string, spec iceberg.PartitionSpec, schema *iceberg.Schema, mapPath func(string) (string, error)) (iceberg.DataFile, error) {
	b, err := iceberg.NewDataFileBuilder(spec, df.ContentType(), path, df.FileFormat(), df.Partition(),
		partitionLogicalTypes(spec, schema), nil, df.Count(), df.FileSizeBytes())
	if err != nil {
		return nil, fmt.Errorf("data file %s: %w", df.FilePath(), err)
	}
	b.ColumnSizes(df.ColumnSizes()).ValueCounts(df.ValueCounts()).NullValueCounts(df.NullValueCounts()).
		NaNValueCounts(df.NaNValueCounts()).DistinctValueCounts(df.DistinctValueCounts()).
		LowerBoundValues(df.LowerBoundValues()).UpperBoundValues(df.UpperBoundValues()).
		KeyMetadata(df.KeyMetadata()).SplitOffsets(df.SplitOffsets())
	if ids := df.EqualityFieldIDs(); len(ids) > 0 {
		b.EqualityFieldIDs(ids)
	}
	if id := df.SortOrderID(); id != nil {
		b.SortOrderID(*id)
	}
	if ref := df.ReferencedDataFile(); ref != nil {
		mapped, err := mapPath(*ref)
		if err != nil {
			return nil, err
		}
		b.ReferencedDataFile(mapped)
	}
	if off := df.ContentOffset(); off != nil {
		b.ContentOffset(*off)
	}
	if n := df.ContentSizeInBytes(); n != nil {
		b.ContentSizeInBytes(*n)
	}
	return b.Build(), nil
}

// partitionLogicalTypes are the Avro logical types of spec's partition values, as
// iceberg-go's own writer gives them.
func partitionLogicalTypes(spec iceberg.PartitionSpec, schema *iceberg.Schema) map[int]string {
	out := map[int]string{}
	for _, f := range spec.Fields() {
		src, ok := schema.FindFieldByID(f.SourceID())
		if !ok {
			continue
		}
		switch f.Transform.ResultType(src.Type).(type) {
		case iceberg.DateType:
			out[f.FieldID] = atype.Date
		case iceberg.TimeType:
			out[f.FieldID] = atype.TimeMicros
		case iceberg.TimestampType, iceberg.TimestampTzType:
			out[f.FieldID] = atype.TimestampMicros
		case iceberg.DecimalType:
			out[f.FieldID] = atype.Decimal
		case iceberg.UUIDType:
			out[f.FieldID] = atype.UUID
		}
	}
	return out
}

// pathProperties are table properties that hold paths.
var pathProperties = []string{"write.data.path", "write.metadata.path", "write.object-storage.path", "write.folder-storage.path"}

// metadataJSON rewrites the table metadata document for the new place, field by
// field: its location, each snapshot's manifest list, and the table properties that
// hold paths. The metadata log (earlier metadata files, not copied) and statistics
// files (advisory) are left out. The result must parse as Iceberg metadata naming
// only paths under the new location.
func (rw *rewriter) metadataJSON(raw []byte) ([]byte, error) {
	dec := json.NewDecoder(bytes.NewReader(raw))
	dec.UseNumber() // snapshot IDs are 64-bit
	var doc map[string]any
	if err := dec.Decode(&doc); err != nil {
		return nil, err
	}
	if loc, _ := doc["location"].(string); strings.TrimSuffix(loc, "/") != rw.from {
		return nil, fmt.Errorf("%w: its location is %q, not %s", ErrUnsafe, loc, rw.from)
	}
	doc["location"] = rw.to
	snaps, _ := doc["snapshots"].([]any)
	for _, s := range snaps {
		snap, ok := s.(map[string]any)
		if !ok {
			return nil, fmt.Errorf("a snapshot is not an object")
		}
		if _, ok := snap["manifests"]; ok {
			return nil, fmt.Errorf("%w: snapshots list manifests themselves (format version 1)", ErrUnsupported)
		}
		list, _ := snap["manifest-list"].(string)
		mapped, err := rw.mapPath(list)
		if err != nil {
			return nil, err
		}
		snap["manifest-list"] = mapped
	}
	if props, ok := doc["properties"].(map[string]any); ok {
		for _, k := range pathProperties {
			v, ok := props[k].(string)
			if !ok {
				continue
			}
			mapped, err := rw.mapPath(strings.TrimSuffix(v, "/") + "/")
			if err != nil {
				return nil, err
			}
			props[k] = strings.TrimSuffix(mapped, "/")
		}
	}
	doc["metadata-log"] = []any{}
	delete(doc, "statistics")
	delete(doc, "partition-statistics")
	out, err := json.Marshal(doc)
	if err != nil {
		return nil, err
	}
	meta, err := table.ParseMetadataBytes(out)
	if err != nil {
		return nil, fmt.Errorf("the rewritten metadata does not parse: %w", err)
	}
	if meta.Location() != rw.to {
		return nil, fmt.Errorf("the rewritten metadata is at %s, not %s", meta.Location(), rw.to)
	}
	for _, snap := range meta.Snapshots() {
		if !strings.HasPrefix(snap.ManifestList, rw.to+"/") {
			return nil, fmt.Errorf("the rewritten snapshot %d lists %s", snap.SnapshotID, snap.ManifestList)
		}
	}
	return out, nil
}
