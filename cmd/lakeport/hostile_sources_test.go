package main

// Hostile-tenant tests of the sources boundary (issue 9): who may run programs,
// what a program is given, which names reach the warehouse, where an
// organization's endpoint may point, and how many connectors and schedules an
// organization gets. Each runs a real lakeport server in process, against
// versitygw where a bucket is involved.

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io/fs"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/s3"

	"github.com/lakeport/lakeport/api"
	"github.com/lakeport/lakeport/client"
	"github.com/lakeport/lakeport/config"
	"github.com/lakeport/lakeport/connector"
	"github.com/lakeport/lakeport/names"
	"github.com/lakeport/lakeport/s3test"
	"github.com/lakeport/lakeport/source/sourcetest"
	"github.com/lakeport/lakeport/storage"
	"github.com/lakeport/lakeport/store"
	"github.com/lakeport/lakeport/validation"
)

// testSource is the protocol test program, alone in its folder (see package sourcetest).
func testSource(t *testing.T) string { return sourcetest.Program(t) }

// hostileEnv is a server and two organizations' clients: "default" (the
// operator's) and acme, with an admin and a member.
type hostileEnv struct {
	url, dir              string
	operator, admin, user *client.Client
}

func newHostileEnv(t *testing.T, tune func(*config.Config)) *hostileEnv {
	t.Helper()
	url, dir := startServerConfig(t, tune)
	tok, err := os.ReadFile(filepath.Join(dir, "admin.token"))
	if err != nil {
		t.Fatal(err)
	}
	e := &hostileEnv{url: url, dir: dir, operator: client.New(url, strings.TrimSpace(string(tok)))}
	ctx := context.Background()
	org, err := e.operator.CreateOrg(ctx, "acme")
	if err != nil {
		t.Fatal(err)
	}
	e.admin = client.New(url, org.AdminToken)
	m, err := e.admin.CreateToken(ctx, store.RoleMember)
	if err != nil {
		t.Fatal(err)
	}
	e.user = client.New(url, m.Token)
	return e
}

// wantAPIError checks err is the API's answer with status and code.
func wantAPIError(t *testing.T, what string, err error, status int, code string) *client.Error {
	t.Helper()
	ce, ok := client.AsError(err)
	if !ok || ce.Status != status || ce.Body.Code != code {
		t.Errorf("%s: %v (%+v), want %d %s", what, err, ce, status, code)
		return &client.Error{}
	}
	return ce
}

// createAndSync creates connector name with the test program and the streams, syncs
// it once and wants the sync to succeed.
func createAndSync(t *testing.T, c *client.Client, name, prog string, streams ...string) {
	t.Helper()
	ctx := context.Background()
	if _, err := c.CreateConnector(ctx, connector.CreateRequest{Name: name, Source: "exec:" + prog, Config: streamsConfig(streams...)}); err != nil {
		t.Fatal(err)
	}
	run, err := c.StartSync(ctx, name)
	if err != nil {
		t.Fatal(err)
	}
	if run = waitRun(t, c, run.ID); run.Status != store.RunSucceeded {
		t.Fatalf("sync of %s: %+v", name, run)
	}
}

func streamsConfig(names ...string) json.RawMessage {
	var streams []map[string]any
	for _, n := range names {
		streams = append(streams, map[string]any{"name": n, "records": []map[string]any{{"id": 1}, {"id": 2}},
			"json_schema": map[string]any{"type": "object", "properties": map[string]any{"id": map[string]any{"type": "integer"}}}})
	}
	raw, _ := json.Marshal(map[string]any{"api_key": "k", "streams": streams, "state": true})
	return raw
}

// TestHostileMemberCannotRunPrograms: a member makes the server run nothing
// (no exec: or image: connector, no discover with a program, no change to a
// connector); an admin runs only what the operator listed, and the refusal
// names the setting. A member still lists, shows, queries and syncs.
func TestHostileMemberCannotRunPrograms(t *testing.T) {
	prog := testSource(t)
	e := newHostileEnv(t, func(c *config.Config) { c.Sources.Allow = []string{"exec:" + filepath.Dir(prog) + "/*"} })
	ctx := context.Background()

	for _, ref := range []string{"exec:/usr/bin/id", "exec:" + prog, "image:alpine:3"} {
		_, err := e.user.CreateConnector(ctx, connector.CreateRequest{Name: "x", Source: ref, Config: streamsConfig("users")})
		wantAPIError(t, "member create "+ref, err, 403, "admin_only")
	}
	var cat any
	err := doAPI(ctx, e.url, e.user, "POST", "/api/v1/sources/discover", api.DiscoverSourceRequest{Source: "exec:/usr/bin/id"}, &cat)
	wantAPIError(t, "member discover with a program", err, 403, "admin_only")

	for _, ref := range []string{"exec:/usr/bin/id", "exec:" + filepath.Dir(prog) + "/../../../../usr/bin/id", "exec:/bin/sh", "image:alpine:3"} {
		_, err := e.admin.CreateConnector(ctx, connector.CreateRequest{Name: "x", Source: ref, Config: streamsConfig("users")})
		ce := wantAPIError(t, "admin create "+ref, err, 403, "source_not_allowed")
		if !strings.Contains(ce.Body.Message, "sources.allow") {
			t.Errorf("the refusal of %s does not name the setting: %s", ref, ce.Body.Message)
		}
	}
	err = doAPI(ctx, e.url, e.admin, "POST", "/api/v1/sources/discover", api.DiscoverSourceRequest{Source: "exec:/usr/bin/id"}, &cat)
	wantAPIError(t, "admin discover with an unlisted program", err, 403, "source_not_allowed")

	if _, err := e.admin.CreateConnector(ctx, connector.CreateRequest{Name: "crm", Source: "exec:" + prog, Config: streamsConfig("users")}); err != nil {
		t.Fatalf("admin create with an allowed program: %v", err)
	}
	// A member works with the existing connector, and changes nothing.
	if list, err := e.user.Connectors(ctx); err != nil || len(list) != 1 {
		t.Fatalf("member list: %v %v", list, err)
	}
	if _, err := e.user.Connector(ctx, "crm"); err != nil {
		t.Fatalf("member show: %v", err)
	}
	started, err := e.user.StartSync(ctx, "crm")
	if err != nil {
		t.Fatalf("member sync: %v", err)
	}
	if r := waitRun(t, e.user, started.ID); r.Status != store.RunSucceeded {
		t.Fatalf("member's sync: %+v", r)
	}
	if res, err := e.user.Query(ctx, api.QueryRequest{SQL: "SELECT count(*) FROM crm.users"}); err != nil || fmt.Sprint(res.Rows) != "[[2]]" {
		t.Fatalf("member query: %v %v", res.Rows, err)
	}
	_, err = e.user.ScheduleConnector(ctx, "crm", "every 6h")
	wantAPIError(t, "member schedule", err, 403, "admin_only")
	_, err = e.user.SetupConnector(ctx, "crm")
	wantAPIError(t, "member setup", err, 403, "admin_only")
	_, err = e.user.Discover(ctx, "crm")
	wantAPIError(t, "member discover", err, 403, "admin_only")
	_, err = e.user.DeleteConnector(ctx, "crm")
	wantAPIError(t, "member delete", err, 403, "admin_only")

	out, code := run(t, e.url, e.dir, "--token", e.user.Token, "sources")
	if code != 0 || !strings.Contains(out, "exec:"+filepath.Dir(prog)+"/*") || strings.Contains(out, "exec:/path/to") {
		t.Errorf("lakeport sources does not show what this install allows: exit %d\n%s", code, out)
	}
	none := newHostileEnv(t, func(*config.Config) {})
	if out, _ := run(t, none.url, none.dir, "sources"); !strings.Contains(out, "sources.allow") {
		t.Errorf("lakeport sources on an install that allows no program:\n%s", out)
	}
}

// doAPI calls the API with c's token; an error answer is a *client.Error.
func doAPI(ctx context.Context, url string, c *client.Client, method, path string, in, out any) error {
	body, _ := json.Marshal(in)
	req, err := http.NewRequestWithContext(ctx, method, url+path, bytes.NewReader(body))
	if err != nil {
		return err
	}
	req.Header.Set("Authorization", "Bearer "+c.Token)
	req.Header.Set("Content-Type", "application/json")
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		return err
	}
	defer resp.Body.Close()
	if resp.StatusCode >= 300 {
		ce := &client.Error{Status: resp.StatusCode}
		json.NewDecoder(resp.Body).Decode(&ce.Body)
		return ce
	}
	return json.NewDecoder(resp.Body).Decode(out)
}

// TestHostileAllowedExecRunsScrubbed: an allowed program, synced by a member,
// reports (as records) what it was given: none of the server's environment,
// none of its files, not its descriptors.
func TestHostileAllowedExecRunsScrubbed(t *testing.T) {
	prog := testSource(t)
	t.Setenv("LAKEPORT_SECRET_KEY", "c2VjcmV0LWtleS1vZi10aGUtc2VydmVy")
	t.Setenv("AWS_SECRET_ACCESS_KEY", "wJalrXUtnFEMI/K7MDENG/bPxRfiCYEXAMPLEKEY")
	t.Setenv("LAKEPORT_DATABASE_URL", "postgres://lakeport:pw@db/lakeport")
	t.Setenv("DATABASE_URL", "postgres://lakeport:pw@db/lakeport")
	e := newHostileEnv(t, func(c *config.Config) {
		c.Sources.Allow = []string{"exec:" + prog}
		c.Sources.Env = []string{"OPERATOR_SETTING=on"}
	})
	ctx := context.Background()
	probePaths := []string{e.dir, filepath.Join(e.dir, "secret.key"), filepath.Join(e.dir, "lakeport.db"), filepath.Join(e.dir, "admin.token"),
		filepath.Join(e.dir, "warehouse")}
	cfg, _ := json.Marshal(map[string]any{"api_key": "k", "probe": probePaths, "streams": []map[string]any{{"name": "probe",
		"json_schema": map[string]any{"type": "object", "properties": map[string]any{"kind": map[string]any{"type": "string"},
			"name": map[string]any{"type": "string"}, "value": map[string]any{"type": "string"}, "readable": map[string]any{"type": "boolean"}}}}}})
	if _, err := e.admin.CreateConnector(ctx, connector.CreateRequest{Name: "spy", Source: "exec:" + prog, Config: cfg}); err != nil {
		t.Fatal(err)
	}
	run, err := e.user.StartSync(ctx, "spy")
	if err != nil {
		t.Fatal(err)
	}
	if run = waitRun(t, e.user, run.ID); run.Status != store.RunSucceeded {
		t.Fatalf("sync: %+v", run)
	}
	res, err := e.user.Query(ctx, api.QueryRequest{SQL: "SELECT kind, name, coalesce(value, ''), coalesce(readable, false) FROM spy.probe", MaxRows: 10000})
	if err != nil {
		t.Fatal(err)
	}
	var cwd string
	seen := map[string]bool{}
	for _, r := range res.Rows {
		kind, name, value, readable := fmt.Sprint(r[0]), fmt.Sprint(r[1]), fmt.Sprint(r[2]), r[3] == true
		seen[kind] = true
		switch {
		case kind == "env" && !contains([]string{"PATH", "LANG", "HOME", "TMPDIR", "OPERATOR_SETTING"}, name):
			t.Errorf("the program was given %s=%.40s", name, value)
		case kind == "env" && (strings.Contains(value, "postgres://") || strings.Contains(value, "EXAMPLEKEY")):
			t.Errorf("a server secret reached the program in %s", name)
		case kind == "cwd":
			cwd = name
		case kind == "fd" && strings.HasPrefix(value, e.dir):
			t.Errorf("descriptor %s of the server (%s) is open in the program", name, value)
		case kind == "file" && readable:
			t.Errorf("the program read %s", name)
		case kind == "parent_env" && readable:
			t.Errorf("the program read the server's environment from /proc")
		}
	}
	for _, k := range []string{"env", "cwd", "fd", "file", "parent_env", "limit"} {
		if !seen[k] {
			t.Errorf("the probe reported no %s", k)
		}
	}
	if cwd == "" || strings.HasPrefix(cwd, e.dir) {
		t.Errorf("the program's working directory is %q (data dir %s)", cwd, e.dir)
	}
	if _, err := os.Stat(cwd); !errors.Is(err, fs.ErrNotExist) {
		t.Errorf("the run's folder %s is left behind", cwd)
	}
}

// traversal are stream names a source sends to write outside its prefix.
var traversal = []string{
	"%2e%2e%2f%2e%2e%2forg_B%2fbilling%2fx",
	"%252e%252e%252fescaped",
	"../../../outside",
	"..",
	"\uff0e\uff0e\uff0fwide",
	"users",
}

// TestHostileTraversalNamesLocal: stream names that decode or normalize into
// "../" stay in the connector's folder of the managed warehouse, and a delete
// removes all of it.
func TestHostileTraversalNamesLocal(t *testing.T) {
	prog := testSource(t)
	e := newHostileEnv(t, func(c *config.Config) { c.Sources.Allow = []string{"exec:" + prog} })
	ctx := context.Background()
	outer := filepath.Dir(e.dir)
	before := listFiles(outer)
	createAndSync(t, e.admin, "crm", prog, traversal...)
	me, _ := e.admin.WhoAmI(ctx)
	prefix := filepath.Join(e.dir, "warehouse", me.Org.ID, "crm") + "/"
	var ours int
	for f := range listFiles(outer) {
		switch {
		case before[f], strings.HasPrefix(f, filepath.Join(e.dir, "lakeport.db")):
		case strings.HasPrefix(f, prefix):
			ours++
		default:
			t.Errorf("the sync wrote %s, outside %s", f, prefix)
		}
	}
	tables, err := e.admin.Tables(ctx)
	if err != nil || len(tables) != len(traversal) || ours == 0 {
		t.Fatalf("%d tables (%v), %d files", len(tables), err, ours)
	}
	if _, err := e.admin.DeleteConnector(ctx, "crm"); err != nil {
		t.Fatal(err)
	}
	for f := range listFiles(outer) {
		if strings.HasPrefix(f, prefix) {
			t.Errorf("delete left %s", f)
		}
	}
}

// TestHostileTraversalNamesS3 is the same in a customer's bucket on versitygw.
func TestHostileTraversalNamesS3(t *testing.T) {
	prog := testSource(t)
	e := newHostileEnv(t, func(c *config.Config) { c.Sources.Allow = []string{"exec:" + prog} })
	ctx := context.Background()
	srv := s3test.Shared(t)
	ak, sk := s3test.RandomKey("hos"), s3test.RandomKey("secret")
	srv.CreateUser(t, ak, sk)
	bucket := srv.NewBucket(t, "hostile")
	srv.ChangeBucketOwner(t, bucket, ak)
	keep := []string{"org_B/billing/keep.parquet", "escaped", "outside/keep"}
	for _, k := range keep {
		if _, err := srv.Client().PutObject(ctx, &s3.PutObjectInput{Bucket: aws.String(bucket), Key: aws.String(k), Body: strings.NewReader("keep")}); err != nil {
			t.Fatal(err)
		}
	}
	if _, err := e.admin.SaveStorage(ctx, storage.Setting{Bucket: bucket, Region: srv.Region, Endpoint: srv.Endpoint, AccessKeyID: ak, SecretAccessKey: sk}); err != nil {
		t.Fatal(err)
	}
	createAndSync(t, e.admin, "crm", prog, traversal...)
	keys := func() []string { return srv.Keys(t, bucket) }
	folders := map[string]bool{}
	for _, k := range keys() {
		if contains(keep, k) {
			continue
		}
		parts := strings.Split(k, "/")
		if parts[0] != "crm" {
			t.Errorf("the sync wrote %s outside crm/", k)
		} else if len(parts) > 2 {
			folders[parts[1]] = true
		}
	}
	for _, n := range traversal {
		if seg, _ := names.Segment(n); !folders[seg] {
			t.Errorf("stream %q has no folder crm/%s/", n, seg)
		}
	}
	if _, err := e.admin.DeleteConnector(ctx, "crm"); err != nil {
		t.Fatal(err)
	}
	if left := keys(); len(left) != len(keep) {
		t.Fatalf("after delete the bucket holds %v, want exactly %v", left, keep)
	}
}

func listFiles(root string) map[string]bool {
	out := map[string]bool{}
	filepath.WalkDir(root, func(p string, d fs.DirEntry, err error) error {
		if err == nil && !d.IsDir() {
			out[p] = true
		}
		return nil
	})
	return out
}

func contains(list []string, s string) bool {
	for _, v := range list {
		if v == s {
			return true
		}
	}
	return false
}

// TestHostileSSRF: an admin's S3-compatible endpoint on loopback (by address,
// by a name that resolves to it), the metadata address or lakeport's own port
// is refused without the operator's network.allow_private, before any
// connection; with it, the loopback S3 server is reached, lakeport itself
// still is not. Open and closed ports read the same.
func TestHostileSSRF(t *testing.T) {
	srv := s3test.Shared(t)
	ak, sk := s3test.RandomKey("ssrf"), s3test.RandomKey("secret")
	srv.CreateUser(t, ak, sk)
	bucket := srv.NewBucket(t, "ssrf")
	srv.ChangeBucketOwner(t, bucket, ak)
	set := func(endpoint string) storage.Setting {
		return storage.Setting{Bucket: bucket, Region: srv.Region, Endpoint: endpoint, AccessKeyID: ak, SecretAccessKey: sk}
	}
	ctx := context.Background()
	failed := func(r validation.Report) validation.Step {
		for _, st := range r.Steps {
			if st.Status == validation.StatusFailed {
				return st
			}
		}
		return validation.Step{}
	}

	deny := newHostileEnv(t, func(c *config.Config) { c.AllowPrivateNetworks = false })
	_, port, _ := net.SplitHostPort(strings.TrimPrefix(srv.Endpoint, "http://"))
	for _, endpoint := range []string{srv.Endpoint, "http://localhost:" + port, "http://[::1]:" + port, "http://169.254.169.254", "http://[::ffff:127.0.0.1]:" + port, deny.url} {
		r, err := deny.admin.TestStorage(ctx, set(endpoint))
		if err != nil {
			t.Fatalf("test %s: %v", endpoint, err)
		}
		if st := failed(r); r.OK || st.Cause != validation.CauseEndpointNotAllowed || !strings.Contains(st.Hint, "network.allow_private") {
			t.Errorf("endpoint %s without allow_private: %+v", endpoint, st)
		}
		_, err = deny.admin.SaveStorage(ctx, set(endpoint))
		wantAPIError(t, "save "+endpoint, err, 422, "validation_failed")
	}
	if srv.ObjectExists(t, bucket, validation.ObjectKey) {
		t.Fatal("a refused endpoint was written to")
	}

	allow := newHostileEnv(t, func(c *config.Config) { c.AllowPrivateNetworks = true })
	for _, endpoint := range []string{srv.Endpoint, "http://localhost:" + port} {
		if r, err := allow.admin.TestStorage(ctx, set(endpoint)); err != nil || !r.OK {
			t.Errorf("endpoint %s with allow_private: %v %+v", endpoint, err, failed(r))
		}
	}
	if r, _ := allow.admin.TestStorage(ctx, set(allow.url)); failed(r).Cause != validation.CauseEndpointNotAllowed {
		t.Errorf("lakeport's own port with allow_private: %+v", failed(r))
	}
	closed, _ := net.Listen("tcp", "127.0.0.1:0")
	closedURL := "http://" + closed.Addr().String()
	closed.Close()
	open, _ := net.Listen("tcp", "127.0.0.1:0")
	defer open.Close()
	go func() {
		for {
			c, err := open.Accept()
			if err != nil {
				return
			}
			c.Write([]byte("SSH-2.0-OpenSSH_9.6\r\n"))
			c.Close()
		}
	}()
	rc, _ := allow.admin.TestStorage(ctx, set(closedURL))
	ro, _ := allow.admin.TestStorage(ctx, set("http://"+open.Addr().String()))
	sc, so := failed(rc), failed(ro)
	if sc.Cause != so.Cause || strings.ReplaceAll(sc.Message, closedURL, "X") != strings.ReplaceAll(so.Message, "http://"+open.Addr().String(), "X") ||
		!strings.Contains(sc.Message, "could not reach the endpoint") {
		t.Errorf("open and closed ports read differently:\n%+v\n%+v", sc, so)
	}
}

// TestHostileConnectorAndScheduleCaps: an organization gets at most the
// operator's number of connectors, and no schedule that runs more often than
// the operator's minimum, cron included.
func TestHostileConnectorAndScheduleCaps(t *testing.T) {
	e := newHostileEnv(t, func(c *config.Config) { c.MaxConnectors = 2; c.MinScheduleInterval = 5 * time.Minute })
	ctx := context.Background()
	for _, n := range []string{"a", "b"} {
		if _, err := e.admin.CreateConnector(ctx, connector.CreateRequest{Name: n, Source: "sample", Config: json.RawMessage(`{}`)}); err != nil {
			t.Fatal(err)
		}
	}
	_, err := e.admin.CreateConnector(ctx, connector.CreateRequest{Name: "c", Source: "sample", Config: json.RawMessage(`{}`)})
	if ce := wantAPIError(t, "third connector", err, 409, "limit_reached"); !strings.Contains(ce.Body.Message, "connectors.max_per_org") {
		t.Errorf("the refusal does not name the setting: %s", ce.Body.Message)
	}
	// Another organization has its own count.
	if _, err := e.operator.CreateConnector(ctx, connector.CreateRequest{Name: "c", Source: "sample", Config: json.RawMessage(`{}`)}); err != nil {
		t.Fatalf("another organization's connector: %v", err)
	}
	for _, spec := range []string{"every 1m", "every 4m59s", "* * * * *", "*/2 * * * *", "0,1 * * * *"} {
		_, err := e.admin.ScheduleConnector(ctx, "a", spec)
		if ce := wantAPIError(t, "schedule "+spec, err, 400, "invalid_input"); !strings.Contains(ce.Body.Message, "connectors.min_schedule_interval") {
			t.Errorf("the refusal of %q does not name the setting: %s", spec, ce.Body.Message)
		}
	}
	for _, spec := range []string{"every 5m", "*/5 * * * *", "hourly", ""} {
		if _, err := e.admin.ScheduleConnector(ctx, "a", spec); err != nil {
			t.Errorf("schedule %q: %v", spec, err)
		}
	}
	if _, err := e.admin.DeleteConnector(ctx, "b"); err != nil {
		t.Fatal(err)
	}
	if _, err := e.admin.CreateConnector(ctx, connector.CreateRequest{Name: "c", Source: "sample", Config: json.RawMessage(`{}`)}); err != nil {
		t.Fatalf("a connector after a delete made room: %v", err)
	}
}
