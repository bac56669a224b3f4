package athena

import (
	"errors"
	"strings"
	"testing"

	"github.com/apache/arrow-go/v18/arrow"

	"github.com/lakeport/lakeport/query"
)

func testScope() scope {
	tables := []query.Table{
		{Schema: "shop", Name: "orders"},
		{Schema: "shop", Name: "customers", PrimaryKey: []string{"id"}, ArrowSchema: arrow.NewSchema([]arrow.Field{
			{Name: "id", Type: arrow.PrimitiveTypes.Int64}, {Name: "name", Type: arrow.BinaryTypes.String},
		}, nil)},
	}
	sc := scope{tables: map[string]query.Table{}, dbs: map[string]string{"shop": "lakeport_org_a__shop"}, order: tables}
	for _, t := range tables {
		sc.tables[strings.ToLower(t.QualifiedName())] = t
	}
	return sc
}

// TestAccepted: read-only queries over the organization's tables pass, with
// the expected rewrite.
func TestAccepted(t *testing.T) {
	for _, c := range []struct{ sql, want string }{
		{`SELECT 1`, `SELECT 1`},
		{`VALUES (1, 'a')`, `VALUES (1, 'a')`},
		{`select * from Shop.Orders;`, `select * from "lakeport_org_a__shop"."orders"`},
		{`WITH big AS (SELECT * FROM shop.orders) SELECT count(*) FROM big`, `WITH big AS (SELECT * FROM "lakeport_org_a__shop"."orders") SELECT count(*) FROM big`},
		{`WITH t(a) AS (SELECT 1) SELECT * FROM t`, `WITH t(a) AS (SELECT 1) SELECT * FROM t`},
		{`SELECT extract(year FROM o.at), trim(BOTH 'x' FROM o.s) FROM shop.orders o`, ``},
		{`SELECT * FROM shop.orders o WHERE o.a IS DISTINCT FROM o.b`, ``},
		{`SELECT o.payload.id FROM shop.orders AS o`, ``},
		{`SELECT * FROM shop.orders CROSS JOIN UNNEST(tags) AS t(tag)`, ``},
		{`SELECT 'FROM other.secret' FROM shop.orders`, ``},
		{`SELECT "from" FROM shop.orders`, ``},
		{`SELECT c.name FROM shop.customers c`, `SELECT c.name FROM (SELECT "id", "name" FROM (SELECT *, row_number() OVER (PARTITION BY "id") AS "_lakeport_rn" FROM "lakeport_org_a__shop"."customers") WHERE "_lakeport_rn" = 1) c`},
		{`SELECT customers.name FROM shop.customers WHERE shop.customers.id = 1`, ``},
		{`EXPLAIN (FORMAT JSON) SELECT * FROM shop.orders`, `EXPLAIN (FORMAT JSON) SELECT * FROM "lakeport_org_a__shop"."orders"`},
		{`(SELECT 1) UNION (TABLE shop.orders)`, `(SELECT 1) UNION (TABLE "lakeport_org_a__shop"."orders")`},
	} {
		p, err := planQuery(c.sql, testScope())
		if err != nil {
			t.Errorf("%s: %v", c.sql, err)
			continue
		}
		if c.want != "" && p.sql != c.want {
			t.Errorf("%s:\n got %s\nwant %s", c.sql, p.sql, c.want)
		}
		if p.database != "lakeport_org_a__shop" && p.local == nil {
			t.Errorf("%s: default database %q", c.sql, p.database)
		}
	}
	p, _ := planQuery(`SELECT * FROM shop.customers WHERE shop.customers.id = 1`, testScope())
	if !strings.HasSuffix(p.sql, `AS "customers" WHERE "customers".id = 1`) {
		t.Errorf("dedup table without alias: %s", p.sql)
	}
}

// FuzzPlan: whatever the SQL, planning never panics, refuses only with the
// query package's client errors, and every relation of an accepted query
// is one of the organization's Glue tables (or a WITH name): re-planning
// the SQL to be sent, with only those Glue tables allowed, accepts it.
func FuzzPlan(f *testing.F) {
	for _, s := range []string{
		`SELECT * FROM shop.orders`,
		`SELECT * FROM shop.customers c JOIN shop.orders o ON c.id = o.id, other.secret`,
		`WITH x AS (SELECT 1) SELECT * FROM x`,
		`SELECT extract(year FROM a) FROM shop.orders`,
		`SELECT * FROM (shop.orders)`,
		`EXPLAIN ANALYZE SELECT 1`,
		`DESCRIBE shop.orders`,
		`SELECT 1; SELECT 2`,
		`SELECT * FROM other/**/.secret`,
	} {
		f.Add(s)
	}
	sc := testScope()
	glue := scope{tables: map[string]query.Table{}, dbs: map[string]string{}}
	for _, t := range sc.order {
		g := query.Table{Schema: "lakeport_org_a__shop", Name: t.Name}
		glue.tables[strings.ToLower(g.QualifiedName())] = g
		glue.dbs["lakeport_org_a__shop"] = "lakeport_org_a__shop"
		glue.order = append(glue.order, g)
	}
	f.Fuzz(func(t *testing.T, sql string) {
		p, err := planQuery(sql, sc)
		if err != nil {
			var se *query.SQLError
			if !errors.As(err, &se) && !strings.HasPrefix(err.Error(), "athena: table") {
				t.Fatalf("%q: error %v is not a *query.SQLError", sql, err)
			}
			return
		}
		if p.local != nil || strings.Contains(p.sql, "information_schema.columns WHERE table_schema = 'lakeport_org_a__shop'") {
			return
		}
		if _, err := planQuery(p.sql, glue); err != nil {
			t.Fatalf("%q was sent as %q, which names a table outside the organization's: %v", sql, p.sql, err)
		}
	})
}
