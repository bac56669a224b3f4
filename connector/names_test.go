package connector_test

import (
	"context"
	"encoding/json"
	"io/fs"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/s3"

	"github.com/lakeport/lakeport/connector"
	"github.com/lakeport/lakeport/names"
	"github.com/lakeport/lakeport/protocol"
	"github.com/lakeport/lakeport/s3test"
	"github.com/lakeport/lakeport/source"
	"github.com/lakeport/lakeport/storage"
	"github.com/lakeport/lakeport/store"
)

// hostileStreams are stream names a source sends to write outside its
// connector's prefix: percent-encoded, double-encoded, unicode look-alikes.
var hostileStreams = []string{
	"%2e%2e%2f%2e%2e%2forg_B%2fbilling%2fx",
	"%252e%252e%252f%252e%252e%252fescaped",
	"../../../../outside",
	"..",
	"\uff0e\uff0e\uff0fwide",
	"ok_stream",
}

// hostileSource offers hostileStreams and emits two records and a state for each.
type hostileSource struct{}

func (hostileSource) Spec(context.Context) (*protocol.ConnectorSpecification, error) {
	return &protocol.ConnectorSpecification{ConnectionSpecification: json.RawMessage(`{"type":"object"}`)}, nil
}

func (hostileSource) Check(context.Context, json.RawMessage) (*protocol.ConnectionStatus, error) {
	return &protocol.ConnectionStatus{Status: protocol.StatusSucceeded}, nil
}

func (hostileSource) Discover(context.Context, json.RawMessage) (*protocol.Catalog, error) {
	cat := &protocol.Catalog{}
	for _, n := range hostileStreams {
		cat.Streams = append(cat.Streams, protocol.Stream{Name: n, JSONSchema: json.RawMessage(`{"type":"object","properties":{"id":{"type":"integer"}}}`),
			SupportedSyncModes: []protocol.SyncMode{protocol.FullRefresh}})
	}
	return cat, nil
}

func (hostileSource) Run(ctx context.Context, _ json.RawMessage, cat *protocol.ConfiguredCatalog, _ json.RawMessage, emit func(*protocol.Message) error) error {
	for _, cs := range cat.Streams {
		for id := 1; id <= 2; id++ {
			m := &protocol.Message{Type: protocol.TypeRecord, Record: &protocol.RecordMessage{Stream: cs.Stream.Name,
				Data: json.RawMessage(`{"id":` + string(rune('0'+id)) + `}`), EmittedAt: time.Now().UnixMilli()}}
			if err := emit(m); err != nil {
				return err
			}
		}
	}
	return emit(&protocol.Message{Type: protocol.TypeState, State: &protocol.StateMessage{Type: protocol.StateLegacy, Data: json.RawMessage(`{"done":true}`)}})
}

func hostileRegistry() *source.Registry {
	reg := source.NewRegistry()
	reg.Register("hostile", func() source.Source { return source.FromInProcess("hostile", hostileSource{}) })
	return reg
}

// files lists every file under root, relative to it.
func files(t *testing.T, root string) map[string]bool {
	t.Helper()
	out := map[string]bool{}
	filepath.WalkDir(root, func(p string, d fs.DirEntry, err error) error {
		if err == nil && !d.IsDir() {
			rel, _ := filepath.Rel(root, p)
			out[filepath.ToSlash(rel)] = true
		}
		return nil
	})
	return out
}

// TestHostileStreamNamesLocalWarehouse: a source's stream names that decode or
// normalize to "../" write only under the connector's folder of the managed
// warehouse, each to its own table, and delete leaves nothing of them.
func TestHostileStreamNamesLocalWarehouse(t *testing.T) {
	e := newEnv(t)
	ctx := context.Background()
	e.svc.Sources = hostileRegistry()
	outer := filepath.Dir(e.dir) // the attack's target: the folders around the data dir
	before := files(t, outer)

	if _, err := e.svc.Create(ctx, e.org, connector.CreateRequest{Name: "crm", Source: "hostile"}); err != nil {
		t.Fatal(err)
	}
	if r := e.sync("crm"); r.Status != store.RunSucceeded {
		t.Fatalf("sync: %+v", r)
	}
	prefix, _ := filepath.Rel(outer, filepath.Join(e.dir, "warehouse", e.org.ID, "crm"))
	prefix = filepath.ToSlash(prefix) + "/"
	written := 0
	for f := range files(t, outer) {
		if before[f] || strings.HasPrefix(f, filepath.Base(e.dir)+"/lakeport.db") {
			continue
		}
		if !strings.HasPrefix(f, prefix) {
			t.Errorf("the sync wrote %s, outside the connector's folder %s", f, prefix)
		}
		written++
	}
	if written == 0 {
		t.Fatal("the sync wrote no files")
	}
	l, err := e.svc.Lake(ctx, e.org, "crm")
	if err != nil {
		t.Fatal(err)
	}
	for _, n := range hostileStreams {
		seg, _ := names.Segment(n)
		tbl, err := l.LoadTable(ctx, "crm", seg)
		if err != nil {
			t.Fatalf("stream %q: table %q: %v", n, seg, err)
		}
		if !strings.HasSuffix(tbl.Location(), "/crm/"+seg) {
			t.Errorf("stream %q is at %s", n, tbl.Location())
		}
		at, err := tbl.Scan(ctx)
		if err != nil {
			t.Fatal(err)
		}
		if at.NumRows() != 2 {
			t.Errorf("stream %q: %d rows, want 2", n, at.NumRows())
		}
		at.Release()
	}
	l.Close()

	if _, err := e.svc.Delete(ctx, e.org, "crm"); err != nil {
		t.Fatal(err)
	}
	for f := range files(t, outer) {
		if !before[f] && strings.HasPrefix(f, prefix) {
			t.Errorf("delete left %s", f)
		}
	}
}

// TestHostileStreamNamesS3 is the same against a real S3 server: every key the
// sync writes is under crm/, and delete leaves the bucket as it found it.
func TestHostileStreamNamesS3(t *testing.T) {
	e := newEnv(t)
	ctx := context.Background()
	e.svc.Sources = hostileRegistry()
	srv := s3test.Shared(t)
	ak, sk := s3test.RandomKey("hos"), s3test.RandomKey("secret")
	srv.CreateUser(t, ak, sk)
	bucket := srv.NewBucket(t, "hostile")
	srv.ChangeBucketOwner(t, bucket, ak)
	keep := []string{"org_B/billing/keep.parquet", "escaped/keep", "outside"}
	for _, k := range keep {
		if _, err := srv.Client().PutObject(ctx, &s3.PutObjectInput{Bucket: aws.String(bucket), Key: aws.String(k), Body: strings.NewReader("keep")}); err != nil {
			t.Fatal(err)
		}
	}
	sealed, _ := e.box.Seal(sk, e.org.ID+"/storage/secret_access_key")
	if err := e.st.PutStorageSetting(ctx, store.StorageSetting{OrgID: e.org.ID, Mode: string(storage.ModeCustomerHosted), Bucket: bucket,
		Region: srv.Region, Endpoint: srv.Endpoint, AccessKeyID: ak, SecretAccessKeySealed: sealed, UpdatedAt: time.Now()}); err != nil {
		t.Fatal(err)
	}
	if _, err := e.svc.Create(ctx, e.org, connector.CreateRequest{Name: "crm", Source: "hostile"}); err != nil {
		t.Fatal(err)
	}
	if r := e.sync("crm"); r.Status != store.RunSucceeded {
		t.Fatalf("sync: %+v", r)
	}
	keys := func() []string { return srv.Keys(t, bucket) }
	tables := map[string]bool{}
	for _, k := range keys() {
		if contains(keep, k) {
			continue
		}
		if !strings.HasPrefix(k, "crm/") {
			t.Errorf("the sync wrote %s outside crm/", k)
			continue
		}
		if parts := strings.Split(k, "/"); len(parts) > 2 {
			tables[parts[1]] = true
		}
	}
	for _, n := range hostileStreams {
		seg, _ := names.Segment(n)
		if !tables[seg] {
			t.Errorf("no objects of stream %q under crm/%s/ (folders: %v)", n, seg, tables)
		}
	}
	if _, err := e.svc.Delete(ctx, e.org, "crm"); err != nil {
		t.Fatal(err)
	}
	if left := keys(); len(left) != len(keep) {
		t.Fatalf("after delete the bucket holds %v, want exactly %v", left, keep)
	}
}

func contains(list []string, s string) bool {
	for _, v := range list {
		if v == s {
			return true
		}
	}
	return false
}
