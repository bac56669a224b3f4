package main

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"io"
	"log/slog"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/lakeport/lakeport/config"
	"github.com/lakeport/lakeport/query/worker"
	"github.com/lakeport/lakeport/s3test"
	"github.com/lakeport/lakeport/storage/policy"
)

func TestMain(m *testing.M) {
	// The test binary doubles as a `lakeport worker` process for the scale-out tests,
	// and as `lakeport query-worker` for the servers the tests start (their query
	// workers run os.Executable() query-worker).
	if db := os.Getenv(workerChildEnv); db != "" {
		os.Exit(workerChild(db))
	}
	if dir := os.Getenv(serveChildEnv); dir != "" {
		os.Exit(serveChild(dir))
	}
	if len(os.Args) == 2 && os.Args[1] == "query-worker" {
		if err := worker.Serve(); err != nil {
			os.Stderr.WriteString(err.Error() + "\n")
			os.Exit(1)
		}
		os.Exit(0)
	}
	os.Exit(s3test.Main(m))
}

// startServer runs `lakeport serve` in process on a free port and returns its URL and
// data dir (startServerConfig's tune may move the data dir).
func startServer(t *testing.T) (string, string) { return startServerWith(t, false) }

func startServerWith(t *testing.T, sample bool) (string, string) {
	return startServerConfig(t, func(c *config.Config) { c.Sample = sample })
}

func startServerConfig(t testing.TB, tune func(*config.Config)) (string, string) {
	t.Helper()
	dir := t.TempDir()
	// The S3 test server listens on loopback: tests reach it as an operator who allows
	// private networks would (the hostile-tenant tests turn this off).
	cfg := config.Config{DataDir: dir, Addr: "127.0.0.1:0", StepTimeout: 5 * time.Second, STSRegion: "us-east-1", QueryEngine: "duckdb",
		Platform:             config.Platform{AccountID: "111122223333", WorkerPrincipalARN: "arn:aws:iam::111122223333:role/lakeport-sync-worker"},
		AllowPrivateNetworks: true}
	tune(&cfg)
	ctx, cancel := context.WithCancel(context.Background())
	ready := make(chan string, 1)
	done := make(chan error, 1)
	go func() { done <- serve(ctx, cfg, slog.New(slog.NewTextHandler(io.Discard, nil)), ready) }()
	select {
	case addr := <-ready:
		t.Cleanup(func() {
			cancel()
			if err := <-done; err != nil {
				t.Errorf("serve: %v", err)
			}
		})
		return "http://" + addr, cfg.DataDir
	case err := <-done:
		cancel()
		t.Fatalf("serve: %v", err)
	}
	return "", ""
}

// run runs one CLI command and returns its stdout and exit code.
func run(t *testing.T, url, dataDir string, args ...string) (string, int) {
	t.Helper()
	var out, errb bytes.Buffer
	root := newRoot(&out, &errb)
	root.SetArgs(append([]string{"--url", url, "--data-dir", dataDir}, args...))
	err := root.Execute()
	var ee exitError
	switch {
	case err == nil:
		return out.String(), 0
	case errors.As(err, &ee):
		return out.String(), ee.code
	default:
		return out.String() + errb.String() + err.Error(), 1
	}
}

func TestStorageCommandsAgainstRealS3(t *testing.T) {
	url, dir := startServer(t)
	if fi, err := os.Stat(filepath.Join(dir, "admin.token")); err != nil || fi.Mode().Perm() != 0o600 {
		t.Fatalf("admin.token after first start: %v", err)
	}
	srv := s3test.Shared(t)
	ak, sk := s3test.RandomKey("cli"), s3test.RandomKey("secret")
	srv.CreateUser(t, ak, sk)
	bucket := srv.NewBucket(t, "cli")
	srv.ChangeBucketOwner(t, bucket, ak)
	flags := []string{"--bucket", bucket, "--region", srv.Region, "--endpoint", srv.Endpoint, "--access-key-id", ak, "--secret-access-key", sk}

	out, code := run(t, url, dir, append([]string{"storage", "test"}, flags...)...)
	if code != 0 || !strings.Contains(out, "Test connection passed") {
		t.Fatalf("storage test (good bucket): exit %d\n%s", code, out)
	}
	for _, step := range []string{"check_inputs", "head_bucket", "put_object", "get_object", "list_objects", "delete_object"} {
		if !strings.Contains(out, step) {
			t.Errorf("storage test output lacks step %s:\n%s", step, out)
		}
	}
	if srv.ObjectExists(t, bucket, ".lakeport/validation.txt") {
		t.Fatal("the validation object is left in the bucket")
	}

	// --json gives the documented report shape.
	out, code = run(t, url, dir, append([]string{"storage", "test", "--json"}, flags...)...)
	var report struct {
		OK    bool `json:"ok"`
		Steps []struct {
			Name, Status string
			DurationMS   *int64 `json:"duration_ms"`
		} `json:"steps"`
	}
	if err := json.Unmarshal([]byte(out), &report); err != nil || code != 0 || !report.OK || len(report.Steps) < 6 || report.Steps[0].DurationMS == nil {
		t.Fatalf("storage test --json: exit %d, %v\n%s", code, err, out)
	}

	// A missing bucket fails with exit 1 and names the cause; save refuses it.
	bad := append([]string{}, flags...)
	bad[1] = "no-such-bucket-here"
	out, code = run(t, url, dir, append([]string{"storage", "test"}, bad...)...)
	if code != 1 || !strings.Contains(strings.ToLower(out), "bucket") || !strings.Contains(out, "FAIL") {
		t.Fatalf("storage test (missing bucket): exit %d\n%s", code, out)
	}
	out, code = run(t, url, dir, append([]string{"storage", "save"}, bad...)...)
	if code != 1 || !strings.Contains(out, "not saved") {
		t.Fatalf("storage save (missing bucket): exit %d\n%s", code, out)
	}
	out, _ = run(t, url, dir, "storage", "show", "--json")
	if !strings.Contains(out, `"mode": "managed"`) {
		t.Fatalf("a failing save changed the setting:\n%s", out)
	}

	out, code = run(t, url, dir, append([]string{"storage", "save"}, flags...)...)
	if code != 0 || !strings.Contains(out, "saved") {
		t.Fatalf("storage save: exit %d\n%s", code, out)
	}
	out, code = run(t, url, dir, "storage", "show")
	if code != 0 || !strings.Contains(out, bucket) || !strings.Contains(out, "last validated") || strings.Contains(out, sk) {
		t.Fatalf("storage show after save: exit %d\n%s", code, out)
	}

	out, code = run(t, url, dir, "storage", "policy", "--json", "--kms-key-arn", "arn:aws:kms:us-east-1:123456789012:key/1234abcd-12ab-34cd-56ef-1234567890ab", "--bucket", bucket)
	var docs struct {
		PermissionPolicy policy.Document `json:"permission_policy"`
		TrustPolicy      policy.Document `json:"trust_policy"`
	}
	if err := json.Unmarshal([]byte(out), &docs); err != nil || code != 0 {
		t.Fatalf("storage policy --json: exit %d, %v\n%s", code, err, out)
	}
	if len(docs.PermissionPolicy.Statement) != 2 || docs.TrustPolicy.Statement[0].Condition["StringEquals"]["sts:ExternalId"] == "" {
		t.Fatalf("policy documents incomplete: %+v", docs)
	}

	out, code = run(t, url, dir, "org", "create", "acme", "--json")
	var created struct {
		AdminToken string `json:"admin_token"`
	}
	if json.Unmarshal([]byte(out), &created); code != 0 || !strings.HasPrefix(created.AdminToken, "lpt_") {
		t.Fatalf("org create: exit %d\n%s", code, out)
	}
	out, code = run(t, url, dir, "--token", created.AdminToken, "token", "create", "--role", "member")
	if code != 0 || !strings.Contains(out, "lpt_") {
		t.Fatalf("token create: exit %d\n%s", code, out)
	}
	out, code = run(t, url, dir, "--token", created.AdminToken, "storage", "show")
	if code != 0 || strings.Contains(out, bucket) {
		t.Fatalf("org acme sees default's bucket: exit %d\n%s", code, out)
	}
}
