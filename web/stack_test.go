package web_test

import (
	"context"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/lakeport/lakeport/api"
	sqlcatalog "github.com/lakeport/lakeport/catalog/sql"
	"github.com/lakeport/lakeport/config"
	"github.com/lakeport/lakeport/connector"
	"github.com/lakeport/lakeport/jobs"
	"github.com/lakeport/lakeport/netguard"
	"github.com/lakeport/lakeport/query/duckdb"
	"github.com/lakeport/lakeport/s3test"
	"github.com/lakeport/lakeport/secrets"
	"github.com/lakeport/lakeport/storage"
	"github.com/lakeport/lakeport/store"
	"github.com/lakeport/lakeport/store/sqlite"
	"github.com/lakeport/lakeport/tenant"
	"github.com/lakeport/lakeport/web"
)

func TestMain(m *testing.M) { os.Exit(s3test.Main(m)) }

// stack is a whole lakeport server in process: metadata store, secrets, connectors, job
// queue, query engine, the API under /api/v1 and the console at /, as `lakeport serve`
// wires them.
type stack struct {
	URL        string
	Store      *sqlite.Store
	AdminToken string // the bootstrap admin of org "default"
	Org        store.Org
	clock      *clock
}

// clock is a movable time source for session expiry.
type clock struct{ off time.Duration }

func (c *clock) now() time.Time          { return time.Now().Add(c.off) }
func (c *clock) advance(d time.Duration) { c.off += d }

func startStack(t *testing.T) *stack {
	t.Helper()
	ctx, cancel := context.WithCancel(context.Background())
	dir := t.TempDir()
	log := slog.New(slog.NewTextHandler(io.Discard, nil))
	if testing.Verbose() && os.Getenv("LAKEPORT_TEST_LOG") != "" {
		log = slog.New(slog.NewTextHandler(os.Stderr, nil))
	}
	st, err := sqlite.Open(ctx, filepath.Join(dir, "lakeport.db"))
	if err != nil {
		t.Fatal(err)
	}
	key, err := secrets.LoadOrCreateKey("", filepath.Join(dir, "secret.key"))
	if err != nil {
		t.Fatal(err)
	}
	box, err := secrets.NewBox(key)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := tenant.Bootstrap(ctx, st, dir); err != nil {
		t.Fatal(err)
	}
	raw, err := os.ReadFile(filepath.Join(dir, tenant.TokenFile))
	if err != nil {
		t.Fatal(err)
	}
	org, err := st.OrgByName(ctx, tenant.DefaultOrg)
	if err != nil {
		t.Fatal(err)
	}
	// versitygw listens on loopback: allow it as an operator with private networks would.
	cfg := config.Config{STSRegion: "us-east-1", AllowPrivateNetworks: true,
		Platform: config.Platform{AccountID: "111122223333", WorkerPrincipalARN: "arn:aws:iam::111122223333:role/lakeport-sync-worker"}}
	cat, err := sqlcatalog.New(st.DB(), "sqlite")
	if err != nil {
		t.Fatal(err)
	}
	locs := &storage.Resolver{Store: st, Secrets: box, DataDir: dir, Identity: storage.Identity{STSRegion: cfg.STSRegion, Guard: netguard.New(cfg.AllowPrivateNetworks)}}
	svc := &connector.Service{Store: st, Secrets: box, Storage: locs, Catalog: cat, Logger: log}
	queue, err := jobs.Open(ctx, st.DB(), svc.RunSync, jobs.Config{Logger: log})
	if err != nil {
		t.Fatal(err)
	}
	svc.Enqueue = queue.EnqueueSync
	if err := queue.Start(ctx); err != nil {
		t.Fatal(err)
	}
	// The embedded engine in process (serve runs it in query worker processes).
	engine, err := duckdb.New(duckdb.Config{TempDir: t.TempDir()})
	if err != nil {
		t.Fatal(err)
	}
	srv := &api.Server{Store: st, Secrets: box, Platform: cfg.Platform, Logger: log, Connectors: svc, Engine: engine,
		Storage: locs, StepTimeout: 5 * time.Second}
	apiHandler := srv.Handler()
	clk := &clock{}
	console := web.New(web.Config{API: apiHandler, Store: st, Users: st, Secrets: box, Logger: log, Now: clk.now, SyncPoll: 100 * time.Millisecond})

	mux := http.NewServeMux()
	mux.Handle("/api/", apiHandler)
	mux.Handle("/", console)
	hs := httptest.NewServer(mux)
	t.Cleanup(func() {
		hs.CloseClientConnections()
		hs.Close()
		cancel()
		stopCtx, stop := context.WithTimeout(context.Background(), 30*time.Second)
		defer stop()
		_ = queue.Stop(stopCtx)
		st.Close()
	})
	return &stack{URL: hs.URL, Store: st, AdminToken: strings.TrimSpace(string(raw)), Org: org, clock: clk}
}
