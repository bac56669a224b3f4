package web_test

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/chromedp/chromedp"

	"github.com/lakeport/lakeport/api"
	"github.com/lakeport/lakeport/client"
	"github.com/lakeport/lakeport/s3test"
	"github.com/lakeport/lakeport/store"
	"github.com/lakeport/lakeport/web"
)

// chromiumPath is Debian's chromium, which the browser tests drive.
const chromiumPath = "/usr/bin/chromium"

// newChrome starts a headless Chromium with a fresh profile and returns its context.
// Without Chromium the test fails: CI must install it.
func newChrome(t *testing.T) context.Context {
	t.Helper()
	if _, err := os.Stat(chromiumPath); err != nil {
		t.Fatalf("the browser tests need Chromium at %s: install it with `apt-get install -y chromium` (%v)", chromiumPath, err)
	}
	opts := []chromedp.ExecAllocatorOption{
		chromedp.ExecPath(chromiumPath),
		chromedp.Headless,
		chromedp.NoSandbox,
		chromedp.DisableGPU,
		chromedp.NoFirstRun,
		chromedp.NoDefaultBrowserCheck,
		chromedp.Flag("disable-background-networking", true),
		chromedp.Flag("disable-component-update", true),
		chromedp.Flag("disable-sync", true),
		chromedp.Flag("disable-dev-shm-usage", true),
		chromedp.UserDataDir(t.TempDir()),
		chromedp.WindowSize(1280, 900),
	}
	actx, cancelAlloc := chromedp.NewExecAllocator(context.Background(), opts...)
	ctx, cancelCtx := chromedp.NewContext(actx, chromedp.WithErrorf(t.Logf))
	t.Cleanup(func() { cancelCtx(); cancelAlloc() })
	// The first call starts the browser; it must have no deadline of its own.
	if err := chromedp.Do(ctx); err != nil {
		t.Fatalf("start Chromium (%s): %v", chromiumPath, err)
	}
	return ctx
}

// shots saves full-page screenshots: to web/testdata/screenshots when
// LAKEPORT_SCREENSHOTS is set, else to the test's temporary dir.
type shots struct {
	t   *testing.T
	dir string
	n   int
}

func newShots(t *testing.T) *shots {
	dir := t.TempDir()
	if os.Getenv("LAKEPORT_SCREENSHOTS") != "" {
		dir = filepath.Join("testdata", "screenshots")
		if err := os.MkdirAll(dir, 0o755); err != nil {
			t.Fatal(err)
		}
	}
	return &shots{t: t, dir: dir}
}

func (s *shots) take(name string) chromedp.Action[chromedp.Void] {
	return chromedp.Func(func(ctx context.Context, t *chromedp.Target) error {
		buf, err := chromedp.FullScreenshot(100)(ctx, t)
		if err != nil {
			return err
		}
		s.n++
		path := filepath.Join(s.dir, fmt.Sprintf("%02d-%s.png", s.n, name))
		s.t.Logf("screenshot %s", path)
		return os.WriteFile(path, buf, 0o644)
	})
}

func TestBrowserStorageConnectorSyncQuery(t *testing.T) {
	st := startStack(t)
	ctx := newChrome(t)
	shot := newShots(t)
	if _, err := web.CreateUser(context.Background(), st.Store, st.Org.ID, "ann", "correct horse battery", store.RoleAdmin); err != nil {
		t.Fatal(err)
	}
	s3 := s3test.Shared(t)
	ak, sk := s3test.RandomKey("web"), s3test.RandomKey("secret")
	s3.CreateUser(t, ak, sk)
	bucket := s3.NewBucket(t, "web")
	s3.ChangeBucketOwner(t, bucket, ak)
	missing := "lakeport-missing-" + strings.ToLower(s3test.RandomKey(""))

	// step runs actions with a time limit and fails the test with the page shown.
	step := func(name string, actions ...chromedp.Action[chromedp.Void]) {
		t.Helper()
		start := time.Now()
		sctx, cancel := context.WithTimeout(ctx, 90*time.Second)
		defer cancel()
		if err := chromedp.Do(sctx, actions...); err != nil {
			html, _ := chromedp.Run(ctx, chromedp.OuterHTML(chromedp.CSS("main")))
			t.Fatalf("%s: %v\npage:\n%s", name, err, html)
		}
		t.Logf("%s: %v", name, time.Since(start).Round(time.Millisecond))
	}
	// read returns a value from the page.
	text := func(sel string) string {
		t.Helper()
		v, err := chromedp.Run(ctx, chromedp.Text(chromedp.CSS(sel)))
		if err != nil {
			t.Fatalf("read %s: %v", sel, err)
		}
		return v
	}
	count := func(sel string) int {
		t.Helper()
		n, err := chromedp.Run(ctx, chromedp.Evaluate[int](fmt.Sprintf("document.querySelectorAll(%q).length", sel)))
		if err != nil {
			t.Fatalf("count %s: %v", sel, err)
		}
		return n
	}

	poll := func(expr string, timeout time.Duration) chromedp.Action[chromedp.Void] {
		return chromedp.Poll[chromedp.Void](expr, chromedp.WithPollingTimeout(timeout), chromedp.WithPollingInterval(50*time.Millisecond))
	}
	css := func(sel string) chromedp.CSS { return chromedp.CSS(sel) }
	// setValue sets a field's value as a paste would, with an input event.
	setValue := func(sel, v string) chromedp.Action[chromedp.Void] {
		return chromedp.Evaluate[chromedp.Void](fmt.Sprintf(`(() => { const e = document.querySelector(%q); e.value = %q; e.dispatchEvent(new Event("input", {bubbles: true})); })()`, sel, v))
	}

	step("sign in with user name and password",
		chromedp.Navigate(st.URL+"/settings/storage"),
		chromedp.WaitVisible(css("#username")),
		shot.take("signin"),
		chromedp.SendKeys(css("#org"), "default"),
		chromedp.SendKeys(css("#username"), "ann"),
		chromedp.SendKeys(css("#password"), "correct horse battery"),
		chromedp.Click(css("#signin-password button[type=submit]")),
		chromedp.WaitVisible(css("#storage-form")),
	)

	step("fill Data Storage with a bucket that does not exist, test it",
		chromedp.Click(css(`input[name=mode][value=customer_hosted]`)),
		chromedp.WaitVisible(css("#bucket")),
		chromedp.SendKeys(css("#bucket"), missing),
		setValue("#region", s3.Region),
		chromedp.Click(css("#compat summary")),
		chromedp.SendKeys(css("#endpoint"), s3.Endpoint),
		chromedp.SendKeys(css("#access_key_id"), ak),
		chromedp.SendKeys(css("#secret_access_key"), sk),
		// The policies fill in with the typed bucket.
		poll(fmt.Sprintf(`document.querySelector("#perm-policy").textContent.includes(%q)`, "arn:aws:s3:::"+missing), 10*time.Second),
		chromedp.Click(css("#test-btn")),
		chromedp.WaitVisible(css("#report-summary.bad")),
		shot.take("storage-test-failed"),
	)
	failed := text("#report-steps .step.failed")
	t.Logf("the failing step as shown: %s", strings.Join(strings.Fields(failed), " "))
	if !strings.Contains(strings.ToLower(failed), "bucket") || !strings.Contains(failed, "What to check") {
		t.Fatalf("the failing step does not name its cause and what to check:\n%s", failed)
	}
	if disabled, err := chromedp.Run(ctx, chromedp.JavascriptAttribute[bool](css("#save-btn"), "disabled")); err != nil || !disabled {
		t.Fatalf("Save is enabled after a failing test (%v)", err)
	}
	// Each row shows its step's final status and time, filled in as the step finished.
	for name, want := range map[string]string{"/check_inputs": "passed", "platform/head_bucket": "failed", "platform/put_object": "skipped", "workers/put_object": "skipped"} {
		row := fmt.Sprintf(`#report-steps .step[data-step=%q]`, name)
		if got, took := text(row+" .badge"), text(row+" .time"); got != want || took == "" {
			t.Fatalf("step %s shows %q in %q, want %s with its time", name, got, took, want)
		}
	}

	step("fix the bucket and test again",
		setValue("#bucket", ""),
		chromedp.SendKeys(css("#bucket"), bucket),
		chromedp.Click(css("#test-btn")),
		chromedp.WaitVisible(css("#report-summary.ok")),
		chromedp.WaitEnabled(css("#save-btn")),
		shot.take("storage-test-passed"),
	)
	if n := count("#report-steps .step.passed"); n < 6 {
		t.Fatalf("%d steps passed, want at least 6", n)
	}
	step("a changed value disables Save; the tested values enable it again; save",
		chromedp.SendKeys(css("#bucket"), "x"),
		poll(`document.querySelector("#save-btn").disabled`, 5*time.Second),
		chromedp.SendKeys(css("#bucket"), "\b"),
		chromedp.WaitEnabled(css("#save-btn")),
		chromedp.Click(css("#save-btn")),
		chromedp.WaitVisible(css(".flash")),
		shot.take("storage-saved"),
	)
	if cur := text("#current-storage"); !strings.Contains(cur, bucket) {
		t.Fatalf("after Save the current storage is %q, want s3://%s", cur, bucket)
	}

	step("create a sample connector",
		chromedp.Navigate(st.URL+"/connectors"),
		chromedp.WaitVisible(css("main h1")),
		shot.take("connectors-empty"),
		chromedp.Navigate(st.URL+"/connectors/new?source=sample"),
		chromedp.WaitVisible(css("#name")),
		setValue("#name", "crm"),
		setValue("#f-events", "20000"),
		setValue("#f-state_every", "500"),
		chromedp.Click(css("#discover-btn")),
		chromedp.WaitEnabled(css("#create-btn")),
		shot.take("connector-new"),
		chromedp.Click(css("#create-btn")),
		chromedp.WaitVisible(css("#sync-btn")),
	)
	if flash := text(".flash"); !strings.Contains(flash, "s3://"+bucket) {
		t.Fatalf("the new connector does not write to the saved bucket: %q", flash)
	}

	step("sync it and watch progress reach 100%",
		chromedp.Click(css("#sync-btn")),
		chromedp.WaitVisible(css("#run-bar")),
		poll(`document.querySelector("#run-percent").textContent.trim() === "100%" || document.querySelector("#run-status").textContent === "failed"`, 2*time.Minute),
		shot.take("sync-done"),
	)
	if status := text("#run-status"); status != "succeeded" {
		t.Fatalf("the sync ended %s: %s", status, text("#run-error"))
	}
	if n := count("#run-streams tr"); n != 3 {
		t.Fatalf("%d stream rows after the sync, want 3", n)
	}

	const groupSQL = "SELECT status, count(*) AS invoices FROM crm.invoices GROUP BY status ORDER BY status"
	step("run a query and see the rows and a chart",
		chromedp.Navigate(st.URL+"/query"),
		chromedp.WaitVisible(css("#sql")),
		setValue("#sql", groupSQL),
		chromedp.Click(css("#run-query")),
		chromedp.WaitVisible(css("#result tbody tr")),
		chromedp.WaitVisible(css("#chart svg")),
		shot.take("query"),
	)
	// The page shows exactly what the API answers for the same SQL.
	want, err := client.New(st.URL, st.AdminToken).Query(context.Background(), api.QueryRequest{SQL: groupSQL})
	if err != nil || len(want.Rows) == 0 {
		t.Fatalf("the same query over the API: %v (%d rows)", err, len(want.Rows))
	}
	for _, row := range want.Rows {
		if st := fmt.Sprint(row[0]); st != "draft" && st != "open" && st != "paid" && st != "void" && st != "uncollectible" {
			t.Fatalf("the grouped query answers status %q, which is not an invoice status: the query path read the wrong column", st)
		}
	}
	if n, status := count("#result tbody tr"), text("#query-status"); n != min(len(want.Rows), 50) || !strings.Contains(status, fmt.Sprintf("%d row", len(want.Rows))) {
		t.Fatalf("query result: %d rows shown, status %q; the API answers %d rows", n, status, len(want.Rows))
	}
	if first := text("#result tbody tr"); !strings.Contains(first, fmt.Sprint(want.Rows[0][0])) || !strings.Contains(first, fmt.Sprint(want.Rows[0][1])) {
		t.Fatalf("first row shown %q, the API answers %v", first, want.Rows[0])
	}

	step("page through a larger result",
		setValue("#sql", "SELECT id, amount_due FROM crm.invoices ORDER BY id"),
		chromedp.Click(css("#run-query")),
		poll(`document.querySelector("#page-info").textContent.startsWith("rows 1–50 of")`, 20*time.Second),
		chromedp.Click(css("#next")),
		poll(`document.querySelector("#page-info").textContent.startsWith("rows 51–100")`, 5*time.Second),
	)

	step("connector list, run history and delete confirmation",
		chromedp.Navigate(st.URL+"/connectors"),
		chromedp.WaitVisible(css("table.list")),
		shot.take("connectors"),
		chromedp.Navigate(st.URL+"/connectors/crm"),
		chromedp.WaitVisible(css("#sync-btn")),
		shot.take("connector"),
		chromedp.Navigate(st.URL+"/connectors/crm/delete"),
		chromedp.WaitVisible(css("#confirm")),
		shot.take("connector-delete"),
	)
	removes := text(".removes")
	for _, want := range []string{"crm.invoices", "crm.customers", "crm.events", "s3://" + bucket + "/crm/"} {
		if !strings.Contains(removes, want) {
			t.Errorf("the delete confirmation does not name %s:\n%s", want, removes)
		}
	}

	step("back to managed storage: the connector is listed until its setup is re-run",
		chromedp.Navigate(st.URL+"/settings/storage"),
		chromedp.Click(css(`input[name=mode][value=managed]`)),
		chromedp.WaitVisible(css("#use-managed-btn")),
		chromedp.Click(css("#use-managed-btn")),
		chromedp.WaitVisible(css(`#stale button[aria-label="Re-run setup of crm"]`)),
		shot.take("storage-previous"),
		chromedp.Click(css(`#stale button[aria-label="Re-run setup of crm"]`)),
		chromedp.WaitNotPresent(css("#stale table")),
		chromedp.WaitVisible(css(".flash")),
	)
	if flash := text(".flash"); !strings.Contains(flash, "crm now writes to file://") {
		t.Fatalf("after Re-run setup: %q", flash)
	}
}
