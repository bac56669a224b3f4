package main

// A hostile tenant against the query path, end to end: a real server, a real
// S3 bucket (versitygw) the tenant controls, real Iceberg metadata rewritten
// with iceberg-go.

import (
	"bytes"
	"context"
	"encoding/json"
	"io"
	"net/http"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/apache/iceberg-go/table"
	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/s3"

	icebergio "github.com/apache/iceberg-go/io"

	"github.com/lakeport/lakeport/config"
	"github.com/lakeport/lakeport/lake"
	"github.com/lakeport/lakeport/lake/laketest"
	"github.com/lakeport/lakeport/s3test"
)

// orgUser is an organization of a test server, acting through the CLI.
type orgUser struct {
	t              *testing.T
	url, dir       string
	token          string
	bucket         string // customer-hosted: its bucket
	s3             *s3.Client
	accessKey, key string
	endpoint       string
}

func (tn *orgUser) run(args ...string) (string, int) {
	tn.t.Helper()
	if tn.token != "" {
		args = append([]string{"--token", tn.token}, args...)
	}
	return run(tn.t, tn.url, tn.dir, args...)
}

func (tn *orgUser) must(args ...string) string {
	tn.t.Helper()
	out, code := tn.run(args...)
	if code != 0 {
		tn.t.Fatalf("lakeport %s: exit %d\n%s", strings.Join(args, " "), code, out)
	}
	return out
}

// newCustomerHosted creates organization name with its own bucket on the shared
// versitygw, saved as its storage.
func newCustomerHosted(t *testing.T, url, dir, name string) *orgUser {
	t.Helper()
	out, code := run(t, url, dir, "org", "create", name, "--json")
	var created struct {
		AdminToken string `json:"admin_token"`
	}
	if json.Unmarshal([]byte(out), &created); code != 0 || created.AdminToken == "" {
		t.Fatalf("org create %s: exit %d\n%s", name, code, out)
	}
	srv := s3test.Shared(t)
	ak, sk := s3test.RandomKey(name), s3test.RandomKey("secret")
	srv.CreateUser(t, ak, sk)
	bucket := srv.NewBucket(t, name)
	srv.ChangeBucketOwner(t, bucket, ak)
	tn := &orgUser{t: t, url: url, dir: dir, token: created.AdminToken, bucket: bucket, s3: srv.ClientFor(ak, sk),
		accessKey: ak, key: sk, endpoint: srv.Endpoint}
	tn.must("storage", "save", "--bucket", bucket, "--region", srv.Region, "--endpoint", srv.Endpoint, "--access-key-id", ak, "--secret-access-key", sk)
	return tn
}

// syncSample creates connector name on the sample source (small) and syncs it.
func (tn *orgUser) syncSample(name string) {
	tn.t.Helper()
	cfg := filepath.Join(tn.t.TempDir(), "sample.json")
	os.WriteFile(cfg, []byte(`{"seed": 3, "customers": 50, "invoices": 100, "events": 200}`), 0o600)
	tn.must("connector", "create", name, "--source", "sample", "--config", cfg)
	if out := tn.must("connector", "sync", name); !strings.Contains(out, "succeeded") {
		tn.t.Fatalf("sync %s:\n%s", name, out)
	}
}

// dataFile is a Parquet data file of the local table ns.name in the data dir.
func dataFile(t *testing.T, dir, ns, name string) string {
	t.Helper()
	var found string
	filepath.Walk(filepath.Join(dir, "warehouse"), func(p string, fi os.FileInfo, err error) error {
		if err == nil && strings.Contains(p, "/"+ns+"/"+name+"/data/") && strings.HasSuffix(p, ".parquet") {
			found = p
		}
		return nil
	})
	if found == "" {
		t.Fatalf("the local table %s.%s has no data file", ns, name)
	}
	return found
}

// table opens the tenant's Iceberg table as the tenant can: straight from its
// bucket, with its own keys, at the newest metadata file.
func (tn *orgUser) table(ctx context.Context, ns, name string) *table.Table {
	tn.t.Helper()
	prefix := ns + "/" + name + "/metadata/"
	list, err := tn.s3.ListObjectsV2(ctx, &s3.ListObjectsV2Input{Bucket: aws.String(tn.bucket), Prefix: aws.String(prefix)})
	if err != nil {
		tn.t.Fatal(err)
	}
	var metas []string
	for _, o := range list.Contents {
		if k := aws.ToString(o.Key); strings.HasSuffix(k, ".metadata.json") {
			metas = append(metas, k)
		}
	}
	if len(metas) == 0 {
		tn.t.Fatalf("no metadata under s3://%s/%s", tn.bucket, prefix)
	}
	slices.Sort(metas)
	loc := "s3://" + tn.bucket + "/" + metas[len(metas)-1]
	props := map[string]string{lake.PropS3Endpoint: tn.endpoint, lake.PropS3AccessKeyID: tn.accessKey, lake.PropS3SecretAccessKey: tn.key,
		lake.PropS3Region: "us-east-1", lake.PropS3ForceVirtualAddressing: "false"}
	tbl, err := table.NewFromLocation(ctx, table.Identifier{ns, name}, loc, icebergio.LoadFSFunc(props, loc), nil)
	if err != nil {
		tn.t.Fatal(err)
	}
	return tbl
}

// rewriteManifest makes the first manifest of ns.name's current snapshot name
// target for every data file, as the bucket's owner can.
func (tn *orgUser) rewriteManifest(ctx context.Context, ns, name, target string) {
	tn.t.Helper()
	path, content, err := laketest.RewriteManifest(ctx, tn.table(ctx, ns, name), func(string) string { return target })
	if err != nil {
		tn.t.Fatal(err)
	}
	key := strings.TrimPrefix(path, "s3://"+tn.bucket+"/")
	if _, err := tn.s3.PutObject(ctx, &s3.PutObjectInput{Bucket: aws.String(tn.bucket), Key: aws.String(key), Body: bytes.NewReader(content)}); err != nil {
		tn.t.Fatal(err)
	}
}

// queryResult runs SQL through the CLI as JSON.
func (tn *orgUser) query(sql string) (rows [][]any, out string, code int) {
	tn.t.Helper()
	out, code = tn.run("query", sql, "--json")
	var res struct {
		Rows [][]any `json:"rows"`
	}
	json.Unmarshal([]byte(out), &res)
	return res.Rows, out, code
}

// A customer-hosted organization rewrites a manifest in its bucket so that a
// data file names another organization's local Parquet file, then a FIFO on
// the server: the query and the sync are refused with a clear error, the
// other organization's rows never show, and the FIFO does not hang anything.
func TestHostileManifestNamesAnotherOrgsFile(t *testing.T) {
	ctx := t.Context()
	url, dir := startServer(t)
	victim := &orgUser{t: t, url: url, dir: dir}
	victim.syncSample("billing")
	victimFile := dataFile(t, dir, "billing", "customers")

	acme := newCustomerHosted(t, url, dir, "acme")
	acme.syncSample("crm")
	// acme's tables answer. (Not customers: a query worker keeps the database of
	// its last query for the next one over the same snapshots, so a query over
	// customers now would let the attack queries below be answered from the
	// copies made before the attack, checked then, instead of reading the
	// rewritten manifest.)
	rows, out, code := acme.query("SELECT count(*) FROM crm.events")
	if code != 0 || len(rows) != 1 || rows[0][0] != float64(200) {
		t.Fatalf("acme's own count before the attack: exit %d\n%s", code, out)
	}

	fifo := filepath.Join(dir, "warehouse", "trap.parquet")
	if err := syscall.Mkfifo(fifo, 0o600); err != nil {
		t.Fatal(err)
	}
	for _, target := range []string{victimFile, "file://" + victimFile, "file://" + fifo, fifo} {
		acme.rewriteManifest(ctx, "crm", "customers", target)
		done := make(chan struct{})
		go func() {
			defer close(done)
			rows, out, code := acme.query("SELECT count(*), max(name) FROM crm.customers")
			if code == 0 {
				t.Errorf("query over a manifest naming %s answered %v\n%s", target, rows, out)
			}
			if !strings.Contains(out, "outside the table") {
				t.Errorf("query over a manifest naming %s: the error does not say why:\n%s", target, out)
			}
			if strings.Contains(out, dir) {
				t.Errorf("the error shows the server's data dir:\n%s", out)
			}
		}()
		select {
		case <-done:
		case <-time.After(60 * time.Second):
			t.Fatalf("the query over a manifest naming %s hangs", target)
		}
		// The sync that merges customers reads the same manifest: it fails too.
		out, code := acme.run("connector", "sync", "crm")
		if code == 0 || !strings.Contains(out, "outside the table") {
			t.Errorf("sync over a manifest naming %s: exit %d\n%s", target, code, out)
		}
	}
	// The engine is not held: a plain query answers.
	if rows, out, code := acme.query("SELECT 42"); code != 0 || len(rows) != 1 || rows[0][0] != float64(42) {
		t.Fatalf("SELECT 42 after the attack: exit %d\n%s", code, out)
	}
}

// postQuery sends a query over the API with token and returns the status and body.
func postQuery(ctx context.Context, url, token string, body map[string]any) (int, string, error) {
	b, _ := json.Marshal(body)
	req, _ := http.NewRequestWithContext(ctx, "POST", url+"/api/v1/query", bytes.NewReader(b))
	req.Header.Set("Authorization", "Bearer "+token)
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		return 0, "", err
	}
	defer resp.Body.Close()
	out, err := io.ReadAll(resp.Body)
	return resp.StatusCode, string(out), err
}

func newOrgToken(t *testing.T, url, dir, name string) string {
	t.Helper()
	out, code := run(t, url, dir, "org", "create", name, "--json")
	var created struct {
		AdminToken string `json:"admin_token"`
	}
	if json.Unmarshal([]byte(out), &created); code != 0 || created.AdminToken == "" {
		t.Fatalf("org create %s: exit %d\n%s", name, code, out)
	}
	return created.AdminToken
}

// forever is a query that runs until it is stopped.
const forever = "SELECT count(*) FROM range(100000000000000) t(i) WHERE i % 7 = 3"

// One organization's four slow queries, each at the operator's time limit,
// leave another organization's query answering at once.
func TestHostileSlowQueriesLeaveOthersAnswering(t *testing.T) {
	url, dir := startServer(t)
	hog := adminToken(t, dir)
	other := newOrgToken(t, url, dir, "patient")
	ctx, stopHog := context.WithCancel(t.Context())
	defer stopHog()
	var hogDone sync.WaitGroup
	var mu sync.Mutex
	finished := 0
	for range 4 {
		hogDone.Add(1)
		go func() {
			defer hogDone.Done()
			postQuery(ctx, url, hog, map[string]any{"sql": forever, "timeout_ms": 60_000})
			mu.Lock()
			finished++
			mu.Unlock()
		}()
	}
	time.Sleep(time.Second) // the hog's queries take their slots first
	status, body, err := postQuery(t.Context(), url, other, map[string]any{"sql": "SELECT 42 AS answer", "timeout_ms": 30_000})
	mu.Lock()
	hogFinished := finished
	mu.Unlock()
	if err != nil || status != 200 || !strings.Contains(body, "42") {
		t.Fatalf("the other organization's query: %d %v\n%s", status, err, body)
	}
	if hogFinished > 0 {
		t.Fatalf("%d of the hog's queries had ended before the other organization's query answered: it waited for them", hogFinished)
	}
	// The hog's own third and fourth queries wait for its share; they end
	// when their caller goes away, and the slots come back.
	stopHog()
	hogDone.Wait()
	if status, body, _ := postQuery(t.Context(), url, hog, map[string]any{"sql": "SELECT 1", "timeout_ms": 30_000}); status != 200 {
		t.Fatalf("after the hog's callers left, its next query: %d\n%s", status, body)
	}
}

// The operator's time limit caps what a request asks for.
func TestHostileTimeoutIsCapped(t *testing.T) {
	url, dir := startServerConfig(t, func(c *config.Config) {
		c.QueryProps = map[string]string{"max_timeout": "2s"}
	})
	done := make(chan struct{})
	var status int
	var body string
	go func() {
		defer close(done)
		status, body, _ = postQuery(t.Context(), url, adminToken(t, dir), map[string]any{"sql": forever, "timeout_ms": 3_600_000})
	}()
	select {
	case <-done:
	case <-time.After(60 * time.Second):
		t.Fatal("a query asking for an hour ran past the operator's 2s limit")
	}
	if status != http.StatusRequestTimeout || !strings.Contains(body, `"timeout"`) {
		t.Fatalf("a query past the operator's limit: %d\n%s", status, body)
	}
}

// peakRSS is this process's peak resident memory in MiB.
func peakRSS(t *testing.T) int64 {
	t.Helper()
	raw, err := os.ReadFile("/proc/self/status")
	if err != nil {
		t.Fatal(err)
	}
	for _, line := range strings.Split(string(raw), "\n") {
		if v, ok := strings.CutPrefix(line, "VmHWM:"); ok {
			kb, _ := strconv.ParseInt(strings.TrimSpace(strings.TrimSuffix(strings.TrimSpace(v), "kB")), 10, 64)
			return kb >> 10
		}
	}
	t.Fatal("no VmHWM")
	return 0
}

// A memory bomb and a 20,000-branch UNION ALL end with a clear error while
// another organization's queries keep answering, and the server (this test
// process) stays small: the queries' memory is their workers'.
func TestHostileBombsEndWithAClearError(t *testing.T) {
	url, dir := startServerConfig(t, func(c *config.Config) {
		c.QueryProps = map[string]string{"memory_limit": "256MB", "max_timeout": "20s"}
	})
	bomber := adminToken(t, dir)
	other := newOrgToken(t, url, dir, "bystander")
	var union strings.Builder
	union.WriteString("SELECT 1 AS x")
	for range 20_000 {
		union.WriteString(" UNION ALL SELECT 1")
	}
	for _, bomb := range []string{"SELECT len(range(100000000))", union.String()} {
		stop := make(chan struct{})
		answered := make(chan int, 1)
		go func() {
			n := 0
			defer func() { answered <- n }()
			for {
				select {
				case <-stop:
					return
				default:
				}
				status, body, err := postQuery(t.Context(), url, other, map[string]any{"sql": "SELECT 42", "timeout_ms": 15_000})
				if err != nil || status != 200 || !strings.Contains(body, "42") {
					t.Errorf("the bystander's query beside a bomb: %d %v\n%s", status, err, body)
					return
				}
				n++
			}
		}()
		status, body, err := postQuery(t.Context(), url, bomber, map[string]any{"sql": bomb, "timeout_ms": 20_000})
		close(stop)
		if n := <-answered; n == 0 {
			t.Errorf("no bystander query answered while %.40s… ran", bomb)
		}
		if err != nil || status < 400 || status >= 500 {
			t.Fatalf("bomb %.40s…: %d %v\n%.2000s", bomb, status, err, body)
		}
		if !strings.Contains(body, "memory") && !strings.Contains(body, "time limit") {
			t.Errorf("bomb %.40s…: the error does not say which limit it hit:\n%.2000s", bomb, body)
		}
	}
	if rss := peakRSS(t); rss > 2048 {
		t.Fatalf("the server's peak RSS reached %d MiB", rss)
	}
}

// No query answer shows where the server keeps its files: not settings, not
// view definitions, not the names of files in errors.
func TestHostileQueriesShowNoServerPaths(t *testing.T) {
	workers := filepath.Join(t.TempDir(), "query-workers") // the workers' folders, apart from the data dir
	if err := os.Mkdir(workers, 0o700); err != nil {
		t.Fatal(err)
	}
	url, dir := startServerConfig(t, func(c *config.Config) { c.QueryProps = map[string]string{"temp_dir": workers} })
	admin := &orgUser{t: t, url: url, dir: dir}
	admin.syncSample("crm")
	abs, _ := filepath.Abs(dir)
	shows := func(sql string) {
		t.Helper()
		for _, format := range []string{"json", "csv"} {
			out, _ := admin.run("query", sql, "--format", format)
			if strings.Contains(out, abs) || strings.Contains(out, "/warehouse/") || strings.Contains(out, workers) || strings.Contains(out, "lakeport-query-") {
				t.Errorf("%s (%s) shows a folder of the server (data dir %s, query workers' %s):\n%s", sql, format, abs, workers, out)
			}
		}
	}
	for _, sql := range []string{
		"SELECT * FROM duckdb_settings()",
		"SELECT name, value FROM duckdb_settings() WHERE value LIKE '%/%'",
		"SELECT current_setting('temp_directory'), current_setting('allowed_paths')",
		"SELECT sql FROM duckdb_views()",
		"SELECT * FROM duckdb_temporary_files()",
		"SELECT * FROM duckdb_extensions()",
		"SELECT * FROM duckdb_databases()",
		"SELECT * FROM information_schema.views",
		"SELECT * FROM read_parquet('/etc/passwd')",
		"SELECT * FROM read_parquet('/dev/fd/3')",
		"SELECT * FROM glob('*')",
		"SELECT count(*) FROM crm.customers c JOIN crm.events e ON c.id = e.customer_id",
		"SELECT sql FROM duckdb_views() WHERE schema_name = 'crm'",
		"DESCRIBE crm.customers",
		"EXPLAIN SELECT * FROM crm.customers",
		"SELECT * FROM crm.nothing",
	} {
		shows(sql)
	}
	// A data file lakeport lost: reading the table fails, and says which
	// table, not where its files are.
	if err := os.Remove(dataFile(t, dir, "crm", "events")); err != nil {
		t.Fatal(err)
	}
	shows("SELECT count(*) FROM crm.events")
	out, code := admin.run("query", "SELECT count(*) FROM crm.events")
	if code == 0 || !strings.Contains(out, "crm.events") {
		t.Errorf("a table with a lost data file: exit %d, and the error should name the table:\n%s", code, out)
	}
}

// stallingWriter is a slow pipe: its first write takes a while.
type stallingWriter struct {
	buf   bytes.Buffer
	stall time.Duration
	once  sync.Once
}

func (w *stallingWriter) Write(p []byte) (int, error) {
	w.once.Do(func() { time.Sleep(w.stall) })
	return w.buf.Write(p)
}

func (w *stallingWriter) String() string { return w.buf.String() }

// A CSV export whose query fails after rows were sent (here: its reader is so
// slow that the query's time limit passes mid-stream) ends with an HTTP trailer
// saying so, and the CLI exits non-zero, so a truncated export never looks
// complete.
func TestCSVQueryFailingMidStream(t *testing.T) {
	// The first rows must come within the time limit: the race detector slows
	// the worker processes (this test binary) several times over.
	limit := 3 * time.Second
	if raceEnabled {
		limit = 10 * time.Second
	}
	url, dir := startServerConfig(t, func(c *config.Config) { c.QueryProps = map[string]string{"max_timeout": limit.String()} })
	sql := "SELECT i, repeat('x', 100) AS pad FROM range(300000) t(i)"
	for range 2 { // the query workers started and their databases opened
		if status, body, err := postQuery(t.Context(), url, adminToken(t, dir), map[string]any{"sql": "SELECT 1"}); status != 200 {
			t.Logf("warm-up SELECT 1: %d %v\n%s", status, err, body)
		}
	}

	out := &stallingWriter{stall: 2 * limit}
	var errb bytes.Buffer
	root := newRoot(out, &errb)
	root.SetArgs([]string{"--url", url, "--data-dir", dir, "query", sql, "--format", "csv", "--max-rows", "300000"})
	err := root.Execute()
	lines := strings.Count(out.String(), "\n")
	if err == nil {
		t.Fatalf("a CSV export cut by its time limit after %d of 300001 lines succeeded", lines)
	}
	if lines < 2 || lines >= 300001 || !strings.Contains(err.Error(), "incomplete") || !strings.Contains(err.Error(), "time limit") {
		t.Fatalf("after %d lines: %v; want some rows, then an error that says the output is incomplete and why", lines, err)
	}

	// The trailer itself, over plain HTTP, read slowly.
	req, _ := http.NewRequestWithContext(t.Context(), "POST", url+"/api/v1/query",
		strings.NewReader(`{"sql": "`+sql+`", "format": "csv", "max_rows": 300000}`))
	req.Header.Set("Authorization", "Bearer "+adminToken(t, dir))
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	io.CopyN(io.Discard, resp.Body, 64<<10)
	time.Sleep(2 * limit)
	io.Copy(io.Discard, resp.Body)
	if resp.StatusCode != 200 || resp.Trailer.Get("Lakeport-Error-Code") != "timeout" || resp.Trailer.Get("Lakeport-Error-Message") == "" {
		t.Fatalf("status %d, trailer %v", resp.StatusCode, resp.Trailer)
	}
	// A complete export has no error trailer and exits 0.
	if out, code := run(t, url, dir, "query", "SELECT * FROM range(3000) t(i)", "--format", "csv"); code != 0 || strings.Count(out, "\n") != 3001 {
		t.Fatalf("a complete export: exit %d, %d lines", code, strings.Count(out, "\n"))
	}
}

// When the query engine itself cannot run a query (its workers cannot start:
// here their folder went away), the client gets 503 engine_unavailable with a
// message saying so, never a bare 500 or the server's folders.
func TestQueryEngineUnavailableIsClear(t *testing.T) {
	workers := filepath.Join(t.TempDir(), "workers")
	if err := os.Mkdir(workers, 0o700); err != nil {
		t.Fatal(err)
	}
	url, dir := startServerConfig(t, func(c *config.Config) {
		c.QueryProps = map[string]string{"temp_dir": workers, "ready_processes": "1", "process_max_queries": "1"}
	})
	token := adminToken(t, dir)
	if status, body, err := postQuery(t.Context(), url, token, map[string]any{"sql": "SELECT 1"}); status != 200 {
		t.Fatalf("SELECT 1: %d %v\n%s", status, err, body)
	}
	if err := os.RemoveAll(workers); err != nil {
		t.Fatal(err)
	}
	// The worker started ahead (if any) answers once more; then none can start.
	var status int
	var body string
	for range 3 {
		status, body, _ = postQuery(t.Context(), url, token, map[string]any{"sql": "SELECT 1"})
		if status != 200 {
			break
		}
	}
	if status != http.StatusServiceUnavailable || !strings.Contains(body, `"engine_unavailable"`) || !strings.Contains(body, "server log") {
		t.Fatalf("a query no worker can run: %d\n%s", status, body)
	}
	if strings.Contains(body, workers) || strings.Contains(body, dir) {
		t.Fatalf("the answer shows the server's folders:\n%s", body)
	}
}
