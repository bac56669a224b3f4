// Package catalogtest is the conformance suite every catalog backend runs (as
// iceberg-go's catalog/catalogtest and objstore's objtest do): the behaviours lake
// relies on, tried through the backend's own client against a real server or the
// service's wire format.
package catalogtest

import (
	"context"
	"errors"
	"slices"
	"strings"
	"testing"

	"github.com/apache/iceberg-go"
	icecatalog "github.com/apache/iceberg-go/catalog"
	"github.com/apache/iceberg-go/table"

	"github.com/lakeport/lakeport/catalog"
)

// Env is what the suite runs against.
type Env struct {
	// Backend is the backend under test.
	Backend catalog.Backend
	// Warehouse is a root the backend's tables may be written under
	// ("file:///abs/dir" or "s3://bucket/prefix"), reached with Props.
	Warehouse string
	Props     iceberg.Properties
}

// Run runs the suite. Each test uses its own catalog names, so one server may serve
// every test.
func Run(t *testing.T, env Env) {
	t.Run("Kind", func(t *testing.T) { testKind(t, env) })
	t.Run("NamespacesKeepNamesApart", func(t *testing.T) { testNamespacesApart(t, env) })
	t.Run("Namespaces", func(t *testing.T) { testNamespaces(t, env) })
	t.Run("Tables", func(t *testing.T) { testTables(t, env) })
	t.Run("StaleCommitIsConflict", func(t *testing.T) { testStaleCommit(t, env) })
	t.Run("MissingIsNotFound", func(t *testing.T) { testMissing(t, env) })
	t.Run("Reopen", func(t *testing.T) { testReopen(t, env) })
	t.Run("Register", func(t *testing.T) { testRegister(t, env) })
}

var testSchema = iceberg.NewSchema(0,
	iceberg.NestedField{ID: 1, Name: "id", Type: iceberg.PrimitiveTypes.Int64, Required: false},
	iceberg.NestedField{ID: 2, Name: "name", Type: iceberg.PrimitiveTypes.String, Required: false},
)

// open opens the catalog of the lake named name, rooted at env.Warehouse/name.
func open(t *testing.T, env Env, name string) catalog.Catalog {
	t.Helper()
	props := iceberg.Properties{}
	for k, v := range env.Props {
		props[k] = v
	}
	props["warehouse"] = root(env, name)
	c, err := env.Backend.Open(t.Context(), name, props)
	if err != nil {
		t.Fatalf("open catalog %s: %v", name, err)
	}
	t.Cleanup(func() {
		if cl, ok := c.(icecatalog.Closer); ok {
			cl.Close()
		}
	})
	return c
}

func root(env Env, name string) string { return strings.TrimSuffix(env.Warehouse, "/") + "/" + name }

// uniq is a name of the form the shared-catalog backends accept (lower-case letters
// and digits in underscore-separated words), different per test.
func uniq(t *testing.T, base string) string {
	s := strings.ToLower(t.Name())
	var b strings.Builder
	for _, r := range s {
		if r >= 'a' && r <= 'z' || r >= '0' && r <= '9' {
			b.WriteRune(r)
		}
	}
	return base + "_" + b.String()
}

func namespace(t *testing.T, env Env, name, ns string) table.Identifier {
	t.Helper()
	cns, err := env.Backend.Namespace(name, ns)
	if err != nil {
		t.Fatalf("Namespace(%s, %s): %v", name, ns, err)
	}
	return table.Identifier{cns}
}

func createNamespace(t *testing.T, env Env, c catalog.Catalog, name, ns string) table.Identifier {
	t.Helper()
	id := namespace(t, env, name, ns)
	if err := c.CreateNamespace(t.Context(), id, iceberg.Properties{"location": root(env, name) + "/" + ns}); err != nil {
		t.Fatalf("create namespace %v: %v", id, err)
	}
	return id
}

func createTable(t *testing.T, env Env, c catalog.Catalog, name, ns, tbl string) (*table.Table, table.Identifier) {
	t.Helper()
	id := append(slices.Clone(namespace(t, env, name, ns)), tbl)
	got, err := c.CreateTable(t.Context(), id, testSchema,
		icecatalog.WithLocation(root(env, name)+"/"+ns+"/"+tbl),
		icecatalog.WithProperties(iceberg.Properties{table.PropertyFormatVersion: "2"}))
	if err != nil {
		t.Fatalf("create table %v: %v", id, err)
	}
	return got, id
}

func testKind(t *testing.T, env Env) {
	k := env.Backend.Kind()
	if !slices.Contains(catalog.Kinds(), k) {
		t.Errorf("kind %q is not registered (registered: %q)", k, catalog.Kinds())
	}
}

// Two lakes (organizations) with a connector of the same name must not share a
// namespace, or one could read the other's tables.
func testNamespacesApart(t *testing.T, env Env) {
	a, b := uniq(t, "orga"), uniq(t, "orgb")
	ca, cb := open(t, env, a), open(t, env, b)
	createNamespace(t, env, ca, a, "crm")
	createNamespace(t, env, cb, b, "crm")
	_, _ = createTable(t, env, ca, a, "crm", "users")
	ids := listTables(t, cb, namespace(t, env, b, "crm"))
	if len(ids) != 0 {
		t.Fatalf("organization %s sees tables %v of %s's namespace of the same name", b, ids, a)
	}
	if _, err := cb.LoadTable(t.Context(), append(namespace(t, env, b, "crm"), "users")); !catalog.IsNotFound(err) {
		t.Fatalf("organization %s loads %s's table: %v", b, a, err)
	}
}

func testNamespaces(t *testing.T, env Env) {
	ctx := t.Context()
	name := uniq(t, "org")
	c := open(t, env, name)
	id := namespace(t, env, name, "crm")
	if ok, err := c.CheckNamespaceExists(ctx, id); err != nil || ok {
		t.Fatalf("namespace exists before it is created: %v, %v", ok, err)
	}
	createNamespace(t, env, c, name, "crm")
	if ok, err := c.CheckNamespaceExists(ctx, id); err != nil || !ok {
		t.Fatalf("created namespace: exists %v, %v", ok, err)
	}
	if err := c.CreateNamespace(ctx, id, nil); !errors.Is(err, icecatalog.ErrNamespaceAlreadyExists) {
		t.Errorf("creating it again: %v, want ErrNamespaceAlreadyExists", err)
	}
	props, err := c.LoadNamespaceProperties(ctx, id)
	if err != nil || props["location"] != root(env, name)+"/crm" {
		t.Errorf("namespace properties %v, %v; want location %s/crm", props, err, root(env, name))
	}
	if err := c.DropNamespace(ctx, id); err != nil {
		t.Fatal(err)
	}
	if ok, err := c.CheckNamespaceExists(ctx, id); err != nil || ok {
		t.Errorf("dropped namespace: exists %v, %v", ok, err)
	}
}

func listTables(t *testing.T, c catalog.Catalog, ns table.Identifier) []string {
	t.Helper()
	var out []string
	for id, err := range c.ListTables(t.Context(), ns) {
		if err != nil {
			t.Fatalf("list tables of %v: %v", ns, err)
		}
		out = append(out, icecatalog.TableNameFromIdent(id))
	}
	slices.Sort(out)
	return out
}

func testTables(t *testing.T, env Env) {
	ctx := t.Context()
	name := uniq(t, "org")
	c := open(t, env, name)
	ns := createNamespace(t, env, c, name, "crm")
	tbl, id := createTable(t, env, c, name, "crm", "users")
	createTable(t, env, c, name, "crm", "orders")
	if !strings.HasPrefix(tbl.MetadataLocation(), root(env, name)+"/crm/users/metadata/") {
		t.Errorf("metadata at %s, want under %s/crm/users/metadata/", tbl.MetadataLocation(), root(env, name))
	}
	if _, err := c.CreateTable(ctx, id, testSchema); !errors.Is(err, icecatalog.ErrTableAlreadyExists) {
		t.Errorf("creating it again: %v, want ErrTableAlreadyExists", err)
	}
	if got := listTables(t, c, ns); !slices.Equal(got, []string{"orders", "users"}) {
		t.Errorf("tables %q, want orders and users", got)
	}
	if ok, err := c.CheckTableExists(ctx, id); err != nil || !ok {
		t.Errorf("table exists: %v, %v", ok, err)
	}

	// A commit moves the pointer; a fresh load sees it.
	_, loc, err := c.CommitTable(ctx, id, []table.Requirement{table.AssertTableUUID(tbl.Metadata().TableUUID())},
		[]table.Update{table.NewSetPropertiesUpdate(iceberg.Properties{"lakeport.test": "1"})})
	if err != nil {
		t.Fatalf("commit: %v", err)
	}
	again, err := c.LoadTable(ctx, id)
	if err != nil {
		t.Fatal(err)
	}
	if again.MetadataLocation() != loc || again.Properties()["lakeport.test"] != "1" {
		t.Errorf("after the commit the table is at %s with properties %v; want %s with lakeport.test=1",
			again.MetadataLocation(), again.Properties(), loc)
	}

	if err := c.DropTable(ctx, id); err != nil {
		t.Fatal(err)
	}
	if _, err := c.LoadTable(ctx, id); !catalog.IsNotFound(err) {
		t.Errorf("dropped table loads: %v", err)
	}
	if got := listTables(t, c, ns); !slices.Equal(got, []string{"orders"}) {
		t.Errorf("after the drop, tables %q", got)
	}
}

// A commit whose requirements no longer hold (another writer moved the table) fails
// with table.ErrCommitFailed, the one sentinel lake's retry loop knows.
func testStaleCommit(t *testing.T, env Env) {
	ctx := t.Context()
	name := uniq(t, "org")
	c := open(t, env, name)
	createNamespace(t, env, c, name, "crm")
	tbl, id := createTable(t, env, c, name, "crm", "users")
	schemaID := tbl.Metadata().CurrentSchema().ID

	wider := iceberg.NewSchema(schemaID+1, append(testSchema.Fields(),
		iceberg.NestedField{ID: 3, Name: "email", Type: iceberg.PrimitiveTypes.String})...)
	_, _, err := c.CommitTable(ctx, id, []table.Requirement{table.AssertCurrentSchemaID(schemaID)},
		[]table.Update{table.NewAddSchemaUpdate(wider), table.NewSetCurrentSchemaUpdate(-1)})
	if err != nil {
		t.Fatalf("first commit: %v", err)
	}
	_, _, err = c.CommitTable(ctx, id, []table.Requirement{table.AssertCurrentSchemaID(schemaID)},
		[]table.Update{table.NewSetPropertiesUpdate(iceberg.Properties{"stale": "yes"})})
	if !errors.Is(err, table.ErrCommitFailed) {
		t.Fatalf("commit on a stale schema: %v, want table.ErrCommitFailed", err)
	}
	got, err := c.LoadTable(ctx, id)
	if err != nil {
		t.Fatal(err)
	}
	if got.Properties()["stale"] != "" {
		t.Error("the refused commit landed")
	}
}

func testMissing(t *testing.T, env Env) {
	ctx := t.Context()
	name := uniq(t, "org")
	c := open(t, env, name)
	missingNS := namespace(t, env, name, "nothere")
	if _, err := c.LoadTable(ctx, append(slices.Clone(missingNS), "t")); !catalog.IsNotFound(err) {
		t.Errorf("table in a missing namespace: %v, want not found", err)
	}
	var listErr error
	for _, err := range c.ListTables(ctx, missingNS) {
		if err != nil {
			listErr = err
			break
		}
	}
	if listErr != nil && !catalog.IsNotFound(listErr) {
		t.Errorf("listing a missing namespace: %v, want not found or nothing", listErr)
	}
	createNamespace(t, env, c, name, "crm")
	if _, err := c.LoadTable(ctx, append(namespace(t, env, name, "crm"), "nothere")); !catalog.IsNotFound(err) {
		t.Errorf("missing table: %v, want not found", err)
	}
	if err := c.DropTable(ctx, append(namespace(t, env, name, "crm"), "nothere")); !catalog.IsNotFound(err) {
		t.Errorf("dropping a missing table: %v, want not found", err)
	}
}

// Reopen is what lake's SetProps does with renewed credentials: a second Open of the
// same name sees the same tables.
func testReopen(t *testing.T, env Env) {
	name := uniq(t, "org")
	c := open(t, env, name)
	createNamespace(t, env, c, name, "crm")
	_, id := createTable(t, env, c, name, "crm", "users")
	again := open(t, env, name)
	if _, err := again.LoadTable(context.WithoutCancel(t.Context()), id); err != nil {
		t.Fatalf("the reopened catalog does not find the table: %v", err)
	}
}

// Register is how a migrated table takes its new place: the catalog forgets the table
// and registers it again at an existing metadata file.
func testRegister(t *testing.T, env Env) {
	ctx := t.Context()
	name := uniq(t, "org")
	c := open(t, env, name)
	createNamespace(t, env, c, name, "crm")
	tbl, id := createTable(t, env, c, name, "crm", "users")
	_, loc, err := c.CommitTable(ctx, id, nil, []table.Update{table.NewSetPropertiesUpdate(iceberg.Properties{"lakeport.test": "before"})})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := c.RegisterTable(ctx, id, tbl.MetadataLocation()); !errors.Is(err, icecatalog.ErrTableAlreadyExists) {
		t.Fatalf("registering over an existing table: %v, want ErrTableAlreadyExists", err)
	}
	if err := c.DropTable(ctx, id); err != nil {
		t.Fatal(err)
	}
	got, err := c.RegisterTable(ctx, id, loc)
	if err != nil {
		t.Fatalf("register at %s: %v", loc, err)
	}
	if got.MetadataLocation() != loc || got.Properties()["lakeport.test"] != "before" {
		t.Fatalf("registered table at %s with %v, want %s", got.MetadataLocation(), got.Properties(), loc)
	}
	again, err := c.LoadTable(ctx, id)
	if err != nil || again.MetadataLocation() != loc {
		t.Fatalf("load after register: %v, %v", again, err)
	}
	// Commits go on from the registered metadata.
	if _, _, err := c.CommitTable(ctx, id, []table.Requirement{table.AssertTableUUID(again.Metadata().TableUUID())},
		[]table.Update{table.NewSetPropertiesUpdate(iceberg.Properties{"lakeport.test": "after"})}); err != nil {
		t.Fatalf("commit after register: %v", err)
	}
}
