package athena

import (
	"fmt"
	"slices"
	"strconv"
	"strings"

	"github.com/lakeport/lakeport/query"
)

// This file decides, before anything is sent to AWS, that a query is one
// read-only statement over the organization's own tables, and rewrites its
// table names to the organization's Glue databases.
//
// There is no Trino parser in Go, so the check is a lexer plus a conservative
// walk over the tokens. It never has to understand the whole query; it only
// has to find every place where Trino's grammar reads a relation (a table):
//
//   - after FROM and JOIN, after a comma inside a FROM clause, after TABLE,
//     and as the first item inside parentheses in any of those places.
//
// FROM is taken as a relation keyword everywhere except where Trino's grammar
// makes it part of an expression: IS [NOT] DISTINCT FROM, and directly inside
// EXTRACT(…), SUBSTRING(…) and TRIM(…). Mistaking an expression for a
// relation only refuses a query; the walk errs that way on purpose.
//
// A name in a relation position must be one of:
//
//   - connector.stream of a table in the list: rewritten to the table's Glue
//     database ("<db>"."stream"), or to a de-duplicating subquery for
//     append+dedup streams;
//   - one bare name defined earlier in the query as a WITH name. (Should the
//     name be out of the WITH's scope, Trino resolves it in the query's
//     default database, which is always one of the organization's own.)
//
// Anything else — another organization's table, a table that does not exist,
// information_schema, a catalog-qualified name, a table function, TABLE(…) —
// is refused as "does not exist" (or as not allowed), with the same message
// whether or not such a table exists anywhere. The lexer follows Trino's
// (strings '…' with '', identifiers "…" with "", -- and non-nested /* */
// comments); anything it cannot read exactly as Trino would (backquotes,
// non-ASCII outside strings and quoted names, unterminated strings or
// comments) is refused before it is sent.
//
// Statements: SELECT, WITH … SELECT, VALUES, TABLE, a parenthesized query,
// and EXPLAIN [ANALYZE] of one of those go to Athena. SHOW TABLES, SHOW
// SCHEMAS/DATABASES are answered from the table list itself (Glue would list
// what the list does not hold); DESCRIBE t and SHOW COLUMNS FROM t become a
// SELECT on information_schema.columns the engine writes itself, filtered to
// that one table. No Hive DDL statement is ever sent.

type tokKind int

const (
	tIdent  tokKind = iota // unquoted identifier or keyword
	tQuoted                // "quoted identifier"
	tString                // 'string'
	tNumber
	tPunct
)

type token struct {
	kind       tokKind
	text       string // the identifier (unquoted, "" unescaped) or the raw text
	start, end int    // byte offsets in the SQL
}

func (t token) is(kw string) bool { return t.kind == tIdent && strings.EqualFold(t.text, kw) }
func (t token) punct(p string) bool {
	return t.kind == tPunct && t.text == p
}
func (t token) name() bool { return t.kind == tIdent || t.kind == tQuoted }

// lex splits sql into tokens, skipping whitespace and comments.
func lex(sql string) ([]token, error) {
	var toks []token
	i := 0
	for i < len(sql) {
		c := sql[i]
		switch {
		case c == ' ' || c == '\t' || c == '\n' || c == '\r' || c == '\f' || c == '\v':
			i++
		case c == '-' && i+1 < len(sql) && sql[i+1] == '-':
			for i < len(sql) && sql[i] != '\n' && sql[i] != '\r' {
				i++
			}
		case c == '/' && i+1 < len(sql) && sql[i+1] == '*':
			end := strings.Index(sql[i+2:], "*/")
			if end < 0 {
				return nil, parseError(sql, i, "unterminated comment")
			}
			i += 2 + end + 2
		case c == '\'' || c == '"':
			j := i + 1
			var b strings.Builder
			for {
				if j >= len(sql) {
					what := "string"
					if c == '"' {
						what = "quoted identifier"
					}
					return nil, parseError(sql, i, "unterminated "+what)
				}
				if sql[j] == c {
					if j+1 < len(sql) && sql[j+1] == c {
						b.WriteByte(c)
						j += 2
						continue
					}
					break
				}
				b.WriteByte(sql[j])
				j++
			}
			k := tString
			if c == '"' {
				k = tQuoted
				if b.Len() == 0 {
					return nil, parseError(sql, i, "zero-length delimited identifier")
				}
			}
			toks = append(toks, token{kind: k, text: b.String(), start: i, end: j + 1})
			i = j + 1
		case isIdentStart(c):
			j := i + 1
			for j < len(sql) && isIdentPart(sql[j]) {
				j++
			}
			toks = append(toks, token{kind: tIdent, text: sql[i:j], start: i, end: j})
			i = j
		case isDigit(c) || c == '.' && i+1 < len(sql) && isDigit(sql[i+1]):
			j := i + 1
			for j < len(sql) && (isIdentPart(sql[j]) || sql[j] == '.') {
				if (sql[j] == 'e' || sql[j] == 'E') && j+1 < len(sql) && (sql[j+1] == '+' || sql[j+1] == '-') {
					j++
				}
				j++
			}
			toks = append(toks, token{kind: tNumber, text: sql[i:j], start: i, end: j})
			i = j
		case c >= 0x80 || c < 0x20 || c == '`':
			return nil, parseError(sql, i, fmt.Sprintf("unexpected character %q (names with other characters are written in double quotes)", sql[i:i+1]))
		default:
			n := 1
			if i+1 < len(sql) {
				switch sql[i : i+2] {
				case "<=", ">=", "<>", "!=", "||", "->", "=>":
					n = 2
				}
			}
			toks = append(toks, token{kind: tPunct, text: sql[i : i+n], start: i, end: i + n})
			i += n
		}
	}
	return toks, nil
}

func isIdentStart(c byte) bool { return c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c == '_' }
func isIdentPart(c byte) bool  { return isIdentStart(c) || isDigit(c) }
func isDigit(c byte) bool      { return c >= '0' && c <= '9' }

// plan is what the engine does with one request.
type plan struct {
	// sql is what is sent to Athena; empty for a statement answered locally.
	sql string
	// database is the query's default database (QueryExecutionContext).
	database string
	// local answers the statement without AWS.
	local *localResult
	// edits map positions in sql back to the caller's SQL.
	edits []edit
	// names maps Glue database names back to connector names, for messages.
	names map[string]string
}

// edit is one replaced span: [origStart, origEnd) of the caller's SQL became
// [newStart, newEnd) of the SQL sent.
type edit struct{ origStart, origEnd, newStart, newEnd int }

type localResult struct {
	cols []query.Column
	rows [][]any
}

// scope is one organization's tables, keyed by lower-cased connector.stream.
type scope struct {
	tables map[string]query.Table
	dbs    map[string]string // lower-cased connector → Glue database
	order  []query.Table
}

// planQuery checks sqlText and builds what to send. Errors are
// *query.SQLError (ErrBadSQL or ErrNotReadOnly).
func planQuery(sqlText string, sc scope) (*plan, error) {
	toks, err := lex(sqlText)
	if err != nil {
		return nil, err
	}
	// Trailing semicolons end the one statement; any other is a second one.
	for len(toks) > 0 && toks[len(toks)-1].punct(";") {
		toks = toks[:len(toks)-1]
	}
	if len(toks) == 0 {
		return nil, &query.SQLError{Kind: "Parser", Message: "the query is empty", Err: query.ErrBadSQL}
	}
	for _, t := range toks {
		if t.punct(";") {
			return nil, notReadOnly("more than one statement (send one SELECT)")
		}
	}
	first := toks[0]
	switch {
	case first.is("SELECT"), first.is("WITH"), first.is("VALUES"), first.is("TABLE"), first.punct("("):
	case first.is("EXPLAIN"):
		if err := checkExplain(toks); err != nil {
			return nil, err
		}
	case first.is("SHOW"), first.is("DESCRIBE"):
		return planShow(sqlText, toks, sc)
	case first.kind == tIdent:
		return nil, notReadOnly("a %s statement", strings.ToUpper(first.text))
	default:
		return nil, notReadOnly("this statement")
	}
	return walk(sqlText, toks, sc)
}

// checkExplain allows EXPLAIN [ANALYZE] [VERBOSE] [(option value, …)] in
// front of a query. EXPLAIN ANALYZE runs its statement, which is read-only
// since only a query may follow.
func checkExplain(toks []token) error {
	i := 1
	if i < len(toks) && toks[i].is("ANALYZE") {
		i++
	}
	if i < len(toks) && toks[i].is("VERBOSE") {
		i++
	}
	if i < len(toks) && toks[i].punct("(") {
		i++
		for i < len(toks) && !toks[i].punct(")") {
			if toks[i].kind != tIdent && !toks[i].punct(",") {
				return notReadOnly("EXPLAIN with these options")
			}
			i++
		}
		i++
	}
	if i >= len(toks) {
		return &query.SQLError{Kind: "Parser", Message: "EXPLAIN of nothing: send EXPLAIN SELECT …", Err: query.ErrBadSQL}
	}
	t := toks[i]
	if !t.is("SELECT") && !t.is("WITH") && !t.is("VALUES") && !t.is("TABLE") && !t.punct("(") {
		return notReadOnly("EXPLAIN of a statement other than a query")
	}
	return nil
}

type frame struct {
	fn        string // lower-cased name of the function whose parentheses opened the frame
	fromList  bool   // inside a FROM clause at this level: a comma starts a relation
	sawSelect bool
}

// exprFromFunctions take FROM as part of their arguments.
var exprFromFunctions = map[string]bool{"extract": true, "substring": true, "trim": true}

// relationFollowers may follow a relation without being its alias.
var relationFollowers = map[string]bool{
	"where": true, "join": true, "left": true, "right": true, "full": true, "inner": true,
	"cross": true, "natural": true, "on": true, "using": true, "group": true, "order": true,
	"limit": true, "offset": true, "fetch": true, "union": true, "except": true,
	"intersect": true, "having": true, "window": true, "tablesample": true, "for": true,
	"match_recognize": true, "qualify": true,
}

// fromEnders end a FROM clause. Only Trino's reserved words: a non-reserved
// one (LIMIT, WINDOW, …) could be an alias, and a comma after it would then
// still separate relations.
var fromEnders = map[string]bool{
	"where": true, "group": true, "having": true, "order": true,
	"union": true, "except": true, "intersect": true,
}

// chainStops are reserved words a dotted name never continues with.
var chainStops = map[string]bool{
	"from": true, "join": true, "table": true, "select": true, "with": true,
	"values": true, "lateral": true, "unnest": true, "where": true, "on": true,
}

// walk finds every relation in toks, checks it, and rewrites the SQL.
func walk(sqlText string, toks []token, sc scope) (*plan, error) {
	stack := []frame{{}}
	top := func() *frame { return &stack[len(stack)-1] }
	withNames := map[string]bool{}
	var edits []edit
	var repl []string
	var firstDB string
	expectRel, afterTable := false, false

	for i := 0; i < len(toks); i++ {
		t := toks[i]
		if expectRel || afterTable {
			wasTable := afterTable
			expectRel, afterTable = false, false
			switch {
			case t.is("SELECT") || t.is("WITH") || t.is("VALUES"):
				// a subquery inside parentheses: handled below
			case t.is("TABLE") && !wasTable:
				afterTable = true
				continue
			case t.punct("(") && !wasTable:
				stack = append(stack, frame{fromList: true})
				expectRel = true
				continue
			case (t.is("LATERAL") || t.is("UNNEST")) && !wasTable:
				if i+1 >= len(toks) || !toks[i+1].punct("(") {
					return nil, syntaxError(sqlText, t.start, t.text+" must be followed by (")
				}
				stack = append(stack, frame{fn: strings.ToLower(t.text)})
				i++
				continue
			case t.name():
				parts, end := chain(toks, i)
				if end < len(toks) && toks[end].punct("(") {
					return nil, notReadOnly("the table function %s", joinParts(parts))
				}
				r, db, err := resolve(sqlText, toks, i, end, parts, sc, withNames)
				if err != nil {
					return nil, err
				}
				if r != "" {
					edits = append(edits, edit{origStart: toks[i].start, origEnd: toks[end-1].end})
					repl = append(repl, r)
					if firstDB == "" {
						firstDB = db
					}
				}
				i = end - 1
				continue
			default:
				if wasTable {
					return nil, notReadOnly("TABLE(…) table functions")
				}
				// Not a relation at all: Trino will say what is wrong.
			}
		}
		switch {
		case t.punct("("):
			fn := ""
			if i > 0 && toks[i-1].kind == tIdent {
				fn = strings.ToLower(toks[i-1].text)
			}
			stack = append(stack, frame{fn: fn})
		case t.punct(")"):
			if len(stack) == 1 {
				return nil, syntaxError(sqlText, t.start, "unbalanced parentheses")
			}
			stack = stack[:len(stack)-1]
		case t.punct(","):
			if top().fromList {
				expectRel = true
			}
		case t.is("SELECT"):
			top().sawSelect = true
			top().fromList = false
		case t.is("FROM"):
			f := top()
			if i > 0 && toks[i-1].is("DISTINCT") || exprFromFunctions[f.fn] && !f.sawSelect {
				continue
			}
			f.fromList = true
			expectRel = true
		case t.is("JOIN"):
			top().fromList = true
			expectRel = true
		case t.is("TABLE"):
			afterTable = true
		case t.is("AS") && i+1 < len(toks) && toks[i+1].punct("("):
			// "name AS (" or "name (cols) AS (": a WITH query's name.
			if n := withName(toks, i); n != "" {
				withNames[strings.ToLower(n)] = true
			}
		case t.kind == tIdent && fromEnders[strings.ToLower(t.text)]:
			top().fromList = false
		case t.name():
			// A name in an expression: connector.stream.column gets the
			// table's new qualifier; anything else cannot read a table.
			parts, end := chain(toks, i)
			if len(parts) >= 3 {
				if tb, ok := sc.tables[strings.ToLower(parts[0]+"."+parts[1])]; ok {
					edits = append(edits, edit{origStart: toks[i].start, origEnd: toks[i+2].end})
					repl = append(repl, qualifier(tb, sc))
				}
			}
			i = end - 1
		}
	}
	if expectRel || afterTable {
		return nil, syntaxError(sqlText, len(sqlText), "a table name is missing at the end")
	}
	if len(stack) != 1 {
		return nil, syntaxError(sqlText, len(sqlText), "unbalanced parentheses")
	}
	if firstDB == "" && len(sc.order) > 0 {
		firstDB = sc.dbs[strings.ToLower(sc.order[0].Schema)]
	}
	if firstDB == "" && len(withNames) > 0 {
		// Without a database of the organization's as the default, a WITH
		// name out of scope would resolve in Athena's shared "default".
		return nil, notReadOnly("WITH queries in an organization without tables")
	}
	out, edits := applyEdits(sqlText, toks[len(toks)-1].end, edits, repl)
	return &plan{sql: out, database: firstDB, edits: edits, names: sc.reverse()}, nil
}

// chain reads a dotted name starting at toks[i]; end is the index after it.
func chain(toks []token, i int) (parts []string, end int) {
	parts = []string{toks[i].text}
	end = i + 1
	for end+1 < len(toks) && toks[end].punct(".") && toks[end+1].name() &&
		(toks[end+1].kind == tQuoted || !chainStops[strings.ToLower(toks[end+1].text)]) {
		parts = append(parts, toks[end+1].text)
		end += 2
	}
	return parts, end
}

func joinParts(parts []string) string { return strings.Join(parts, ".") }

// withName finds the name defined before "AS (" at toks[as].
func withName(toks []token, as int) string {
	j := as - 1
	if j < 0 {
		return ""
	}
	if toks[j].punct(")") {
		depth := 0
		for ; j >= 0; j-- {
			if toks[j].punct(")") {
				depth++
			} else if toks[j].punct("(") {
				depth--
				if depth == 0 {
					break
				}
			}
		}
		j--
	}
	if j >= 0 && toks[j].name() && (j == 0 || !toks[j-1].punct(".")) {
		return toks[j].text
	}
	return ""
}

// resolve checks one relation name and returns its replacement ("" to keep
// it) and the Glue database it reads.
func resolve(sqlText string, toks []token, i, end int, parts []string, sc scope, withNames map[string]bool) (string, string, error) {
	switch len(parts) {
	case 1:
		if withNames[strings.ToLower(parts[0])] {
			return "", "", nil
		}
	case 2:
		if tb, ok := sc.tables[strings.ToLower(parts[0]+"."+parts[1])]; ok {
			db := sc.dbs[strings.ToLower(tb.Schema)]
			src := quoteIdent(db) + "." + quoteIdent(tb.Name)
			if len(tb.PrimaryKey) == 0 {
				return src, db, nil
			}
			body, err := dedupBody(tb, src)
			if err != nil {
				return "", "", err
			}
			if !aliasFollows(toks, end) {
				body += " AS " + quoteIdent(tb.Name)
			}
			return body, db, nil
		}
	}
	return "", "", notExist(sqlText, toks[i].start, parts)
}

// aliasFollows reports whether the relation ending before toks[end] has an alias.
func aliasFollows(toks []token, end int) bool {
	if end >= len(toks) {
		return false
	}
	t := toks[end]
	switch t.kind {
	case tQuoted:
		return true
	case tIdent:
		return t.is("AS") || !relationFollowers[strings.ToLower(t.text)]
	}
	return false
}

// qualifier is how an expression names tb's columns after the rewrite.
func qualifier(tb query.Table, sc scope) string {
	if len(tb.PrimaryKey) > 0 {
		return quoteIdent(tb.Name)
	}
	return quoteIdent(sc.dbs[strings.ToLower(tb.Schema)]) + "." + quoteIdent(tb.Name)
}

// dedupBody is an append+dedup stream as a subquery: one row per primary
// key, the latest by cursor, ties broken by the latest extraction.
func dedupBody(tb query.Table, src string) (string, error) {
	if tb.ArrowSchema == nil {
		return "", fmt.Errorf("athena: table %s: an append+dedup table needs its schema", tb.QualifiedName())
	}
	have := map[string]bool{}
	cols := make([]string, 0, tb.ArrowSchema.NumFields())
	for _, f := range tb.ArrowSchema.Fields() {
		have[strings.ToLower(f.Name)] = true
		cols = append(cols, quoteIdent(f.Name))
	}
	part := make([]string, len(tb.PrimaryKey))
	for i, k := range tb.PrimaryKey {
		if !have[strings.ToLower(k)] {
			return "", fmt.Errorf("athena: table %s: primary key column %q is not in the table", tb.QualifiedName(), k)
		}
		part[i] = quoteIdent(k)
	}
	var order []string
	if tb.Cursor != "" {
		if !have[strings.ToLower(tb.Cursor)] {
			return "", fmt.Errorf("athena: table %s: cursor column %q is not in the table", tb.QualifiedName(), tb.Cursor)
		}
		order = append(order, quoteIdent(tb.Cursor)+" DESC NULLS LAST")
	}
	if have[query.ExtractedAtColumn] && !strings.EqualFold(tb.Cursor, query.ExtractedAtColumn) {
		order = append(order, quoteIdent(query.ExtractedAtColumn)+" DESC NULLS LAST")
	}
	window := "PARTITION BY " + strings.Join(part, ", ")
	if len(order) > 0 {
		window += " ORDER BY " + strings.Join(order, ", ")
	}
	const rn = `"_lakeport_rn"`
	return "(SELECT " + strings.Join(cols, ", ") + " FROM (SELECT *, row_number() OVER (" + window + ") AS " + rn +
		" FROM " + src + ") WHERE " + rn + " = 1)", nil
}

// applyEdits replaces the edited spans. A replaced span's line breaks are
// kept (after the replacement), so Athena's line numbers stay the caller's.
func applyEdits(sqlText string, end int, edits []edit, repl []string) (string, []edit) {
	order := make([]int, len(edits))
	for i := range order {
		order[i] = i
	}
	slices.SortFunc(order, func(a, b int) int { return edits[a].origStart - edits[b].origStart })
	var b strings.Builder
	out := make([]edit, 0, len(edits))
	pos := 0
	for _, k := range order {
		e := edits[k]
		b.WriteString(sqlText[pos:e.origStart])
		e.newStart = b.Len()
		b.WriteString(repl[k])
		b.WriteString(strings.Repeat("\n", strings.Count(sqlText[e.origStart:e.origEnd], "\n")))
		e.newEnd = b.Len()
		out = append(out, e)
		pos = e.origEnd
	}
	b.WriteString(sqlText[pos:end])
	return b.String(), out
}

// origPosition maps a 1-based line and column of the SQL sent back to the
// caller's SQL.
func (p *plan) origPosition(orig string, line, col int) (int, int) {
	off := 0
	for l := 1; l < line; l++ {
		nl := strings.IndexByte(p.sql[off:], '\n')
		if nl < 0 {
			return line, col
		}
		off += nl + 1
	}
	off += col - 1
	delta := 0
	for _, e := range p.edits { // sorted by position
		if off >= e.newEnd {
			delta = e.origEnd - e.newEnd
			continue
		}
		if off >= e.newStart {
			return position(orig, e.origStart)
		}
		break
	}
	return position(orig, off+delta)
}

// position is the 1-based line and column of byte offset off in s.
func position(s string, off int) (line, col int) {
	off = min(max(off, 0), len(s))
	line = 1 + strings.Count(s[:off], "\n")
	return line, off - strings.LastIndexByte(s[:off], '\n')
}

// planShow answers SHOW TABLES/SCHEMAS from the list, and turns DESCRIBE t
// and SHOW COLUMNS FROM t into a query on information_schema.
func planShow(sqlText string, toks []token, sc scope) (*plan, error) {
	words := func(i int, kws ...string) bool {
		if len(toks) != i+len(kws) {
			return false
		}
		for k, kw := range kws {
			if !toks[i+k].is(kw) {
				return false
			}
		}
		return true
	}
	var target int
	switch {
	case words(0, "SHOW", "SCHEMAS"), words(0, "SHOW", "DATABASES"):
		res := &localResult{cols: []query.Column{{Name: "database_name", Type: "varchar"}}}
		seen := map[string]bool{}
		for _, t := range sc.order {
			if !seen[strings.ToLower(t.Schema)] {
				seen[strings.ToLower(t.Schema)] = true
				res.rows = append(res.rows, []any{t.Schema})
			}
		}
		return &plan{local: res}, nil
	case words(0, "SHOW", "TABLES"):
		res := &localResult{cols: []query.Column{{Name: "tab_name", Type: "varchar"}}}
		for _, t := range sc.order {
			res.rows = append(res.rows, []any{t.QualifiedName()})
		}
		return &plan{local: res}, nil
	case len(toks) == 4 && toks[0].is("SHOW") && toks[1].is("TABLES") && (toks[2].is("IN") || toks[2].is("FROM")) && toks[3].name():
		res := &localResult{cols: []query.Column{{Name: "tab_name", Type: "varchar"}}}
		for _, t := range sc.order {
			if strings.EqualFold(t.Schema, toks[3].text) {
				res.rows = append(res.rows, []any{t.Name})
			}
		}
		return &plan{local: res}, nil
	case len(toks) >= 2 && toks[0].is("DESCRIBE") && toks[1].name():
		target = 1
	case len(toks) >= 4 && toks[0].is("SHOW") && toks[1].is("COLUMNS") && (toks[2].is("FROM") || toks[2].is("IN")) && toks[3].name():
		target = 3
	default:
		return nil, &query.SQLError{Kind: "Parser", Message: "Parser Error: this SHOW or DESCRIBE statement is not supported; the engine answers SHOW TABLES [IN connector], SHOW SCHEMAS, DESCRIBE connector.stream and SHOW COLUMNS FROM connector.stream", Err: query.ErrBadSQL}
	}
	parts, end := chain(toks, target)
	if end != len(toks) {
		return nil, syntaxError(sqlText, toks[end].start, "unexpected "+strconv.Quote(toks[end].text)+" after the table name")
	}
	tb, ok := sc.tables[strings.ToLower(joinParts(parts))]
	if len(parts) != 2 || !ok {
		return nil, notExist(sqlText, toks[target].start, parts)
	}
	db := sc.dbs[strings.ToLower(tb.Schema)]
	sql := "SELECT column_name, data_type AS column_type, is_nullable AS \"null\" FROM information_schema.columns WHERE table_schema = " +
		quoteString(strings.ToLower(db)) + " AND table_name = " + quoteString(strings.ToLower(tb.Name)) + " ORDER BY ordinal_position"
	return &plan{sql: sql, database: db, names: sc.reverse()}, nil
}

func (sc scope) reverse() map[string]string {
	m := make(map[string]string, len(sc.dbs))
	for _, t := range sc.order {
		m[sc.dbs[strings.ToLower(t.Schema)]] = t.Schema
	}
	return m
}

// notExist is the one answer for a table that is not the organization's,
// whether or not it exists anywhere.
func notExist(sqlText string, off int, parts []string) error {
	line, col := position(sqlText, off)
	name := parts[len(parts)-1]
	return &query.SQLError{
		Kind:    "Catalog",
		Message: "Catalog Error: Table with name " + name + " does not exist! Tables are named connector.stream." + caret(sqlText, line, col),
		Line:    line, Column: col,
		Err: query.ErrBadSQL,
	}
}

func syntaxError(sqlText string, off int, what string) error {
	line, col := position(sqlText, off)
	return &query.SQLError{Kind: "Parser", Message: "Parser Error: " + what + caret(sqlText, line, col), Line: line, Column: col, Err: query.ErrBadSQL}
}

func parseError(sqlText string, off int, what string) error { return syntaxError(sqlText, off, what) }

// caret shows the line and a caret under the column, DuckDB style.
func caret(sqlText string, line, col int) string {
	lines := strings.Split(sqlText, "\n")
	if line < 1 || line > len(lines) {
		return ""
	}
	prefix := "LINE " + strconv.Itoa(line) + ": "
	return "\n" + prefix + lines[line-1] + "\n" + strings.Repeat(" ", len(prefix)+max(col-1, 0)) + "^"
}

func notReadOnly(format string, args ...any) error {
	what := fmt.Sprintf(format, args...)
	return &query.SQLError{
		Kind:    "Permission",
		Message: "Permission Error: " + what + " is not allowed: the query engine runs one read-only statement (SELECT, WITH … SELECT, VALUES, DESCRIBE, SHOW, EXPLAIN) over the organization's tables",
		Err:     query.ErrNotReadOnly,
	}
}

// quoteIdent quotes a SQL identifier: "a""b".
func quoteIdent(s string) string { return `"` + strings.ReplaceAll(s, `"`, `""`) + `"` }

// quoteString quotes a SQL string literal, doubling single quotes.
func quoteString(s string) string { return "'" + strings.ReplaceAll(s, "'", "''") + "'" }
